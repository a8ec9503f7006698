/**
 * A SegmentStorage that delegates to LocalSegmentStorage and fails chosen fsyncs with EIO, the way
 * Linux reports a failed writeback (once). No syncfs path, so checkpoints fsync file by file.
 */
import path from 'node:path';
import { LocalSegmentStorage } from '../../src/storage/local-segment-storage.js';
import type { SegmentFile, SegmentFileStat, SegmentRewrite, SegmentStorage } from '../../src/storage/segment-storage.js';

export function eio(what: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`EIO: i/o error, ${what}`), { code: 'EIO', errno: -5, syscall: 'fdatasync' });
}

export class FailingStorage implements SegmentStorage {
  private readonly inner: LocalSegmentStorage;
  /** fsyncs of segment files still to fail (each failure consumes one). */
  failSyncs = 0;
  /** Segment fsyncs that failed so far. */
  failedSyncs = 0;
  /** Segment fsyncs that succeeded so far. */
  syncs = 0;

  constructor(dataDir: string) {
    this.inner = new LocalSegmentStorage(path.join(dataDir, 'log'), 64);
  }

  get root(): string {
    return this.inner.root;
  }
  get openCount(): number {
    return this.inner.openCount;
  }
  get syncFileSystemPath(): null {
    return null;
  }
  makeDirectory(dir: string): Promise<void> {
    return this.inner.makeDirectory(dir);
  }
  list(dir: string): Promise<string[]> {
    return this.inner.list(dir);
  }
  removeDirectory(dir: string): Promise<void> {
    return this.inner.removeDirectory(dir);
  }
  syncDirectory(dir: string): Promise<void> {
    return this.inner.syncDirectory(dir);
  }
  async open(file: string, create: boolean): Promise<SegmentFile> {
    const lease = await this.inner.open(file, create);
    const wrapper: SegmentFile = {
      read: (length, position, into) => lease.read(length, position, into),
      write: (buffers, position) => lease.write(buffers, position),
      sync: async () => {
        if (this.failSyncs > 0) {
          this.failSyncs--;
          this.failedSyncs++;
          throw eio(`fdatasync '${file}'`);
        }
        await lease.sync();
        this.syncs++;
      },
      release: () => lease.release(),
    };
    return wrapper;
  }
  stat(file: string): Promise<SegmentFileStat | null> {
    return this.inner.stat(file);
  }
  truncate(file: string, bytes: number): Promise<void> {
    return this.inner.truncate(file, bytes);
  }
  remove(file: string): Promise<void> {
    return this.inner.remove(file);
  }
  forget(file: string): void {
    this.inner.forget(file);
  }
  rewrite(file: string, temporaryPath: string): Promise<SegmentRewrite> {
    return this.inner.rewrite(file, temporaryPath);
  }
  readWhole(file: string): Promise<Buffer | null> {
    return this.inner.readWhole(file);
  }
  writeWhole(file: string, data: Buffer | string, options?: { syncMetadata?: boolean }): Promise<void> {
    return this.inner.writeWhole(file, data, options);
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}

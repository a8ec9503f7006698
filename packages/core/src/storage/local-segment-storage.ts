/**
 * SegmentStorage on the local file system: the descriptor cache (FileCache, bounded by
 * openFilesMax) and the raw-descriptor calls in fs-async — the engine's own syscalls, unchanged.
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import { FileCache, type FileLease } from './file-cache.js';
import { fdatasync, fsyncDirectory, isErrno, readAt, readAtNow, writeAllAt } from './fs-async.js';
import type { Logger } from '../logger.js';
import type { SegmentFile, SegmentFileStat, SegmentRewrite, SegmentStorage, SegmentWrite } from './segment-storage.js';
import { SegmentWriteThread } from './segment-write-thread.js';

export class LocalSegmentStorage implements SegmentStorage {
  private readonly files: FileCache;
  /** Takes `writeSmall`'s writes (started on the first). */
  readonly writeThread: SegmentWriteThread;

  constructor(
    readonly root: string,
    openFilesMax: number,
    logger: Logger | null = null,
  ) {
    this.files = new FileCache(openFilesMax);
    this.writeThread = new SegmentWriteThread(logger);
  }

  get syncFileSystemPath(): string {
    return this.root;
  }

  get openCount(): number {
    return this.files.openCount;
  }

  async makeDirectory(dir: string): Promise<void> {
    await fsp.mkdir(dir, { recursive: true });
  }

  async list(dir: string): Promise<string[]> {
    try {
      return await fsp.readdir(dir);
    } catch (error) {
      if (isErrno(error, 'ENOENT')) return [];
      throw error;
    }
  }

  async removeDirectory(dir: string): Promise<void> {
    await fsp.rm(dir, { recursive: true, force: true });
  }

  syncDirectory(dir: string): Promise<void> {
    return fsyncDirectory(dir);
  }

  writeSmall(writes: readonly SegmentWrite[]): Promise<(NodeJS.ErrnoException | null)[]> | null {
    return this.writeThread.usable() ? this.writeThread.write(writes) : null;
  }

  async open(path: string, create: boolean): Promise<SegmentFile> {
    return new LocalSegmentFile(await this.files.acquire(path, create));
  }

  async stat(path: string): Promise<SegmentFileStat | null> {
    try {
      const stat = await fsp.stat(path);
      return { bytes: stat.size, createdAtMs: stat.birthtimeMs > 0 ? stat.birthtimeMs : stat.mtimeMs };
    } catch (error) {
      if (isErrno(error, 'ENOENT')) return null;
      throw error;
    }
  }

  async truncate(path: string, bytes: number): Promise<void> {
    await fsp.truncate(path, bytes);
  }

  async remove(path: string): Promise<void> {
    this.files.retire(path);
    await fsp.rm(path, { force: true });
  }

  forget(path: string): void {
    this.files.retire(path);
  }

  async rewrite(path: string, temporaryPath: string): Promise<SegmentRewrite> {
    const handle = await fsp.open(temporaryPath, 'w');
    return {
      write: async (buffers) => {
        await handle.writev(buffers as Buffer[]);
      },
      sync: () => handle.sync(),
      close: () => handle.close(),
      discard: () => fsp.rm(temporaryPath, { force: true }),
      replace: () => {
        fs.renameSync(temporaryPath, path);
        this.files.retire(path);
      },
    };
  }

  async readWhole(path: string): Promise<Buffer | null> {
    try {
      return await fsp.readFile(path);
    } catch (error) {
      if (isErrno(error, 'ENOENT')) return null;
      throw error;
    }
  }

  async writeWhole(path: string, data: Buffer | string, options: { syncMetadata?: boolean } = {}): Promise<void> {
    const temporary = `${path}.tmp`;
    const handle = await fsp.open(temporary, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_TRUNC, 0o644);
    try {
      await handle.writeFile(data);
      await (options.syncMetadata ? handle.sync() : handle.datasync());
    } finally {
      await handle.close();
    }
    await fsp.rename(temporary, path);
  }

  async close(): Promise<void> {
    await this.writeThread.close();
    await this.files.closeAll();
  }
}

/** A descriptor lease from the cache; methods on the prototype (one small object per use, as before). */
class LocalSegmentFile implements SegmentFile {
  constructor(private readonly lease: FileLease) {}

  read(length: number, position: number, into?: Buffer): Promise<Buffer> {
    return readAt(this.lease.fd, length, position, into);
  }

  readNow(length: number, position: number, into: Buffer): Buffer {
    return readAtNow(this.lease.fd, length, position, into);
  }

  write(buffers: readonly Buffer[], position: number): Promise<void> {
    return writeAllAt(this.lease.fd, buffers, position);
  }

  sync(): Promise<void> {
    return fdatasync(this.lease.fd);
  }

  release(): void {
    this.lease.release();
  }
}

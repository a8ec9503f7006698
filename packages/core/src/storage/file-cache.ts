/**
 * LRU cache of open segment file descriptors, bounded by CoreLimits.openFilesMax: 10,000 partitions
 * must not mean 10,000 open files. A descriptor in use (acquired, not yet released) is never closed;
 * the cache may briefly exceed its maximum while every entry is in use.
 */
import fs from 'node:fs';
import { assert } from '../errors.js';
import { closeFile, openFile } from './fs-async.js';

interface CachedFile {
  readonly path: string;
  fd: number;
  opening: Promise<number> | null;
  users: number;
  /** Unlinked or invalidated: close as soon as the last user releases it. */
  retired: boolean;
}

export interface FileLease {
  readonly fd: number;
  release(): void;
}

export class FileCache {
  private readonly files = new Map<string, CachedFile>(); // insertion order = least recently used first
  private opened = 0;

  constructor(private readonly openFilesMax: number) {
    assert(openFilesMax >= 1, 'openFilesMax >= 1');
  }

  get openCount(): number {
    return this.opened;
  }

  /** Opens (creating when `create`) read-write, or reuses the cached descriptor. */
  async acquire(path: string, create: boolean): Promise<FileLease> {
    let file = this.files.get(path);
    if (file) {
      this.files.delete(path);
      this.files.set(path, file);
    } else {
      file = { path, fd: -1, opening: null, users: 0, retired: false };
      const flags = fs.constants.O_RDWR | (create ? fs.constants.O_CREAT : 0);
      const entry = file;
      entry.opening = openFile(path, flags, 0o644).then(
        (fd) => {
          entry.fd = fd;
          entry.opening = null;
          this.opened++;
          return fd;
        },
        (error: unknown) => {
          if (this.files.get(path) === entry) this.files.delete(path);
          throw error;
        },
      );
      this.files.set(path, file);
    }
    file.users++;
    const current = file;
    try {
      if (current.opening) await current.opening;
    } catch (error) {
      current.users--;
      throw error;
    }
    this.evict();
    let released = false;
    return {
      fd: current.fd,
      release: () => {
        if (released) return;
        released = true;
        current.users--;
        if (current.users === 0 && current.retired) this.closeEntry(current);
        else this.evict();
      },
    };
  }

  /** The file was deleted or truncated away: forget it (close once unused). */
  retire(path: string): void {
    const file = this.files.get(path);
    if (!file) return;
    this.files.delete(path);
    file.retired = true;
    if (file.users === 0 && file.opening === null) this.closeEntry(file);
  }

  async closeAll(): Promise<void> {
    const files = [...this.files.values()];
    this.files.clear();
    for (const file of files) {
      if (file.opening) await file.opening.catch(() => undefined);
      file.retired = true;
      if (file.users === 0) this.closeEntry(file);
    }
  }

  private evict(): void {
    if (this.files.size <= this.openFilesMax) return;
    for (const file of this.files.values()) {
      if (this.files.size <= this.openFilesMax) break;
      if (file.users > 0 || file.opening) continue;
      this.files.delete(file.path);
      this.closeEntry(file);
    }
  }

  private closeEntry(file: CachedFile): void {
    if (file.fd < 0) return;
    const fd = file.fd;
    file.fd = -1;
    this.opened--;
    void closeFile(fd).catch(() => undefined);
  }
}

/**
 * Promise forms of the raw-descriptor fs calls the storage engine uses. Raw descriptors (not
 * FileHandle) because the descriptor cache shares one fd between concurrent readers and the writer.
 */
import fs from 'node:fs';
import { promisify } from 'node:util';

export const openFile = promisify(fs.open) as (path: string, flags: number, mode?: number) => Promise<number>;
export const closeFile = promisify(fs.close) as (fd: number) => Promise<void>;
/** fdatasync(2) in the thread pool (looked up at call time, so that tests can observe it). */
export function fdatasync(fd: number): Promise<void> {
  return new Promise((resolve, reject) => fs.fdatasync(fd, (error) => (error ? reject(error) : resolve())));
}
export const fsyncFile = promisify(fs.fsync) as (fd: number) => Promise<void>;
export const ftruncate = promisify(fs.ftruncate) as (fd: number, length: number) => Promise<void>;

/** Writes every buffer at `position`, looping over short writes. */
export async function writeAllAt(fd: number, buffers: readonly Buffer[], position: number): Promise<void> {
  let pending = buffers.filter((buffer) => buffer.length > 0);
  let at = position;
  while (pending.length > 0) {
    const written = await new Promise<number>((resolve, reject) =>
      fs.writev(fd, pending, at, (error, bytes) => (error ? reject(error) : resolve(bytes))),
    );
    at += written;
    pending = unwritten(pending, written);
  }
}

/** `writeAllAt`, synchronously (the journal's event-loop I/O). */
export function writeAllAtNow(fd: number, buffers: readonly Buffer[], position: number): void {
  let pending = buffers.filter((buffer) => buffer.length > 0);
  let at = position;
  while (pending.length > 0) {
    const written = pending.length === 1 ? fs.writeSync(fd, pending[0]!, 0, pending[0]!.length, at) : fs.writevSync(fd, pending, at);
    at += written;
    pending = unwritten(pending, written);
  }
}

/** What is left of `buffers` after a (possibly short) write of `written` bytes. */
function unwritten(buffers: readonly Buffer[], written: number): Buffer[] {
  let skip = written;
  const rest: Buffer[] = [];
  for (const buffer of buffers) {
    if (skip >= buffer.length) {
      skip -= buffer.length;
      continue;
    }
    rest.push(skip > 0 ? buffer.subarray(skip) : buffer);
    skip = 0;
  }
  return rest;
}

/**
 * Reads up to `length` bytes at `position` (into `into` when given, else a fresh buffer); returns the
 * bytes actually there (shorter at end of file).
 */
export async function readAt(fd: number, length: number, position: number, into?: Buffer): Promise<Buffer> {
  if (into && into.length < length) throw new RangeError(`read of ${length} bytes into a buffer of ${into.length}`);
  const buffer = into ?? Buffer.allocUnsafe(length);
  let filled = 0;
  while (filled < length) {
    const bytes = await new Promise<number>((resolve, reject) =>
      fs.read(fd, buffer, filled, length - filled, position + filled, (error, count) => (error ? reject(error) : resolve(count))),
    );
    if (bytes === 0) break;
    filled += bytes;
  }
  return filled === buffer.length ? buffer : buffer.subarray(0, filled);
}

/** `readAt` into `into`, synchronously (see SegmentFile.readNow). */
export function readAtNow(fd: number, length: number, position: number, into: Buffer): Buffer {
  if (into.length < length) throw new RangeError(`read of ${length} bytes into a buffer of ${into.length}`);
  let filled = 0;
  while (filled < length) {
    const bytes = fs.readSync(fd, into, filled, length - filled, position + filled);
    if (bytes === 0) break;
    filled += bytes;
  }
  return filled === into.length ? into : into.subarray(0, filled);
}

/** fsync of a directory, so that file creations, renames and deletions in it are durable. */
export async function fsyncDirectory(path: string): Promise<void> {
  const fd = await openFile(path, fs.constants.O_RDONLY);
  try {
    await fsyncFile(fd);
  } finally {
    await closeFile(fd);
  }
}

export function isErrno(error: unknown, code: string): boolean {
  return typeof error === 'object' && error !== null && (error as { code?: unknown }).code === code;
}

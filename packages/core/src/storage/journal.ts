/**
 * The journal: numbered files `journal/<seq>.jnl`. One writer appends each group commit as one
 * positioned writev; fsync per the policy. A checkpoint finishes the file (an end record) and goes on
 * in the next one; once the checkpoint completed, the files before it are no longer needed: one is
 * recycled as the next spare file, the rest are deleted. Recovery replays the files in order; each
 * file stops at the first record that fails its checks (a torn tail, or a record of a recycled file's
 * earlier life), and replay goes on to the next file only past an end record or a clean end.
 *
 * Why recycling (PostgreSQL's WAL segments, RocksDB's recycle_log_file_num): a group written inside
 * a recycled file overwrites blocks that are allocated and written, so its fdatasync writes data and
 * flushes the device and needs no file-system journal commit; a write that extends a file changes
 * its size and allocates blocks, and on ext4 that commit is shared with every other process's
 * metadata. A fresh file (the first ones after a start) is simply extended by its writes: writing
 * zeros ahead was measured to stall the groups that overlap it (a 4 MiB write and flush every
 * 4 MiB of records: 15-30 ms appends every 0.4 s at 10 MB/s), where plain extending writes cost
 * ~0.3 ms more per fdatasync and no stalls (docs/storage.md).
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { closeFile, fdatasync, fsyncDirectory, ftruncate, openFile, readAt, writeAllAt, writeAllAtNow } from './fs-async.js';
import { JOURNAL_RECORD_HEADER_BYTES, journalEndRecord, journalFileFormat, journalFileTag, parseJournalRecord, type JournalFileFormat, type JournalRecord } from './journal-format.js';
import type { JournalIo } from '../core.js';
import { FsyncFailure } from './fsync-failure.js';

const JOURNAL_SUFFIX = '.jnl';
/**
 * `auto` journal I/O (CoreOptions.journalIo): a group write of this many bytes or more, and the
 * fdatasync of what was written since the last one when it is this large, run in the thread pool.
 * Measured on the development VM: a pool hand-off costs more than a small group's whole write and
 * flush (event-loop fsyncs ran 2,500-2,900/s, pool ones 360-690/s), while a ~1 MB Kafka batch keeps
 * the event loop blocked for milliseconds in which the next requests could be read and staged.
 */
export const JOURNAL_POOL_BYTES_MIN = 256 * 1024;
/** Bytes read per step while replaying. */
const REPLAY_CHUNK_BYTES = 4 * 1024 * 1024;

export function journalFileName(seq: number): string {
  return `${String(seq).padStart(12, '0')}${JOURNAL_SUFFIX}`;
}

export async function listJournalFiles(dir: string): Promise<number[]> {
  const names = await fsp.readdir(dir);
  return names
    .filter((name) => name.endsWith(JOURNAL_SUFFIX) && /^\d+$/.test(name.slice(0, -JOURNAL_SUFFIX.length)))
    .map((name) => Number(name.slice(0, -JOURNAL_SUFFIX.length)))
    .sort((a, b) => a - b);
}

export class JournalFile {
  /** The tag every record of this file carries (journal-format.ts). */
  readonly tag: number;

  private constructor(
    readonly dir: string,
    readonly seq: number,
    readonly io: JournalIo,
    private fd: number,
    /** The file's size when opened: a recycled file's earlier lives (writes below it allocate nothing). */
    readonly recycledBytes: number,
    public position: number,
  ) {
    this.tag = journalFileTag(seq);
  }

  // Plain write + fdatasync per group. (O_DSYNC was tried: one thread-pool trip instead of two, but
  // no faster for group-sized writes on this ext4, and slower for large ones.)
  static async create(dir: string, seq: number, io: JournalIo): Promise<JournalFile> {
    const file = path.join(dir, journalFileName(seq));
    const fd = await openFile(file, fs.constants.O_RDWR | fs.constants.O_CREAT | fs.constants.O_TRUNC, 0o644);
    try {
      await fsyncDirectory(dir); // the new file's name must survive a crash before the first record does
    } catch (error) {
      await closeFile(fd);
      throw new FsyncFailure(`fsync of directory ${dir}`, error);
    }
    return new JournalFile(dir, seq, io, fd, 0, 0);
  }

  /**
   * Renames journal file `fromSeq` (no longer needed: a checkpoint completed after it) to `seq` and
   * opens it for overwriting. Its old records stay behind the new ones; their tag is `fromSeq`'s,
   * so replay never takes them for this file's (and a crash before the rename is durable leaves
   * either name, both harmless: an old journal replays records its segments already hold).
   */
  static async recycle(dir: string, fromSeq: number, seq: number, io: JournalIo): Promise<JournalFile> {
    if (journalFileTag(fromSeq) === journalFileTag(seq)) throw new Error(`journal ${fromSeq} cannot be recycled as ${seq}: same tag`);
    const file = path.join(dir, journalFileName(seq));
    await fsp.rename(path.join(dir, journalFileName(fromSeq)), file);
    await fsyncDirectory(dir).catch((error: unknown) => {
      throw new FsyncFailure(`fsync of directory ${dir}`, error);
    });
    const fd = await openFile(file, fs.constants.O_RDWR);
    let size: number;
    try {
      size = (await fsp.stat(file)).size;
    } catch (error) {
      await closeFile(fd);
      throw error;
    }
    return new JournalFile(dir, seq, io, fd, size, 0);
  }

  /**
   * Claims the next `bytes` of the file for one group's records, synchronously, so that the next
   * group's write can be issued while this one is still on its way.
   */
  reserve(bytes: number): number {
    const start = this.position;
    this.position = start + bytes;
    return start;
  }

  /** Writes one group's records at their reserved position (groups may be in flight together with thread-pool I/O). */
  async writeAt(buffers: readonly Buffer[], position: number): Promise<void> {
    let bytes = 0;
    for (const buffer of buffers) bytes += buffer.length;
    this.unsyncedBytes += bytes;
    if (this.inPool(bytes)) await writeAllAt(this.fd, buffers, position);
    else writeAllAtNow(this.fd, buffers, position);
  }

  /** Bytes written since the last fdatasync began: what the next one flushes (`auto` I/O). */
  private unsyncedBytes = 0;

  private inPool(bytes: number): boolean {
    return this.io === 'thread-pool' || (this.io === 'auto' && bytes >= JOURNAL_POOL_BYTES_MIN);
  }

  /**
   * Ends the file at a rotation: an end record after the last group, made durable (with every
   * group before it, under the interval policy), so that replay goes on to the next file even
   * though a recycled file's old records follow. Does not advance `position`: if the rotation does
   * not happen after all, the next group overwrites the end record. A failed fsync rejects with
   * FsyncFailure (never to be retried: storage-failure.ts).
   */
  async finish(): Promise<void> {
    await this.writeAt([journalEndRecord(this.tag)], this.position);
    try {
      await this.sync();
    } catch (error) {
      throw new FsyncFailure(`fsync of journal ${journalFileName(this.seq)}`, error);
    }
  }

  /** Cuts the file back to `position` after a failed write, so no partial record stays. */
  async truncateTo(position: number): Promise<void> {
    this.position = position;
    await ftruncate(this.fd, position);
  }

  /**
   * True when a group of `bytes` is written on the event loop and its fdatasync may be done by the
   * fsync thread instead (`auto` I/O; storage/fsync-thread.ts).
   */
  syncsInThread(bytes: number): boolean {
    return this.io === 'auto' && !this.inPool(bytes);
  }

  /**
   * Writes one group's records at `position` on the event loop (a group that syncsInThread) and
   * returns the descriptor for the fdatasync the fsync thread does: everything written counts as
   * synced from here.
   */
  writeForThreadSync(buffers: readonly Buffer[], position: number): number {
    writeAllAtNow(this.fd, buffers, position);
    this.unsyncedBytes = 0;
    return this.fd;
  }

  async sync(): Promise<void> {
    const bytes = this.unsyncedBytes;
    this.unsyncedBytes = 0;
    if (this.inPool(bytes)) await fdatasync(this.fd);
    else fs.fdatasyncSync(this.fd);
  }

  async close(): Promise<void> {
    if (this.fd < 0) return;
    const fd = this.fd;
    this.fd = -1;
    await closeFile(fd);
  }
}

/**
 * How a journal file's replay ended: `end`, at its end record (finished at a rotation); `clean`, at
 * the end of the file, or in zeros (files of the first format were preallocated with zeros);
 * `stopped`, at a record that failed its checks: a torn tail, or an earlier life of a recycled
 * file. Replay goes on to the next file only after `end` or `clean`.
 */
export type JournalReplayEnd = 'end' | 'clean' | 'stopped';

/** Reads the file's format from its first bytes (journal-format.ts journalFileFormat). */
export async function readJournalFileFormat(file: string, seq: number): Promise<JournalFileFormat> {
  const fd = await openFile(file, fs.constants.O_RDONLY);
  try {
    return journalFileFormat(await readAt(fd, JOURNAL_RECORD_HEADER_BYTES, 0), seq);
  } finally {
    await closeFile(fd);
  }
}

/**
 * Calls `onRecord` for each valid record of journal file `seq` in order, and says how the file
 * ended (JournalReplayEnd).
 */
export async function replayJournalFile(
  file: string,
  seq: number,
  onRecord: (record: JournalRecord) => Promise<void>,
): Promise<{ end: JournalReplayEnd; records: number; validBytes: number; format: JournalFileFormat }> {
  const fd = await openFile(file, fs.constants.O_RDONLY);
  try {
    const size = (await fsp.stat(file)).size;
    let buffer = await readAt(fd, Math.min(REPLAY_CHUNK_BYTES, size), 0);
    const format = journalFileFormat(buffer, seq);
    let fileOffset = 0;
    let bufferStart = 0;
    let records = 0;
    const ended = async (end: JournalReplayEnd) => {
      // Files of the first format were preallocated: an all-zero remainder is their clean end.
      if (end === 'stopped' && format === 'untagged' && (await isZeroFrom(fd, fileOffset, size))) end = 'clean';
      return { end, records, validBytes: fileOffset, format };
    };
    for (;;) {
      const parsed = parseJournalRecord(buffer, fileOffset - bufferStart, format);
      if (parsed.kind === 'record') {
        await onRecord(parsed.record);
        records++;
        fileOffset += parsed.bytes;
        continue;
      }
      if (parsed.kind === 'end') {
        fileOffset += parsed.bytes;
        return await ended('end');
      }
      if (parsed.kind === 'invalid') return await ended('stopped');
      // need more bytes
      if (fileOffset === size) return await ended('clean');
      if (fileOffset + parsed.bytes > size) return await ended('stopped'); // a record cut short by the end of the file
      const length = Math.max(parsed.bytes, Math.min(REPLAY_CHUNK_BYTES, size - fileOffset));
      buffer = await readAt(fd, length, fileOffset);
      bufferStart = fileOffset;
    }
  } finally {
    await closeFile(fd);
  }
}

const ZERO_CHECK_BYTES = 1024 * 1024;
const ZEROS = Buffer.alloc(ZERO_CHECK_BYTES);

/** True when every byte of the file from `position` to `size` is zero (or there are none). */
async function isZeroFrom(fd: number, position: number, size: number): Promise<boolean> {
  for (let at = position; at < size; ) {
    const chunk = await readAt(fd, Math.min(ZERO_CHECK_BYTES, size - at), at);
    if (chunk.length === 0) return true;
    if (!chunk.equals(ZEROS.subarray(0, chunk.length))) return false;
    at += chunk.length;
  }
  return true;
}

/**
 * The journal: numbered append-only files `journal/<seq>.jnl`. One writer appends each group commit
 * as one positioned writev; fsync per the policy. A checkpoint starts a new file; files older than
 * the last completed checkpoint are deleted. Recovery replays every remaining file in order and
 * stops at the first record that fails its checks (a torn tail).
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { closeFile, fdatasync, fsyncDirectory, ftruncate, openFile, readAt, writeAllAt, writeAllAtNow } from './fs-async.js';
import { parseJournalRecord, type JournalRecord } from './journal-format.js';
import type { JournalIo } from '../core.js';

const JOURNAL_SUFFIX = '.jnl';
/** Bytes read per step while replaying. */
const REPLAY_CHUNK_BYTES = 4 * 1024 * 1024;
/**
 * Zeros written past the records whenever a group's write would extend the file. Later groups then
 * overwrite allocated blocks inside the file's size, so their fdatasync only writes data and
 * flushes the device: it needs no file-system journal commit (an extending write changes the
 * size and allocates blocks, and on ext4 that commit is shared with every other process's metadata
 * changes). Replay reads an all-zero remainder as the clean end of a file.
 */
export const JOURNAL_PREALLOCATE_BYTES = 4 * 1024 * 1024;
const ZEROS = Buffer.alloc(JOURNAL_PREALLOCATE_BYTES);
/** The next zeros are written in the background once the records come this close to their end. */
export const JOURNAL_PREALLOCATE_AHEAD_BYTES = 3 * 1024 * 1024;

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
  /** Bytes the file holds (records and zeros) by completed writes: writes below it need no allocation. */
  private fileEnd = 0;
  /**
   * The extension in flight, if any: a group's own write with zeros after it, or zeros written
   * ahead in the background. A write reaching past `fileEnd` waits for it, so zeros never land on
   * records.
   */
  private extending: Promise<void> | null = null;
  /** Zeros per extension; 0 after an extension failed (no space?): plain appends from then on. */
  private preallocateBytes = JOURNAL_PREALLOCATE_BYTES;
  /** A background extension's fdatasync failed: every later sync fails with it (see extendAhead). */
  private failure: { error: unknown } | null = null;

  private constructor(
    readonly dir: string,
    readonly seq: number,
    readonly io: JournalIo,
    private fd: number,
    /** A second descriptor for the background extensions' writes and fdatasyncs. */
    private aheadFd: number,
    public position: number,
  ) {}

  // Plain write + fdatasync per group. (O_DSYNC was tried: one thread-pool trip instead of two, but
  // no faster for group-sized writes on this ext4, and slower for large ones.)
  static async create(dir: string, seq: number, io: JournalIo): Promise<JournalFile> {
    const file = path.join(dir, journalFileName(seq));
    const fd = await openFile(file, fs.constants.O_RDWR | fs.constants.O_CREAT | fs.constants.O_TRUNC, 0o644);
    let aheadFd: number;
    try {
      aheadFd = await openFile(file, fs.constants.O_RDWR);
      await fsyncDirectory(dir); // the new file's name must survive a crash before the first record does
    } catch (error) {
      await closeFile(fd);
      throw error;
    }
    const journal = new JournalFile(dir, seq, io, fd, aheadFd, 0);
    journal.extendAhead(0); // the first group finds its zeros (or their write) already on the way
    return journal;
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

  /**
   * Writes one group's records at their reserved position. Groups are written in reservation
   * order but may be in flight together (thread-pool I/O). A write inside the zeros is a plain
   * overwrite; one reaching past them first waits for an extension in flight, or else writes
   * zeros after its own records (inline extension, the slow case the background one avoids).
   */
  async writeAt(buffers: readonly Buffer[], position: number): Promise<void> {
    let bytes = 0;
    for (const buffer of buffers) bytes += buffer.length;
    const end = position + bytes;
    while (end > this.fileEnd && this.extending && this.preallocateBytes > 0) await this.extending;
    if (end <= this.fileEnd || this.preallocateBytes === 0) {
      if (this.io === 'event-loop') writeAllAtNow(this.fd, buffers, position);
      else await writeAllAt(this.fd, buffers, position);
      if (this.preallocateBytes === 0) this.fileEnd = Math.max(this.fileEnd, end);
    } else if (this.io === 'event-loop') {
      this.extendInlineNow(buffers, position, end);
    } else {
      await this.track(this.extendInline(buffers, position, end));
    }
    this.extendAhead(end);
  }

  private extendInlineNow(buffers: readonly Buffer[], position: number, end: number): void {
    try {
      writeAllAtNow(this.fd, [...buffers, ZEROS.subarray(0, this.preallocateBytes)], position);
      this.fileEnd = end + this.preallocateBytes;
    } catch {
      // Perhaps only the zeros do not fit: write the records alone, without preallocation.
      this.preallocateBytes = 0;
      fs.ftruncateSync(this.fd, end);
      writeAllAtNow(this.fd, buffers, position);
      this.fileEnd = end;
    }
  }

  private async extendInline(buffers: readonly Buffer[], position: number, end: number): Promise<void> {
    try {
      await writeAllAt(this.fd, [...buffers, ZEROS.subarray(0, this.preallocateBytes)], position);
      this.fileEnd = end + this.preallocateBytes;
    } catch {
      this.preallocateBytes = 0;
      await ftruncate(this.fd, end);
      await writeAllAt(this.fd, buffers, position);
      this.fileEnd = end;
    }
  }

  /**
   * Once the records come within JOURNAL_PREALLOCATE_AHEAD_BYTES of the zeros' end, the next zeros
   * are written and fdatasynced in the thread pool, off the acknowledgement path: otherwise every
   * 4 MiB of journal one group would carry a 4 MiB write and its flush (a latency spike every
   * few hundred milliseconds at 10 MB/s). Through a second descriptor: Linux reports a writeback
   * error to every open file description, so this fdatasync cannot take an error away from the
   * groups' own; a failure here still poisons the file (`sync` fails from then on).
   */
  private extendAhead(end: number): void {
    if (this.extending || this.preallocateBytes === 0 || this.aheadFd < 0) return;
    if (this.fileEnd - end > JOURNAL_PREALLOCATE_AHEAD_BYTES) return;
    const start = this.fileEnd;
    const bytes = this.preallocateBytes;
    const fd = this.aheadFd;
    void this.track(
      (async () => {
        try {
          await writeAllAt(fd, [ZEROS.subarray(0, bytes)], start);
        } catch {
          this.preallocateBytes = 0; // no space for zeros: plain appends from now on
          return;
        }
        try {
          await fdatasync(fd);
        } catch (error) {
          this.failure = { error };
          return;
        }
        if (this.fileEnd === start) this.fileEnd = start + bytes;
      })(),
    );
  }

  /** Makes `work` the extension in flight until it settles; resolves or rejects with it. */
  private track(work: Promise<void>): Promise<void> {
    const settled: Promise<void> = work.then(
      () => this.settleExtending(settled),
      () => this.settleExtending(settled),
    );
    this.extending = settled;
    return work;
  }

  private settleExtending(settled: Promise<void>): void {
    if (this.extending === settled) this.extending = null;
  }

  /** Resolves once no extension is in flight (tests; a spare journal's zeros before it is used). */
  async preallocated(): Promise<void> {
    while (this.extending) await this.extending;
  }

  /** Cuts the file back to `position` after a failed write, so no partial record stays. */
  async truncateTo(position: number): Promise<void> {
    while (this.extending) await this.extending;
    this.position = position;
    this.fileEnd = position;
    await ftruncate(this.fd, position);
  }

  async sync(): Promise<void> {
    if (this.failure) throw this.failure.error;
    if (this.io === 'event-loop') fs.fdatasyncSync(this.fd);
    else await fdatasync(this.fd);
  }

  async close(): Promise<void> {
    if (this.fd < 0) return;
    while (this.extending) await this.extending;
    const fd = this.fd;
    const aheadFd = this.aheadFd;
    this.fd = -1;
    this.aheadFd = -1;
    await closeFile(fd);
    await closeFile(aheadFd);
  }
}

/**
 * Calls `onRecord` for each valid record of one journal file in order. Returns false when the file
 * ended in an invalid record (a torn tail): replay must stop there.
 */
export async function replayJournalFile(file: string, onRecord: (record: JournalRecord) => Promise<void>): Promise<{ complete: boolean; records: number; validBytes: number }> {
  const fd = await openFile(file, fs.constants.O_RDONLY);
  try {
    const size = (await fsp.stat(file)).size;
    let fileOffset = 0;
    let buffer: Buffer = Buffer.alloc(0);
    let bufferStart = 0;
    let records = 0;
    for (;;) {
      const parsed = parseJournalRecord(buffer, fileOffset - bufferStart);
      if (parsed.kind === 'record') {
        await onRecord(parsed.record);
        records++;
        fileOffset += parsed.bytes;
        continue;
      }
      // An all-zero remainder is preallocated space (JOURNAL_PREALLOCATE_BYTES): a clean end.
      if (parsed.kind === 'invalid') return { complete: await isZeroFrom(fd, fileOffset, size), records, validBytes: fileOffset };
      // need more bytes
      if (fileOffset + parsed.bytes > size) {
        return { complete: await isZeroFrom(fd, fileOffset, size), records, validBytes: fileOffset };
      }
      const length = Math.max(parsed.bytes, Math.min(REPLAY_CHUNK_BYTES, size - fileOffset));
      buffer = await readAt(fd, length, fileOffset);
      bufferStart = fileOffset;
    }
  } finally {
    await closeFile(fd);
  }
}

/** True when every byte of the file from `position` to `size` is zero (or there are none). */
async function isZeroFrom(fd: number, position: number, size: number): Promise<boolean> {
  for (let at = position; at < size; ) {
    const chunk = await readAt(fd, Math.min(ZEROS.length, size - at), at);
    if (chunk.length === 0) return true;
    if (!chunk.equals(ZEROS.subarray(0, chunk.length))) return false;
    at += chunk.length;
  }
  return true;
}

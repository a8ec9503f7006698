/**
 * The journal: numbered append-only files `journal/<seq>.jnl`. One writer appends each group commit
 * as one positioned writev; fsync per the policy. A checkpoint starts a new file; files older than
 * the last completed checkpoint are deleted. Recovery replays every remaining file in order and
 * stops at the first record that fails its checks (a torn tail).
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { closeFile, fdatasync, fsyncDirectory, ftruncate, openFile, readAt, writeAllAt } from './fs-async.js';
import { parseJournalRecord, type JournalRecord } from './journal-format.js';

const JOURNAL_SUFFIX = '.jnl';
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
  private constructor(
    readonly dir: string,
    readonly seq: number,
    private fd: number,
    public position: number,
  ) {}

  // Plain write + fdatasync per group. (O_DSYNC was tried: one thread-pool trip instead of two, but
  // no faster for group-sized writes on this ext4, and slower for large ones.)
  static async create(dir: string, seq: number): Promise<JournalFile> {
    const flags = fs.constants.O_RDWR | fs.constants.O_CREAT | fs.constants.O_TRUNC;
    const fd = await openFile(path.join(dir, journalFileName(seq)), flags, 0o644);
    await fsyncDirectory(dir); // the new file's name must survive a crash before the first record does
    return new JournalFile(dir, seq, fd, 0);
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

  async writeAt(buffers: readonly Buffer[], position: number): Promise<void> {
    await writeAllAt(this.fd, buffers, position);
  }

  /** Cuts the file back to `position` after a failed write, so no partial record stays. */
  async truncateTo(position: number): Promise<void> {
    this.position = position;
    await ftruncate(this.fd, position);
  }

  async sync(): Promise<void> {
    await fdatasync(this.fd);
  }

  async close(): Promise<void> {
    if (this.fd < 0) return;
    const fd = this.fd;
    this.fd = -1;
    await closeFile(fd);
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
      if (parsed.kind === 'invalid') return { complete: false, records, validBytes: fileOffset };
      // need more bytes
      if (fileOffset + parsed.bytes > size) {
        return { complete: fileOffset === size, records, validBytes: fileOffset };
      }
      const length = Math.max(parsed.bytes, Math.min(REPLAY_CHUNK_BYTES, size - fileOffset));
      buffer = await readAt(fd, length, fileOffset);
      bufferStart = fileOffset;
    }
  } finally {
    await closeFile(fd);
  }
}

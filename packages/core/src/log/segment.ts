/**
 * One segment of a partition: the file `<baseOffset>.log` holding consecutive record batches, byte
 * for byte as stored, and its in-memory sparse index. Only the last segment of a partition is
 * written; it is sealed on size, age or entry count and deleted whole.
 */
import path from 'node:path';
import type { Entry } from '../core.js';
import { SparseIndex } from './sparse-index.js';
import type { AbortedTransaction, OpenTransactions } from './transaction-state.js';

export const SEGMENT_SUFFIX = '.log';

export function segmentFileName(baseOffset: number): string {
  return `${String(baseOffset).padStart(20, '0')}${SEGMENT_SUFFIX}`;
}

export function parseSegmentFileName(name: string): number | null {
  if (!name.endsWith(SEGMENT_SUFFIX)) return null;
  const digits = name.slice(0, -SEGMENT_SUFFIX.length);
  if (!/^\d{1,20}$/.test(digits)) return null;
  const value = Number(digits);
  return Number.isSafeInteger(value) ? value : null;
}

export class Segment {
  readonly path: string;
  readonly index = new SparseIndex();
  /** Offset after the last batch written (not necessarily acknowledged yet). */
  nextOffset: number;
  /** Bytes written. */
  bytes = 0;
  /** Bytes of acknowledged batches: readers never look past this. */
  committedBytes = 0;
  /** Bytes written to the file; acknowledged batches past it wait in `pending` (memory). */
  writtenBytes = 0;
  /**
   * Acknowledged batches not yet written to the file, in order. They are durable in the journal;
   * the segment flusher writes them in bulk (one write per segment per flush, not per append).
   */
  pending: Entry[] = [];
  pendingBytes = 0;
  /** Bytes written to the file since the flusher's last write-behind fsync of it (segmentSyncBytes). */
  unsyncedBytes = 0;
  entries = 0;
  /** Largest batch maxTimestamp in the segment; -1 when empty. */
  maxTimestamp = -1;
  /** Its index file (`<base>.idx`) is written (or being written). */
  summarized = false;
  /** When the segment was started (age-based roll): clock time of its first append. */
  createdAtMs: number;
  /** Position of the last index point, to place the next one `indexIntervalBytes` later. */
  lastIndexedPosition = -Infinity;
  /**
   * Set when compaction replaced this segment's file (same path, new Segment object): a reader
   * that took a position from this index and then opened the path must start again.
   */
  superseded = false;
  /**
   * SegmentFlusher.bytesWritten when this process wrote the segment's first bytes; -1 when they
   * were written before it started (or by compaction): how recent its bytes are (ReadAheadIo `recent`).
   */
  writtenSince = -1;
  /** Transactions aborted by a marker in this segment (transaction-state.ts); null when none. */
  abortedTransactions: AbortedTransaction[] | null = null;
  /**
   * The partition's open transactions after this segment's last acknowledged batch, for its index
   * file; null while the partition has never seen a transactional batch.
   */
  openTransactionsAtEnd: OpenTransactions | null = null;

  constructor(
    directory: string,
    readonly baseOffset: number,
    createdAtMs: number,
  ) {
    this.path = path.join(directory, segmentFileName(baseOffset));
    this.nextOffset = baseOffset;
    this.createdAtMs = createdAtMs;
  }

  /** Records one batch written at `position` (before `bytes` is advanced). */
  noteBatch(baseOffset: number, lastOffset: number, maxTimestamp: number, size: number, indexIntervalBytes: number): void {
    const position = this.bytes;
    if (position - this.lastIndexedPosition >= indexIntervalBytes) {
      this.index.add(baseOffset, position, this.maxTimestamp);
      this.lastIndexedPosition = position;
    }
    this.bytes = position + size;
    this.nextOffset = lastOffset + 1;
    this.entries++;
    if (maxTimestamp > this.maxTimestamp) this.maxTimestamp = maxTimestamp;
  }
}

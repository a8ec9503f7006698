/**
 * Runs compaction on a partition's sealed segments (the log engine calls `maybeCompact` from its
 * retention timer for topics whose cleanupPolicy includes 'compact').
 *
 *   1. Index: key → latest offset over every acknowledged batch of the partition.
 *   2. For each sealed segment, oldest first: compact its batches (compact-batches.ts) into
 *      `<segment>.compacting`, fsync it, then in one synchronous step (no other JS can interleave:
 *      appends, reads and retention all run on this thread) check the segment is still in the
 *      log, rename the file over the segment and swap in a new Segment object whose index
 *      describes the new file; the old object is marked `superseded` so a reader that computed a
 *      position from its index and then opened the path retries. Then fsync the directory.
 *
 * Offsets are preserved batch for batch, so the segment keeps its base offset and next offset,
 * journal replay and recovery see the same ranges, and subscriptions simply find fewer messages.
 * Only decided data is compacted: segments wholly below the last stable offset, against an index
 * that leaves out aborted and undecided records (compact-batches.ts, "Transactions").
 * Oldest first and stop at the first failure: a tombstone is never dropped while an older
 * segment still holds a value it deleted. Memory: one read chunk plus the key index (keysMax).
 */
import type { Entry } from '../core.js';
import type { Logger } from '../logger.js';
import type { PartitionLog } from '../log/partition-log.js';
import { Segment } from '../log/segment.js';
import { LOG_OVERHEAD_BYTES, readBatchHeader, RECORD_BATCH_HEADER_BYTES } from '../record-batch/index.js';
import type { TailCache } from '../log/tail-cache.js';
import type { SegmentStorage } from '../storage/segment-storage.js';
import {
  CompactionKeyIndex,
  compactBatches,
  COMPACTION_KEYS_MAX_DEFAULT,
  NO_TRANSACTIONS,
  TOMBSTONE_RETENTION_MS_DEFAULT,
  type TransactionView,
} from './compact-batches.js';

/** Bytes of a segment read (and compacted) per step. */
const COMPACTION_READ_CHUNK_BYTES = 4 * 1024 * 1024;
const COMPACTING_SUFFIX = '.compacting';

export interface SegmentCompactorOptions {
  readonly storage: SegmentStorage;
  /** Recent entries served from memory: the compacted range is dropped from it at the swap. */
  readonly tailCache: TailCache;
  readonly indexIntervalBytes: number;
  readonly logger: Logger;
  readonly now: () => number;
  readonly tombstoneRetentionMs?: number;
  readonly keysMax?: number;
}

export interface CompactionStats {
  readonly segmentsRewritten: number;
  readonly messagesRemoved: number;
  readonly bytesBefore: number;
  readonly bytesAfter: number;
}

interface WrittenBatch {
  readonly baseOffset: number;
  readonly lastOffset: number;
  readonly maxTimestamp: number;
  readonly bytes: number;
}

/**
 * A segment's acknowledged batches may sit partly in its file and partly in memory (write-behind:
 * `writtenBytes` of the file, then `pending` entries, durable in the journal meanwhile). Older
 * engine versions have neither field: everything up to committedBytes is in the file.
 */
type SegmentFileState = Segment & { writtenBytes?: number; pending?: readonly Entry[] };

function fileBytes(segment: Segment): number {
  return (segment as SegmentFileState).writtenBytes ?? segment.committedBytes;
}

function pendingEntries(segment: Segment): readonly Entry[] {
  return (segment as SegmentFileState).pending ?? [];
}

/** Fully acknowledged, nothing waiting to be written, no write in flight: safe to rewrite. */
function isSettled(segment: Segment, highWatermark: number): boolean {
  return (
    segment.committedBytes === segment.bytes &&
    fileBytes(segment) === segment.bytes &&
    pendingEntries(segment).length === 0 &&
    segment.nextOffset <= highWatermark
  );
}

/** Reads a segment's acknowledged batches in chunks (file, then pending); yields arrays of whole batches. */
async function* segmentChunks(storage: SegmentStorage, segment: Segment, highWatermark: number): AsyncGenerator<Buffer[]> {
  // Snapshot both parts together: a flush moves entries from pending into the file.
  const end = fileBytes(segment);
  const pending = pendingEntries(segment).slice();
  if (end > 0) {
    const lease = await storage.open(segment.path, false);
    try {
      let position = 0;
      while (position < end) {
        let chunk = await lease.read(Math.min(COMPACTION_READ_CHUNK_BYTES, end - position), position);
        if (chunk.length < RECORD_BATCH_HEADER_BYTES) break;
        const firstTotal = LOG_OVERHEAD_BYTES + chunk.readInt32BE(8);
        if (firstTotal > chunk.length) chunk = await lease.read(firstTotal, position);
        const batches: Buffer[] = [];
        let at = 0;
        let reachedHighWatermark = false;
        while (at + RECORD_BATCH_HEADER_BYTES <= chunk.length) {
          const header = readBatchHeader(chunk, at);
          const total = LOG_OVERHEAD_BYTES + header.batchLength;
          if (at + total > chunk.length) break;
          if (header.baseOffset >= highWatermark) {
            reachedHighWatermark = true;
            break;
          }
          batches.push(chunk.subarray(at, at + total));
          at += total;
        }
        if (batches.length > 0) yield batches;
        if (reachedHighWatermark) return;
        if (at === 0) break;
        position += at;
      }
    } finally {
      lease.release();
    }
  }
  const inMemory = pending.filter((entry) => entry.baseOffset < highWatermark).map((entry) => entry.bytes);
  if (inMemory.length > 0) yield inMemory;
}

export class SegmentCompactor {
  private readonly running = new WeakSet<PartitionLog>();
  /** Per partition: next offset of the newest sealed segment at the last run, and its time. */
  private readonly lastRun = new WeakMap<PartitionLog, { sealedEndOffset: number; atMs: number }>();

  constructor(private readonly options: SegmentCompactorOptions) {}

  private sealedSegments(log: PartitionLog): Segment[] {
    // Everything but the active segment, fully acknowledged, and decided: a segment reaching the
    // last stable offset may hold records of a transaction that can still abort.
    const stableOffset = log.lastStableOffset;
    return log.segments.slice(0, -1).filter((segment) => isSettled(segment, log.highWatermark) && segment.nextOffset <= stableOffset);
  }

  /** The partition's aborted transactions and last stable offset, taken once per pass. */
  private transactionView(log: PartitionLog): TransactionView {
    if (log.transactions === null) return NO_TRANSACTIONS;
    const stableOffset = log.lastStableOffset;
    return { aborted: log.abortedTransactions(0, stableOffset), stableOffset };
  }

  /** Compacts when new sealed segments appeared since the last run, or tombstones may have expired. */
  async maybeCompact(log: PartitionLog): Promise<CompactionStats | null> {
    const sealed = this.sealedSegments(log);
    if (sealed.length === 0 || this.running.has(log)) return null;
    const sealedEndOffset = sealed[sealed.length - 1]!.nextOffset;
    const last = this.lastRun.get(log);
    const tombstoneRetentionMs = this.options.tombstoneRetentionMs ?? TOMBSTONE_RETENTION_MS_DEFAULT;
    const now = this.options.now();
    if (last && last.sealedEndOffset >= sealedEndOffset && now - last.atMs < tombstoneRetentionMs) return null;
    const stats = await this.compact(log);
    this.lastRun.set(log, { sealedEndOffset, atMs: now });
    return stats;
  }

  async compact(log: PartitionLog): Promise<CompactionStats> {
    const { storage, logger } = this.options;
    const stats = { segmentsRewritten: 0, messagesRemoved: 0, bytesBefore: 0, bytesAfter: 0 };
    if (this.running.has(log)) return stats;
    this.running.add(log);
    try {
      await removeLeftovers(storage, log.dir);
      const highWatermark = log.highWatermark;
      const transactions = this.transactionView(log);
      const index = new CompactionKeyIndex(this.options.keysMax ?? COMPACTION_KEYS_MAX_DEFAULT, transactions);
      for (const segment of log.segments.slice()) {
        for await (const batches of segmentChunks(storage, segment, highWatermark)) for (const batch of batches) index.addBatch(batch);
      }
      if (index.full) logger.warn('compaction key index full; this pass removes less', { topic: log.topic, partition: log.partition, keys: index.size });
      for (const segment of this.sealedSegments(log)) {
        if (log.deleted || segment.nextOffset > transactions.stableOffset) break;
        const rewritten = await this.rewriteSegment(log, segment, index, transactions);
        if (rewritten === null) continue;
        stats.segmentsRewritten++;
        stats.messagesRemoved += rewritten.removed;
        stats.bytesBefore += rewritten.bytesBefore;
        stats.bytesAfter += rewritten.bytesAfter;
      }
      if (stats.segmentsRewritten > 0) {
        await storage.syncDirectory(log.dir);
        logger.info('compacted partition', { topic: log.topic, partition: log.partition, ...stats });
      }
      return stats;
    } finally {
      this.running.delete(log);
    }
  }

  /** Returns null when nothing in the segment was superseded (the file stays as it is). */
  private async rewriteSegment(
    log: PartitionLog,
    segment: Segment,
    index: CompactionKeyIndex,
    transactions: TransactionView,
  ): Promise<{ removed: number; bytesBefore: number; bytesAfter: number } | null> {
    const { storage, now } = this.options;
    const temporary = segment.path + COMPACTING_SUFFIX;
    const bytesAtStart = segment.bytes;
    const written: WrittenBatch[] = [];
    let removed = 0;
    let bytesAfter = 0;
    const rewrite = await storage.rewrite(segment.path, temporary);
    try {
      for await (const batches of segmentChunks(storage, segment, log.highWatermark)) {
        const result = compactBatches(batches, index, { nowMs: now(), transactions, ...this.tombstoneOption() });
        removed += result.removedMessages;
        for (const batch of result.batches) {
          const header = readBatchHeader(batch);
          written.push({ baseOffset: header.baseOffset, lastOffset: header.baseOffset + header.lastOffsetDelta, maxTimestamp: header.maxTimestamp, bytes: batch.length });
          bytesAfter += batch.length;
        }
        if (result.batches.length > 0) await rewrite.write(result.batches);
      }
      if (removed > 0) await rewrite.sync();
    } finally {
      await rewrite.close();
    }
    const lastWritten = written[written.length - 1];
    const covers = written.length > 0 && written[0]!.baseOffset === segment.baseOffset && lastWritten!.lastOffset + 1 === segment.nextOffset;
    const position = log.segments.indexOf(segment);
    const unchanged = segment.bytes === bytesAtStart && isSettled(segment, log.highWatermark);
    if (removed === 0 || !covers || !unchanged || position < 0 || position === log.segments.length - 1 || log.deleted) {
      await rewrite.discard();
      return null;
    }
    // The swap: synchronous from here to the end, so no append, read or retention step interleaves.
    const bytesBefore = segment.bytes;
    const replacement = new Segment(log.dir, segment.baseOffset, segment.createdAtMs);
    for (const batch of written) replacement.noteBatch(batch.baseOffset, batch.lastOffset, batch.maxTimestamp, batch.bytes, this.options.indexIntervalBytes);
    replacement.committedBytes = replacement.bytes;
    // Markers stay and rewritten transactional batches keep their producer and offsets: the
    // transaction state at the segment's end and the aborts whose markers it holds are unchanged.
    replacement.abortedTransactions = segment.abortedTransactions;
    replacement.openTransactionsAtEnd = segment.openTransactionsAtEnd;
    if ((segment as SegmentFileState).writtenBytes !== undefined) (replacement as SegmentFileState).writtenBytes = replacement.bytes;
    rewrite.replace();
    log.segments[position] = replacement;
    segment.superseded = true;
    this.options.tailCache.trimBelow(log.tail, segment.nextOffset);
    return { removed, bytesBefore, bytesAfter };
  }

  private tombstoneOption(): { tombstoneRetentionMs?: number } {
    return this.options.tombstoneRetentionMs === undefined ? {} : { tombstoneRetentionMs: this.options.tombstoneRetentionMs };
  }
}

/** `.compacting` files left by a crash mid-compaction: the segment itself is intact. */
async function removeLeftovers(storage: SegmentStorage, dir: string): Promise<void> {
  for (const name of await storage.list(dir).catch(() => [] as string[])) {
    if (name.endsWith(COMPACTING_SUFFIX)) await storage.remove(`${dir}/${name}`);
  }
}

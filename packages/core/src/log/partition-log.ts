/**
 * One partition's log: its segments, offsets, idempotent-producer state, tail-cache run and
 * long-poll waiters. Appends are staged here by the group commit (offsets assigned, segment chosen,
 * undo recorded) and acknowledged after the journal write; reads serve acknowledged entries only.
 */
import path from 'node:path';
import type { Entry, TopicPolicies } from '../core.js';
import { StrataError } from '../errors.js';
import type { Logger } from '../logger.js';
import { decodeRecordBatch } from '../record-batch/decode.js';
import { verifyBatchCrc } from '../record-batch/header.js';
import { isErrno } from '../storage/fs-async.js';
import type { SegmentFile, SegmentStorage } from '../storage/segment-storage.js';
import { JOURNAL_BODY_BYTES_MAX } from '../storage/journal-format.js';
import type { StorageTuning } from '../limits.js';
import {
  batchBaseOffset,
  batchLastOffsetDelta,
  batchMaxTimestamp,
  batchRecordCount,
  batchTotalBytes,
  LOG_OVERHEAD_BYTES,
  OFFSET_MAGIC,
  readBatchFields,
  RECORD_BATCH_HEADER_BYTES,
  RECORD_BATCH_MAGIC,
} from './batch-fields.js';
import { isIdempotent, ProducerStateTable, type ProducerSnapshot } from './producer-state.js';
import { encodeSegmentSummary, indexPathOf, readSegmentSummary, writeSegmentSummary } from './segment-index-file.js';
import type { ReadAhead, ReadChunk } from './read-ahead.js';
import { parseSegmentFileName, Segment } from './segment.js';
import { TailRun } from './tail-cache.js';
import { abortedTransactionsIn, isTransactionalAttributes, PartitionTransactions, type AbortedTransaction } from './transaction-state.js';

const LOG_START_FILE = 'log-start';
/** Bytes read per step when scanning a segment during recovery. */
const SCAN_CHUNK_BYTES = 4 * 1024 * 1024;

export interface PartitionDeps {
  readonly storage: SegmentStorage;
  readonly tuning: StorageTuning;
  readonly logger: Logger;
  readonly now: () => number;
  /** Called when a file in `dir` was created or deleted, or a file was written (checkpoint fsyncs). */
  readonly markDirty: (file: string | null, dir: string) => void;
  /** A segment with unwritten acknowledged batches is going away (retention, topic deletion). */
  readonly dropPending: (segment: Segment) => void;
  readonly readAhead: ReadAhead;
  /** The segment's bytes were written by this process recently enough to be in the page cache. */
  readonly isRecent: (segment: Segment) => boolean;
  /** Storage is in the failed state (storage-failure.ts): no fsync is trusted, no index file written. */
  readonly storageFailed: () => boolean;
  /**
   * Runs a segment fsync outside the checkpointer (StorageFailure.trackSync): a failure enters the
   * failed state, never retried (docs/storage.md "When an fsync fails").
   */
  readonly trackSync: (what: string, sync: () => Promise<void>) => Promise<void>;
}

/** State of a segment before a group touched it, to undo a failed group commit. */
interface SegmentSnapshot {
  readonly bytes: number;
  readonly nextOffset: number;
  readonly entries: number;
  readonly maxTimestamp: number;
  readonly lastIndexedPosition: number;
}

export class PartitionLog {
  readonly segments: Segment[] = [];
  /** Next offset to assign (includes staged, not yet acknowledged batches). */
  nextOffset = 0;
  /** Next offset after the last acknowledged batch: readers see offsets below it only. */
  highWatermark = 0;
  private logStartFloor = 0;
  readonly tail = new TailRun();
  readonly waiters = new Set<() => void>();
  private producerTable: ProducerStateTable | null = null;
  /** Kafka transactions in this partition; null until its first transactional batch. */
  transactions: PartitionTransactions | null = null;
  deleted = false;

  constructor(
    readonly topicId: number,
    readonly topic: string,
    readonly partition: number,
    readonly dir: string,
    private readonly deps: PartitionDeps,
    public policies: TopicPolicies,
  ) {}

  get logStartOffset(): number {
    const first = this.segments[0];
    return Math.max(this.logStartFloor, first ? first.baseOffset : this.logStartFloor);
  }

  get producers(): ProducerStateTable {
    if (!this.producerTable) this.producerTable = new ProducerStateTable(this.deps.tuning.producerBatchesMax, this.deps.tuning.producersPerPartitionMax);
    return this.producerTable;
  }

  /**
   * Follows transactions through one acknowledged (or replayed) batch in `segment`; a null check for
   * partitions that never saw a transactional batch.
   */
  noteTransactions(batch: Buffer, attributes: number, producerId: number, baseOffset: number, segment: Segment): void {
    if (isTransactionalAttributes(attributes)) (this.transactions ??= new PartitionTransactions()).apply(batch, attributes, producerId, baseOffset, segment);
    if (this.transactions !== null) segment.openTransactionsAtEnd = this.transactions.open;
  }

  /** The first offset of the oldest open transaction, else the high watermark (KIP-98). */
  get lastStableOffset(): number {
    return this.transactions === null ? this.highWatermark : this.transactions.lastStableOffset(this.highWatermark, this.logStartOffset);
  }

  /** Aborted transactions a read of [fromOffset, toOffset] must know about (transaction-state.ts); none without transactions. */
  abortedTransactions(fromOffset: number, toOffset: number): AbortedTransaction[] {
    return this.transactions === null ? [] : abortedTransactionsIn(this.segments, fromOffset, toOffset);
  }

  /** The producer table's contents without allocating one for a partition that never had producers. */
  producerSnapshot(): ProducerSnapshot {
    return this.producerTable ? this.producerTable.snapshot() : [];
  }

  get activeSegment(): Segment | undefined {
    return this.segments[this.segments.length - 1];
  }

  get sizeBytes(): number {
    let total = 0;
    for (const segment of this.segments) total += segment.bytes;
    return total;
  }

  // ---------------------------------------------------------------- recovery

  /** Loads the partition from disk: scans every segment, truncates a torn tail, rebuilds indexes. */
  async load(): Promise<void> {
    this.logStartFloor = await readLogStart(this.deps.storage, this.dir);
    // [] when never written: partitions get a directory on their first append
    const names = await this.deps.storage.list(this.dir);
    const bases = names
      .map(parseSegmentFileName)
      .filter((base): base is number => base !== null)
      .sort((a, b) => a - b);
    let expected: number | null = null;
    for (let i = 0; i < bases.length; i++) {
      const base = bases[i]!;
      if (expected !== null && base !== expected) {
        this.deps.logger.warn('segment does not follow its predecessor; dropping it and later ones', { dir: this.dir, base, expected });
        await this.removeSegmentFiles(bases.slice(i));
        break;
      }
      const segment: Segment = new Segment(this.dir, base, this.deps.now());
      if (i < bases.length - 1 && (await this.loadSummary(segment))) {
        this.segments.push(segment);
        expected = segment.nextOffset;
        continue;
      }
      const complete = await this.scanSegment(segment);
      const isLast = i === bases.length - 1 || !complete;
      if (segment.entries === 0 && !isLast) {
        await this.removeSegmentFiles([base]);
        continue;
      }
      this.segments.push(segment);
      expected = segment.nextOffset;
      if (!complete) {
        await this.removeSegmentFiles(bases.slice(i + 1));
        break;
      }
    }
    const active = this.activeSegment;
    this.nextOffset = active ? active.nextOffset : this.logStartFloor;
    if (this.nextOffset < this.logStartFloor) this.nextOffset = this.logStartFloor;
    this.highWatermark = this.nextOffset;
  }

  /**
   * A sealed segment described by a valid index file of exactly its size: taken without reading the
   * segment (its producer state replaces what earlier segments built). False means: scan it.
   */
  private async loadSummary(segment: Segment): Promise<boolean> {
    const summary = await readSegmentSummary(this.deps.storage, segment.path);
    if (!summary) return false;
    const size = await this.deps.storage.stat(segment.path).then((stat) => stat?.bytes ?? -1, () => -1);
    if (size !== summary.bytes || summary.nextOffset < segment.baseOffset) return false;
    for (const [offset, position, maxTimestampBefore] of summary.points) segment.index.add(offset, position, maxTimestampBefore);
    segment.bytes = summary.bytes;
    segment.committedBytes = summary.bytes;
    segment.writtenBytes = summary.bytes;
    segment.nextOffset = summary.nextOffset;
    segment.entries = summary.entries;
    segment.maxTimestamp = summary.maxTimestamp;
    segment.createdAtMs = summary.createdAtMs;
    segment.lastIndexedPosition = summary.lastIndexedPosition;
    segment.summarized = true;
    if (summary.producers.length > 0 || this.producerTable) this.producers.restore(summary.producers);
    if (summary.abortedTransactions !== null && summary.abortedTransactions.length > 0) segment.abortedTransactions = summary.abortedTransactions;
    if (summary.openTransactions !== null) {
      // Replaces what earlier segments built, as the producer state does.
      (this.transactions ??= new PartitionTransactions()).open = new Map(summary.openTransactions);
      segment.openTransactionsAtEnd = this.transactions.open;
    }
    return true;
  }

  /**
   * Writes the index file of a sealed segment once it is wholly acknowledged and in its file:
   * fsync the segment, then the summary (see segment-index-file.ts). Called by the flusher.
   */
  async summarizeSealed(segment: Segment): Promise<void> {
    const position = this.segments.indexOf(segment);
    const next = this.segments[position + 1];
    // Sealed for good: a later segment holds acknowledged data (a roll can no longer be undone).
    if (position < 0 || !next || next.committedBytes === 0 || segment.summarized || segment.superseded) return;
    if (this.deps.storageFailed()) return; // a later fsync's success proves nothing now
    if (segment.writtenBytes !== segment.bytes || segment.committedBytes !== segment.bytes || segment.pending.length > 0) return;
    segment.summarized = true;
    const producers = this.producerTable ? this.producersAt(segment.nextOffset) : [];
    try {
      const file = await this.deps.storage.open(segment.path, false);
      try {
        // This fsync may be the one that reports a failed writeback of pages the checkpoint counts
        // on: the checkpoint's own fsync would then succeed without them.
        await this.deps.trackSync(`fsync of ${segment.path}`, () => file.sync());
      } finally {
        file.release();
      }
      if (this.deleted || !this.segments.includes(segment)) return;
      await writeSegmentSummary(this.deps.storage, segment.path, encodeSegmentSummary(segment, producers));
    } catch (error) {
      segment.summarized = false;
      this.deps.logger.warn('could not write a segment index file; recovery will scan the segment', { file: segment.path, error });
    }
  }

  /** Producer state as of `offset`: batches at or past it are left out. */
  private producersAt(offset: number): ProducerSnapshot {
    const snapshot: ProducerSnapshot = [];
    for (const [id, epoch, batches] of this.producers.snapshot()) {
      const before = batches.filter((batch) => batch.lastOffset < offset);
      if (before.length > 0) snapshot.push([id, epoch, before]);
    }
    return snapshot;
  }

  /** Scans one segment file; returns false when it ended in an invalid batch (truncated away). */
  private async scanSegment(segment: Segment): Promise<boolean> {
    const lease = await this.deps.storage.open(segment.path, false);
    try {
      const stat = await this.deps.storage.stat(segment.path);
      if (!stat) throw Object.assign(new Error(`segment file vanished: ${segment.path}`), { code: 'ENOENT' });
      const size = stat.bytes;
      let position = 0;
      let valid = true;
      while (position < size) {
        const remaining = size - position;
        if (remaining < RECORD_BATCH_HEADER_BYTES) {
          valid = false;
          break;
        }
        const chunk = await lease.read(Math.min(SCAN_CHUNK_BYTES, remaining), position);
        let at = 0;
        let progressed = false;
        while (at + RECORD_BATCH_HEADER_BYTES <= chunk.length) {
          const reason = invalidBatchReason(chunk, at, segment.nextOffset);
          if (reason !== null && reason !== 'partial') {
            valid = false;
            break;
          }
          const total = batchTotalBytes(chunk, at);
          if (reason === 'partial' || at + total > chunk.length) {
            if (position + at + total > size) valid = false;
            break;
          }
          const batch = chunk.subarray(at, at + total);
          if (!verifyBatchCrc(batch)) {
            valid = false;
            break;
          }
          const fields = readBatchFields(batch);
          const baseOffset = segment.nextOffset;
          const lastOffset = baseOffset + fields.lastOffsetDelta;
          segment.noteBatch(baseOffset, lastOffset, fields.maxTimestamp, total, this.deps.tuning.indexIntervalBytes);
          if (isIdempotent(fields)) this.producers.replay(fields, baseOffset, lastOffset);
          this.noteTransactions(batch, fields.attributes, fields.producerId, baseOffset, segment);
          at += total;
          progressed = true;
        }
        if (!valid) {
          position += at;
          break;
        }
        if (!progressed) {
          // A batch larger than the chunk: read it whole.
          const total = batchTotalBytes(chunk, 0);
          if (total > JOURNAL_BODY_BYTES_MAX || position + total > size) {
            valid = false;
            break;
          }
          const whole = await lease.read(total, position);
          if (invalidBatchReason(whole, 0, segment.nextOffset) !== null || !verifyBatchCrc(whole)) {
            valid = false;
            break;
          }
          const fields = readBatchFields(whole);
          const lastOffset = segment.nextOffset + fields.lastOffsetDelta;
          if (isIdempotent(fields)) this.producers.replay(fields, segment.nextOffset, lastOffset);
          this.noteTransactions(whole, fields.attributes, fields.producerId, segment.nextOffset, segment);
          segment.noteBatch(segment.nextOffset, lastOffset, fields.maxTimestamp, total, this.deps.tuning.indexIntervalBytes);
          position += total;
          continue;
        }
        position += at;
      }
      if (!valid || position !== size) {
        this.deps.logger.warn('truncating torn segment tail', { file: segment.path, validBytes: segment.bytes, fileBytes: size });
        await this.deps.storage.truncate(segment.path, segment.bytes);
        this.deps.markDirty(segment.path, this.dir);
      }
      segment.committedBytes = segment.bytes;
      segment.writtenBytes = segment.bytes;
      // Age-based rolling counts from the file's creation (birth time where the filesystem keeps it).
      segment.createdAtMs = Math.min(stat.createdAtMs, this.deps.now());
      return valid;
    } finally {
      lease.release();
    }
  }

  private async removeSegmentFiles(bases: readonly number[]): Promise<void> {
    for (const base of bases) {
      const segment = new Segment(this.dir, base, 0);
      await this.deps.storage.remove(segment.path);
      await this.deps.storage.remove(indexPathOf(segment.path));
    }
    if (bases.length > 0) this.deps.markDirty(null, this.dir);
  }

  // ---------------------------------------------------------------- append (staged by the group commit)

  /** Opens a segment file that exists (ENOENT when retention or a deletion removed it): for fsyncs, never creates. */
  openExisting(segment: Segment): Promise<SegmentFile> {
    return this.deps.storage.open(segment.path, false);
  }

  /**
   * Opens a segment for writing, creating it (and, on a partition's first write, its directory:
   * idle partitions cost no inode) when missing.
   */
  async openForWrite(segment: Segment): Promise<SegmentFile> {
    try {
      return await this.deps.storage.open(segment.path, true);
    } catch (error) {
      if (!isErrno(error, 'ENOENT')) throw error;
      await this.deps.storage.makeDirectory(this.dir);
      this.deps.markDirty(null, path.dirname(this.dir));
      this.deps.markDirty(null, path.dirname(path.dirname(this.dir)));
      return this.deps.storage.open(segment.path, true);
    }
  }

  /**
   * The segment the next batch of `size` bytes goes to, rolling first when the active one is full
   * by size, entry count or age. Returns an undo for a roll.
   */
  segmentFor(size: number, touched: Map<Segment, SegmentSnapshot>, undo: (() => void)[]): Segment {
    const now = this.deps.now();
    let active = this.activeSegment;
    const policies = this.policies;
    const full =
      active !== undefined &&
      active.entries > 0 &&
      (active.bytes + size > policies.segmentBytesMax ||
        active.entries >= policies.segmentEntriesMax ||
        now - active.createdAtMs >= policies.segmentMsMax);
    if (!active || full) {
      const segment = new Segment(this.dir, this.nextOffset, now);
      this.segments.push(segment);
      this.deps.markDirty(null, this.dir);
      undo.push(() => {
        const index = this.segments.indexOf(segment);
        if (index >= 0) this.segments.splice(index, 1);
        void this.deps.storage.remove(segment.path).catch(() => undefined);
      });
      active = segment;
    }
    if (!touched.has(active)) {
      touched.set(active, {
        bytes: active.bytes,
        nextOffset: active.nextOffset,
        entries: active.entries,
        maxTimestamp: active.maxTimestamp,
        lastIndexedPosition: active.lastIndexedPosition,
      });
      const segment = active;
      const snapshot = touched.get(active)!;
      undo.push(() => restoreSegment(segment, snapshot));
    }
    return active;
  }

  // ---------------------------------------------------------------- reads

  /**
   * Acknowledged entries from `offset`; the caller checked the range. Every pooled read-ahead chunk
   * the entries view is pushed to `held` with one reference taken for the caller, who drops them
   * (ReadResult.release) once nothing views the entries' bytes.
   */
  async readEntries(
    offset: number,
    maxBytes: number,
    maxEntries: number,
    useTail: boolean,
    touchTail: () => void,
    held: ReadChunk[],
  ): Promise<Entry[]> {
    const first = this.tail.first();
    if (useTail && first && offset >= first.baseOffset) {
      touchTail();
      return this.readFromTail(offset, maxBytes, maxEntries);
    }
    return this.readFromDisk(offset, maxBytes, maxEntries, held);
  }

  private readFromTail(offset: number, maxBytes: number, maxEntries: number): Entry[] {
    const entries: Entry[] = [];
    let bytes = 0;
    let withRecords = false; // see readFromDisk: until an entry with records is taken, maxBytes does not stop the read
    const run = this.tail;
    for (let i = run.indexFor(offset); i < run.entries.length; i++) {
      const entry = run.entries[i]!;
      if (entries.length > 0 && (entries.length >= maxEntries || (withRecords && bytes + entry.bytes.length > maxBytes))) break;
      entries.push(entry);
      bytes += entry.bytes.length;
      if (!withRecords) withRecords = batchRecordCount(entry.bytes) > 0;
    }
    return entries;
  }

  private findSegmentIndex(offset: number): number {
    let low = 0;
    let high = this.segments.length - 1;
    let found = -1;
    while (low <= high) {
      const middle = (low + high) >>> 1;
      if (this.segments[middle]!.baseOffset <= offset) {
        found = middle;
        low = middle + 1;
      } else {
        high = middle - 1;
      }
    }
    return found;
  }

  private async readFromDisk(offset: number, maxBytes: number, maxEntries: number, held: ReadChunk[]): Promise<Entry[]> {
    const entries: Entry[] = [];
    let bytes = 0;
    const highWatermark = this.highWatermark;
    const segments = this.segments.slice();
    let index = this.findSegmentIndex(offset);
    if (index < 0) index = 0;
    // maxBytes is a soft limit: the first entry is taken whatever its size (KIP-74), and so is every
    // entry up to the first one holding records. Compaction can leave empty batches, and a reader
    // given nothing but those may never get past them: kafkajs resolves no offset for a fetch without
    // records and fetches the same offset again, at once, forever. So the batch after them comes in
    // the same read even when it exceeds maxBytes.
    let withRecords = false;
    const full = (): boolean => (withRecords && bytes >= maxBytes) || entries.length >= maxEntries;
    /** Adds an entry unless the budget is spent; false when the read is complete. */
    const take = (entry: Entry): boolean => {
      if (entry.baseOffset >= highWatermark) return false;
      if (entry.lastOffset < offset) return true;
      if (entries.length > 0 && (entries.length >= maxEntries || (withRecords && bytes + entry.bytes.length > maxBytes))) return false;
      entries.push(entry);
      bytes += entry.bytes.length;
      if (!withRecords) withRecords = batchRecordCount(entry.bytes) > 0;
      return true;
    };
    for (let s = index; s < segments.length; s++) {
      const segment = segments[s]!;
      // Snapshot both parts together: a flush moves entries from `pending` to the file.
      const end = segment.writtenBytes;
      const pending = segment.pending.slice();
      let position = s === index ? Math.min(segment.index.positionForOffset(offset), end) : 0;
      if (position < end) {
        let lease;
        try {
          lease = await this.deps.storage.open(segment.path, false);
        } catch (error) {
          if (isErrno(error, 'ENOENT')) throw outOfRange(this, offset); // deleted by retention meanwhile
          throw error;
        }
        if (segment.superseded) {
          // Compaction swapped the file under us: positions from the old index do not fit the new file.
          lease.release();
          return entries.length > 0 ? entries : this.readFromDisk(offset, maxBytes, maxEntries, held);
        }
        const readAhead = this.deps.readAhead;
        /** The pooled chunk being parsed, retained by this reader until it moves on. */
        let parsing: ReadChunk | null = null;
        try {
          while (position < end) {
            const budget = Math.max(this.deps.tuning.readChunkBytesMin, maxBytes - bytes + this.deps.tuning.indexIntervalBytes);
            const wanted = Math.min(end - position, budget);
            let source = readAhead.find(segment, position);
            // A cached tail too short for one whole batch is no use: read afresh.
            if (source && source.end - position < wanted) {
              const from = position - source.position;
              if (source.bytes.length - from < LOG_OVERHEAD_BYTES || batchTotalBytes(source.bytes, from) > source.bytes.length - from) source = null;
            }
            if (!source) {
              const ahead = Math.min(end - position, Math.max(wanted, readAhead.chunkBytes));
              source = await readAhead.read(lease, position, ahead, this.deps.isRecent(segment));
              if (ahead > wanted) readAhead.put(segment, source);
            }
            readAhead.retain(source);
            parsing = source;
            // The rest of the chunk, not just `wanted` bytes: take() stops at the budget, and a view cut
            // at `wanted` would split the batch that crosses it and cost a read of that batch alone.
            let chunk = source.bytes.subarray(position - source.position);
            if (chunk.length < LOG_OVERHEAD_BYTES) return entries;
            const firstTotal = batchTotalBytes(chunk, 0);
            let pooled: ReadChunk | null = source.pooled ? source : null;
            if (firstTotal > chunk.length) {
              if (entries.length > 0 && withRecords && bytes + firstTotal > maxBytes) return entries; // would not be taken: do not read it
              chunk = await lease.read(firstTotal, position); // one batch larger than the chunk: its own buffer, not pooled
              pooled = null;
            }
            let heldHere = false;
            let at = 0;
            while (at + LOG_OVERHEAD_BYTES <= chunk.length) {
              const total = batchTotalBytes(chunk, at);
              if (at + total > chunk.length) break;
              const baseOffset = batchBaseOffset(chunk, at);
              const entry = { baseOffset, lastOffset: baseOffset + batchLastOffsetDelta(chunk, at), bytes: chunk.subarray(at, at + total) };
              const count = entries.length;
              if (!take(entry)) return entries;
              if (pooled && !heldHere && entries.length > count) {
                // The caller's reference: this chunk may not be reused while the result is in use.
                readAhead.retain(pooled);
                held.push(pooled);
                heldHere = true;
              }
              at += total;
            }
            if (at === 0) return entries; // cannot happen for a well-formed segment; never loop forever
            position += at;
            readAhead.drop(source);
            parsing = null;
            if (full()) return entries;
          }
        } finally {
          if (parsing) readAhead.drop(parsing);
          lease.release();
        }
      }
      for (const entry of pending) if (!take(entry)) return entries;
      if (full()) return entries;
    }
    return entries;
  }

  /** First offset whose timestamp is >= timestampMs (Kafka ListOffsets by time). */
  async offsetForTimestamp(timestampMs: number): Promise<{ offset: number; timestamp: number } | null> {
    const logStart = this.logStartOffset;
    const highWatermark = this.highWatermark;
    const inBatch = (batch: Buffer): { offset: number; timestamp: number } | null => {
      if (batchMaxTimestamp(batch) < timestampMs) return null;
      for (const message of decodeRecordBatch(batch).messages) {
        if (message.timestamp >= timestampMs && message.offset >= logStart && message.offset < highWatermark) {
          return { offset: message.offset, timestamp: message.timestamp };
        }
      }
      return null;
    };
    for (const segment of this.segments.slice()) {
      if (segment.maxTimestamp < timestampMs || segment.committedBytes === 0) continue;
      const end = segment.writtenBytes;
      const pending = segment.pending.slice();
      let position = Math.min(segment.index.positionForTimestamp(timestampMs), end);
      const lease =
        position < end
          ? await this.deps.storage.open(segment.path, false).catch((error: unknown) => {
              if (isErrno(error, 'ENOENT')) return null;
              throw error;
            })
          : null;
      if (lease && segment.superseded) {
        lease.release(); // compacted meanwhile: look again with the new segment objects
        return this.offsetForTimestamp(timestampMs);
      }
      if (lease) {
        try {
          while (position < end) {
            let chunk = await lease.read(Math.min(end - position, this.deps.tuning.readChunkBytesMin), position);
            if (chunk.length < LOG_OVERHEAD_BYTES) break;
            const firstTotal = batchTotalBytes(chunk, 0);
            if (firstTotal > chunk.length) chunk = await lease.read(firstTotal, position);
            let at = 0;
            while (at + LOG_OVERHEAD_BYTES <= chunk.length) {
              const total = batchTotalBytes(chunk, at);
              if (at + total > chunk.length) break;
              const batch = chunk.subarray(at, at + total);
              if (batchBaseOffset(batch) >= highWatermark) return null;
              const found = inBatch(batch);
              if (found) return found;
              at += total;
            }
            if (at === 0) break;
            position += at;
          }
        } finally {
          lease.release();
        }
      }
      for (const entry of pending) {
        if (entry.baseOffset >= highWatermark) return null;
        const found = inBatch(entry.bytes);
        if (found) return found;
      }
    }
    return null;
  }

  // ---------------------------------------------------------------- log start, retention

  async setLogStart(offset: number): Promise<void> {
    if (offset <= this.logStartFloor) return;
    this.logStartFloor = offset;
    await writeLogStart(this.deps.storage, this.dir, offset);
  }

  /**
   * Deletes whole sealed segments from the head while `shouldDelete(segment, sizeAfter)` says so.
   * The active segment is rolled first when it is itself deletable and non-empty, so a partition's
   * next offset is always named by a (possibly empty) segment file.
   */
  async deleteHeadSegments(shouldDelete: (segment: Segment, bytesAfter: number) => boolean, mayRollActive: boolean): Promise<number> {
    let deleted = 0;
    let bytes = this.sizeBytes;
    for (;;) {
      const first = this.segments[0];
      if (!first) break;
      const isActive = this.segments.length === 1;
      if (!shouldDelete(first, bytes - first.bytes)) break;
      if (isActive) {
        // Only roll an idle, fully acknowledged active segment: the group commit owns a busy one.
        if (!mayRollActive || first.entries === 0 || this.nextOffset !== this.highWatermark) break;
        const next = new Segment(this.dir, this.nextOffset, this.deps.now());
        const lease = await this.openForWrite(next);
        lease.release();
        if (this.segments.length !== 1 || this.nextOffset !== next.baseOffset) break; // raced with an append
        this.segments.push(next);
      }
      this.segments.shift();
      this.deps.dropPending(first);
      this.deps.readAhead.forget(first);
      bytes -= first.bytes;
      await this.deps.storage.remove(first.path);
      await this.deps.storage.remove(indexPathOf(first.path));
      deleted++;
    }
    if (deleted > 0) this.deps.markDirty(null, this.dir);
    return deleted;
  }

  wake(): void {
    if (this.waiters.size === 0) return;
    const waiters = [...this.waiters];
    this.waiters.clear();
    for (const waiter of waiters) waiter();
  }

  async destroy(): Promise<void> {
    this.deleted = true;
    for (const segment of this.segments) {
      this.deps.dropPending(segment);
      this.deps.readAhead.forget(segment);
      this.deps.storage.forget(segment.path);
    }
    this.segments.length = 0;
    await this.deps.storage.removeDirectory(this.dir);
    this.wake();
  }
}

function restoreSegment(segment: Segment, snapshot: SegmentSnapshot): void {
  segment.bytes = snapshot.bytes;
  segment.nextOffset = snapshot.nextOffset;
  segment.entries = snapshot.entries;
  segment.maxTimestamp = snapshot.maxTimestamp;
  segment.lastIndexedPosition = snapshot.lastIndexedPosition;
  segment.index.truncateToPosition(snapshot.bytes);
}

/** Why the bytes at `at` are not the batch expected at `expectedOffset`; 'partial' if the header is cut. */
function invalidBatchReason(chunk: Buffer, at: number, expectedOffset: number): string | null {
  if (chunk.length - at < RECORD_BATCH_HEADER_BYTES) return 'partial';
  if (chunk.readInt8(at + OFFSET_MAGIC) !== RECORD_BATCH_MAGIC) return 'magic';
  const total = batchTotalBytes(chunk, at);
  if (total < RECORD_BATCH_HEADER_BYTES || total > JOURNAL_BODY_BYTES_MAX) return 'length';
  if (batchBaseOffset(chunk, at) !== expectedOffset) return 'base offset';
  if (batchLastOffsetDelta(chunk, at) < 0) return 'last offset delta';
  return null;
}

export function outOfRange(log: PartitionLog, offset: number): StrataError {
  return new StrataError(
    'OFFSET_OUT_OF_RANGE',
    `offset ${offset} is outside [${log.logStartOffset}, ${log.highWatermark}] of ${log.topic}-${log.partition}`,
  );
}

async function readLogStart(storage: SegmentStorage, dir: string): Promise<number> {
  const data = await storage.readWhole(path.join(dir, LOG_START_FILE));
  if (data === null) return 0;
  const value = Number(data.toString('utf8').trim());
  return Number.isSafeInteger(value) && value >= 0 ? value : 0;
}

/** Durable before it returns: write a temporary file, fsync, rename, fsync the directory. */
async function writeLogStart(storage: SegmentStorage, dir: string, offset: number): Promise<void> {
  await storage.makeDirectory(dir);
  await storage.writeWhole(path.join(dir, LOG_START_FILE), `${offset}\n`, { syncMetadata: true });
  await storage.syncDirectory(dir);
}

export type { SegmentSnapshot };

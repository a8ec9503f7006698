/**
 * The one write path of the store (design brief §4 "Write path"): appends from every partition queue
 * here; the committer takes as many as fit in one group, assigns offsets in queue order, writes the
 * whole group to the journal in one writev and fsyncs it once, and only then acknowledges every append of the group. While one group is on its
 * way to disk the next one gathers, so concurrency turns into batching, not into more fsyncs.
 *
 * Segment files are written after acknowledgement, in bulk, by the SegmentFlusher: the journal
 * alone makes an append durable. A failed journal write (ENOSPC, EIO) is cut back out of the file
 * and the staged offsets and producer state are undone, so the log never holds an unacknowledged
 * gap; the appends fail with STORAGE_FULL (retriable) or STORAGE_ERROR and later groups are tried
 * afresh.
 */
import type { AppendResult, FsyncPolicy } from '../core.js';
import { StrataError } from '../errors.js';
import type { CoreLimits } from '../core.js';
import type { Logger } from '../logger.js';
import type { StorageTuning } from '../limits.js';
import { setBaseOffset } from '../record-batch/header.js';
import { JOURNAL_RECORD_HEADER_BYTES, writeJournalRecord } from '../storage/journal-format.js';
import type { JournalFile } from '../storage/journal.js';
import type { BatchFields } from './batch-fields.js';
import type { PartitionLog, SegmentSnapshot } from './partition-log.js';
import { isIdempotent, type ProducerBatch } from './producer-state.js';
import type { Segment } from './segment.js';

export interface AppendRequest {
  readonly log: PartitionLog;
  /** Owned copies of the batches (base offsets are patched in place). */
  readonly batches: readonly Buffer[];
  readonly fields: readonly BatchFields[];
  readonly bytes: number;
  readonly resolve: (result: AppendResult) => void;
  readonly reject: (error: unknown) => void;
  // Set while staging:
  baseOffset: number;
  lastOffset: number;
  duplicate: boolean;
  /** The segment each batch was staged into. */
  segments: Segment[];
}

export interface CommitterDeps {
  readonly limits: CoreLimits;
  readonly tuning: StorageTuning;
  readonly fsync: FsyncPolicy;
  readonly logger: Logger;
  readonly now: () => number;
  readonly journal: () => JournalFile;
  /** After each group: the owner may checkpoint (rotate the journal) here, between groups. */
  readonly betweenGroups: () => Promise<void>;
  /** Acknowledged appends of one group, in order (tail cache, listeners, waiters). */
  readonly onCommitted: (requests: readonly AppendRequest[]) => void;
}

export function storageError(error: unknown, what: string): StrataError {
  const code = (error as { code?: unknown } | null)?.code;
  if (code === 'ENOSPC' || code === 'EDQUOT') {
    return new StrataError('STORAGE_FULL', `${what}: no space left on device`, { cause: error });
  }
  if (error instanceof StrataError) return error;
  return new StrataError('STORAGE_ERROR', `${what}: ${(error as Error)?.message ?? String(error)}`, { cause: error });
}

export class GroupCommitter {
  private queue: AppendRequest[] = [];
  private queueHead = 0;
  private queuedBytes = 0;
  private readonly spaceWaiters: (() => void)[] = [];
  private running: Promise<void> | null = null;
  private closed = false;
  private unsyncedWrites = false;
  private lastSyncMs = 0;
  private journalScratch: Buffer = Buffer.allocUnsafeSlow(256 * 1024);
  /** Statistics for the benchmark and logs. */
  groups = 0;
  groupedAppends = 0;

  constructor(private readonly deps: CommitterDeps) {}

  get pendingBytes(): number {
    return this.queuedBytes;
  }

  /** Queues an append; waits (backpressure) while appendQueueBytesMax bytes are already queued. */
  async submit(request: AppendRequest): Promise<void> {
    if (this.closed) throw new StrataError('CLOSED', 'core is closed');
    while (this.queuedBytes > 0 && this.queuedBytes + request.bytes > this.deps.limits.appendQueueBytesMax) {
      await new Promise<void>((resolve) => this.spaceWaiters.push(resolve));
      if (this.closed) throw new StrataError('CLOSED', 'core is closed');
    }
    this.queue.push(request);
    this.queuedBytes += request.bytes;
    this.kick();
  }

  /** Runs the loop if it is idle (also used by timers: interval fsync, idle checkpoints). */
  kick(): void {
    if (this.running) return;
    this.running = this.loop().finally(() => {
      this.running = null;
      if (this.queue.length > this.queueHead) this.kick();
    });
  }

  /** Finishes queued appends; later submits fail with CLOSED. */
  async close(): Promise<void> {
    this.closed = true;
    while (this.running || this.queue.length > this.queueHead) {
      if (!this.running) this.kick();
      await this.running;
    }
    for (const waiter of this.spaceWaiters.splice(0)) waiter();
    if (this.unsyncedWrites) await this.deps.journal().sync();
  }

  private async loop(): Promise<void> {
    for (;;) {
      if (this.queue.length > this.queueHead) {
        const group = this.takeGroup();
        await this.commitGroup(group);
      } else if (this.unsyncedWrites && this.deps.fsync.kind === 'interval' && this.deps.now() - this.lastSyncMs >= this.deps.fsync.intervalMs) {
        await this.syncJournal();
      }
      await this.deps.betweenGroups();
      // One macrotask turn: producers just acknowledged resubmit before the next group is taken,
      // so N concurrent producers make groups of N rather than alternating halves.
      await new Promise<void>((resolve) => setImmediate(resolve));
      if (this.queue.length === this.queueHead) return;
    }
  }

  private async syncJournal(): Promise<void> {
    this.unsyncedWrites = false;
    this.lastSyncMs = this.deps.now();
    try {
      await this.deps.journal().sync();
    } catch (error) {
      this.deps.logger.error('journal fsync failed', { error });
    }
  }

  /** Journal writes not yet fsynced (interval policy): the checkpoint syncs the old file first. */
  get hasUnsyncedWrites(): boolean {
    return this.unsyncedWrites;
  }

  private takeGroup(): AppendRequest[] {
    const group: AppendRequest[] = [];
    let bytes = 0;
    while (this.queueHead < this.queue.length) {
      const next = this.queue[this.queueHead]!;
      if (group.length > 0 && bytes + next.bytes > this.deps.tuning.groupCommitBytesMax) break;
      group.push(next);
      bytes += next.bytes;
      this.queue[this.queueHead] = undefined as unknown as AppendRequest;
      this.queueHead++;
    }
    if (this.queueHead === this.queue.length) {
      this.queue = [];
      this.queueHead = 0;
    } else if (this.queueHead > 1024 && this.queueHead * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.queueHead);
      this.queueHead = 0;
    }
    this.queuedBytes -= bytes;
    const waiters = this.spaceWaiters.splice(0);
    for (const waiter of waiters) waiter();
    return group;
  }

  private async commitGroup(group: AppendRequest[]): Promise<void> {
    const undo: (() => void)[] = [];
    const touchedSegments = new Map<Segment, SegmentSnapshot>();
    const touchedLogs = new Map<PartitionLog, number>();
    const journalRecords: { topicId: number; partition: number; batch: Buffer }[] = [];
    let journalBytes = 0;
    const staged: AppendRequest[] = [];

    for (const request of group) {
      const log = request.log;
      if (log.deleted) {
        request.reject(new StrataError('UNKNOWN_TOPIC', `topic ${log.topic} was deleted`));
        continue;
      }
      const localUndo: (() => void)[] = [];
      try {
        if (!touchedLogs.has(log)) {
          touchedLogs.set(log, log.nextOffset);
          const before = log.nextOffset;
          undo.push(() => {
            log.nextOffset = before;
          });
        }
        const duplicates = this.checkProducers(request, localUndo);
        if (duplicates) {
          request.baseOffset = duplicates[0]!.baseOffset;
          request.lastOffset = duplicates[duplicates.length - 1]!.lastOffset;
          request.duplicate = true;
          staged.push(request);
          undo.push(...localUndo);
          continue;
        }
        for (let i = 0; i < request.batches.length; i++) {
          const batch = request.batches[i]!;
          const fields = request.fields[i]!;
          const segment = log.segmentFor(batch.length, touchedSegments, undo);
          const baseOffset = log.nextOffset;
          const lastOffset = baseOffset + fields.lastOffsetDelta;
          setBaseOffset(batch, baseOffset);
          segment.noteBatch(baseOffset, lastOffset, fields.maxTimestamp, batch.length, this.deps.tuning.indexIntervalBytes);
          request.segments[i] = segment;
          journalRecords.push({ topicId: log.topicId, partition: log.partition, batch });
          journalBytes += JOURNAL_RECORD_HEADER_BYTES + batch.length;
          log.nextOffset = lastOffset + 1;
          if (i === 0) request.baseOffset = baseOffset;
          request.lastOffset = lastOffset;
        }
        request.duplicate = false;
        undo.push(...localUndo);
        staged.push(request);
      } catch (error) {
        for (let i = localUndo.length - 1; i >= 0; i--) localUndo[i]!();
        request.reject(error);
      }
    }

    if (journalBytes > 0) {
      try {
        // One contiguous buffer per group: one memcpy per batch beats a writev of 2 iovecs per batch.
        // Reused across groups (the loop writes one group at a time): no 100 KB allocation per group.
        if (this.journalScratch.length < journalBytes) {
          const grown = Math.min(2 * this.journalScratch.length, this.deps.tuning.groupCommitBytesMax + 1024 * 1024);
          this.journalScratch = Buffer.allocUnsafeSlow(Math.max(journalBytes, grown));
        }
        const journalBuffer = this.journalScratch.subarray(0, journalBytes);
        let at = 0;
        for (const record of journalRecords) at += writeJournalRecord(journalBuffer, at, record.topicId, record.partition, record.batch);
        await this.deps.journal().append([journalBuffer], journalBytes);
        if (this.deps.fsync.kind === 'always') {
          await this.deps.journal().sync();
          this.lastSyncMs = this.deps.now();
        } else {
          this.unsyncedWrites = true;
        }
      } catch (error) {
        // Nothing reached a segment file (they are written after acknowledgement): undo memory only.
        for (let i = undo.length - 1; i >= 0; i--) undo[i]!();
        this.failAll(staged, storageError(error, 'journal write failed'));
        return;
      }
    }

    for (const segment of touchedSegments.keys()) segment.committedBytes = segment.bytes;
    this.groups++;
    this.groupedAppends += staged.length;
    this.deps.onCommitted(staged);
  }

  /**
   * KIP-98 checks for every batch of the request, recording new ones (undo in `localUndo`).
   * Returns the stored batches when the whole request is a duplicate, null when it is new.
   */
  private checkProducers(request: AppendRequest, localUndo: (() => void)[]): ProducerBatch[] | null {
    const log = request.log;
    let duplicates: ProducerBatch[] | null = null;
    let fresh = 0;
    let nextOffset = log.nextOffset;
    for (const fields of request.fields) {
      const lastOffset = nextOffset + fields.lastOffsetDelta;
      if (isIdempotent(fields)) {
        const original = log.producers.check(fields);
        if (original) {
          (duplicates ??= []).push(original);
          continue;
        }
        localUndo.push(log.producers.record(fields, nextOffset, lastOffset));
      }
      fresh++;
      nextOffset = lastOffset + 1;
    }
    if (duplicates && fresh > 0) {
      throw new StrataError('DUPLICATE_SEQUENCE', `append to ${log.topic}-${log.partition} mixes duplicate and new batches`);
    }
    return duplicates;
  }

  private failAll(requests: readonly AppendRequest[], error: StrataError): void {
    this.deps.logger.warn('group commit failed', { error, appends: requests.length });
    for (const request of requests) request.reject(error);
  }
}

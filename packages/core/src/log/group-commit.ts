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
import { JOURNAL_RECORD_HEADER_BYTES, writeJournalRecord, writeJournalRecordHeader } from '../storage/journal-format.js';
import type { JournalFile } from '../storage/journal.js';
import type { FsyncThread } from '../storage/fsync-thread.js';
import type { BatchFields } from './batch-fields.js';
import type { PartitionLog, SegmentSnapshot } from './partition-log.js';
import { isIdempotent, type ProducerBatch } from './producer-state.js';
import type { Segment } from './segment.js';
import { ScheduleChooser } from './schedule-chooser.js';

export interface AppendRequest {
  readonly log: PartitionLog;
  /** Owned copies of the batches (base offsets are patched in place). */
  readonly batches: readonly Buffer[];
  readonly fields: readonly BatchFields[];
  readonly bytes: number;
  /** Set by LogManager.append once the request is built (its promise's executor). */
  resolve: (result: AppendResult) => void;
  reject: (error: unknown) => void;
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
  /** With no group in flight: the owner may checkpoint (rotate the journal) here. */
  readonly betweenGroups: () => Promise<void>;
  /** True when a checkpoint waits: no new group is staged until the pipeline drains. */
  readonly checkpointDue: () => boolean;
  /** After each acknowledged group (the segment flusher's turn). */
  readonly afterAck: () => Promise<void>;
  /** Acknowledged appends of one group, in order (tail cache, listeners, waiters). */
  readonly onCommitted: (requests: readonly AppendRequest[]) => void;
  /** Non-null once storage failed (storage-failure.ts): queued appends are refused with it. */
  readonly storageFailed: () => StrataError | null;
  /** The journal's fsync failed under the interval policy: its appends were acknowledged already. */
  readonly onJournalSyncFailure: (error: unknown) => void;
  /** Takes the fdatasync of groups staged while another is in flight (null: the event loop does). */
  readonly fsyncThread: FsyncThread | null;
}

export function storageError(error: unknown, what: string): StrataError {
  const code = (error as { code?: unknown } | null)?.code;
  if (code === 'ENOSPC' || code === 'EDQUOT') {
    return new StrataError('STORAGE_FULL', `${what}: no space left on device`, { cause: error });
  }
  if (error instanceof StrataError) return error;
  return new StrataError('STORAGE_ERROR', `${what}: ${(error as Error)?.message ?? String(error)}`, { cause: error });
}

/** A group whose offsets are assigned and whose journal write is issued, not yet acknowledged. */
interface StagedGroup {
  readonly staged: AppendRequest[];
  readonly undo: (() => void)[];
  /** Bytes of each touched segment once this group is in: readers may see up to there after the ack. */
  readonly segmentEnds: Map<Segment, number>;
  readonly journal: JournalFile | null;
  readonly start: number;
  readonly write: Promise<void>;
  writeError: unknown;
  /**
   * Settles (never rejects) once the group is durable under the policy or has failed: its fsync is
   * issued from a promise reaction the moment its write and the previous group's fsync are done,
   * not after the previous group's acknowledgement and the next group's staging.
   */
  readonly durable: Promise<void>;
  syncError: unknown;
  /**
   * The fsync thread's sequence number for this group's fdatasync, 0 when the event loop or the
   * pool does it. Such a group's `durable` settles when the committer has taken the result
   * (settleHanded), in order: a later group's syncAfter waits for it there.
   */
  handedSeq: number;
  settleHanded: (() => void) | null;
}

/**
 * Groups in flight at once: while one group's fsync runs, the next one is staged and written, so
 * the JavaScript work of a group overlaps the previous group's disk wait instead of adding to it.
 */
const PIPELINE_GROUPS_MAX = 2;

/**
 * Longest the loop runs groups the fsync thread took without a macrotask turn (their completions
 * are synchronous, so only the loop itself can let sockets, timers and I/O callbacks run): about
 * what one fdatasync on the event loop held it before.
 */
const TURN_INTERVAL_MS = 1;

/**
 * Fewest appends in a group for its fdatasync to go to the fsync thread (and in each half of a
 * split queue). The overlap pays for the thread's hand-off and wake-up only when the next group's
 * JavaScript work is long enough (~5 µs per append here). Measured with 8 producers appending a
 * 1 KiB message every 2 ms (groups of 1-4): handing those groups off took 54-56% of a CPU against
 * 23-25% on the event loop, at a lower paced rate (1,950-2,070 against 2,237-2,347 appends/s).
 */
const FSYNC_THREAD_GROUP_APPENDS_MIN = 16;

/**
 * Batches smaller than this are copied into the group's one contiguous journal buffer (one memcpy
 * beats two iovecs per batch); larger ones (a Kafka producer's ~1 MB batches) are written from
 * their own buffers behind a 20-byte header, so the journal write copies them only into the page
 * cache.
 */
const JOURNAL_INLINE_BATCH_BYTES_MAX = 64 * 1024;

/** Largest group journal buffer kept for reuse by the next group (memory held while idle). */
const JOURNAL_SPARE_BUFFER_BYTES_MAX = 4 * 1024 * 1024;

export class GroupCommitter {
  private queue: AppendRequest[] = [];
  private queueHead = 0;
  private queuedBytes = 0;
  private readonly spaceWaiters: (() => void)[] = [];
  private running: Promise<void> | null = null;
  private closed = false;
  private unsyncedWrites = false;
  private lastSyncMs = 0;
  /** The newest staged group's `durable`: the next group's fsync starts only after it settled. */
  private lastDurable: Promise<void> = Promise.resolve();
  /** A journal buffer whose write is done, for the next group (takeJournalBuffer). */
  private spareJournalBuffer: Buffer | null = null;
  /** When the loop last let the event loop take a macrotask turn (performance.now()). */
  private lastTurnMs = 0;
  /** Groups staged whose fdatasync is not the fsync thread's and has not returned. */
  private eventLoopSyncsInFlight = 0;
  /** Halves or whole groups, by their measured rates (tuning.fsyncThreadHalves `adaptive`). */
  readonly schedule = new ScheduleChooser();
  /** True when the schedule chooser decides between halves and whole groups: fixed by the deps. */
  private readonly choosesSchedule: boolean;
  /** Statistics for the benchmark and logs. */
  groups = 0;
  groupedAppends = 0;
  /** Groups whose fdatasync the fsync thread did. */
  syncsInThread = 0;

  constructor(private readonly deps: CommitterDeps) {
    this.choosesSchedule = deps.tuning.fsyncThreadHalves === 'adaptive' && deps.fsync.kind === 'always' && deps.fsyncThread !== null;
  }

  get pendingBytes(): number {
    return this.queuedBytes;
  }

  /**
   * Queues an append. Returns nothing when it is queued at once (the hot path: no promise), a
   * promise when it must wait (backpressure: appendQueueBytesMax bytes already queued) or fails.
   */
  submit(request: AppendRequest): Promise<void> | undefined {
    if (!this.closed && (this.queuedBytes === 0 || this.queuedBytes + request.bytes <= this.deps.limits.appendQueueBytesMax)) {
      this.queue.push(request);
      this.queuedBytes += request.bytes;
      this.kick();
      return undefined;
    }
    return this.submitWaiting(request);
  }

  private async submitWaiting(request: AppendRequest): Promise<void> {
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
    // An idle committer starts one macrotask turn later, not inside the first append's call: the
    // appends of the same I/O callbacks (a socket chunk of many MQTT publishes, several Kafka
    // requests read together) then share its first group instead of the first one going alone.
    this.running = new Promise<void>((resolve) => setImmediate(resolve)).then(() => this.loop()).finally(() => {
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
    if (this.unsyncedWrites) await this.syncJournal();
  }

  private async loop(): Promise<void> {
    const window: StagedGroup[] = [];
    for (;;) {
      const failed = this.deps.storageFailed();
      if (failed !== null && this.queue.length > this.queueHead) this.refuseQueued(failed);
      const queued = this.queue.length > this.queueHead;
      // A due checkpoint stops staging until the pipeline has drained (it rotates the journal).
      if (queued && window.length < this.pipelineGroupsMax() && !this.deps.checkpointDue()) {
        window.push(this.stage(this.takeGroup(window.length === 0), window.length > 0));
        continue;
      }
      if (window.length > 0) {
        const oldest = window[0]!;
        const error = await this.complete(oldest);
        if (error !== null) {
          await this.failWindow(window, error);
          window.length = 0;
          continue;
        }
        window.shift();
        this.acknowledge(oldest);
        if (this.choosesSchedule) this.schedule.acknowledged(oldest.staged.length);
        await this.deps.afterAck();
        // With journal I/O on the event loop a group completes in microtasks, and producers that
        // resubmit from the acknowledgement's reactions keep the queue full: without a macrotask
        // turn here the loop would never let sockets, timers and the checkpoint's callbacks run.
        // The turn also lets appends that arrived on sockets meanwhile join the next group. A group
        // the fsync thread took completes synchronously too, and with two such groups alternating
        // the window never empties: the turn is taken after one of them at least every
        // TURN_INTERVAL_MS (the other group's fdatasync goes on meanwhile; a turn after every
        // group cost a tenth of the throughput).
        if (window.length === 0 || (oldest.handedSeq !== 0 && performance.now() - this.lastTurnMs >= TURN_INTERVAL_MS)) {
          await new Promise<void>((resolve) => setImmediate(resolve));
          this.lastTurnMs = performance.now();
        }
        continue;
      }
      if (this.unsyncedWrites && this.deps.fsync.kind === 'interval' && this.deps.now() - this.lastSyncMs >= this.deps.fsync.intervalMs) {
        await this.syncJournal();
      }
      try {
        await this.deps.betweenGroups();
      } catch (error) {
        // A failed checkpoint keeps the journal and is retried; appends go on meanwhile.
        this.deps.logger.error('checkpoint could not start', { error });
      }
      // One macrotask turn: producers just acknowledged resubmit before the next group is taken.
      await new Promise<void>((resolve) => setImmediate(resolve));
      if (this.queue.length === this.queueHead) {
        this.schedule.idle();
        return;
      }
    }
  }

  /** Waits for a group's journal write (and fsync under `always`); returns its error or null. */
  private async complete(group: StagedGroup): Promise<unknown> {
    if (!group.journal) return null;
    this.takeHanded(group);
    await group.durable;
    if (group.writeError !== undefined) return group.writeError;
    if (group.syncError !== undefined) return group.syncError;
    if (this.deps.fsync.kind === 'always') this.lastSyncMs = this.deps.now();
    else this.unsyncedWrites = true;
    return null;
  }

  /**
   * The group's fsync (policy `always`), issued once its own write and the previous group's fsync
   * are done. Serial fsyncs keep Linux's error reporting exact: a writeback error is reported to
   * one fsync call only, so a group's fsync must start after the previous one returned for a
   * success to cover the previous group's pages as well as its own.
   */
  private async syncAfter(group: StagedGroup, journal: JournalFile, previous: Promise<void>): Promise<void> {
    try {
      await group.write;
      await previous;
      if (group.writeError !== undefined || this.deps.fsync.kind !== 'always') return;
      try {
        await journal.sync();
      } catch (error) {
        group.syncError = error;
      }
    } finally {
      // Before `durable` settles: the next group staged after this one's completion may go to the thread.
      this.eventLoopSyncsInFlight--;
    }
  }

  /**
   * The oldest group failed: it and every later group in flight (staged on top of it) fail. Their
   * writes settle first, then the journal is cut back to the failed group's start and the staged
   * state is undone newest first, so the log never holds an unacknowledged gap.
   */
  private async failWindow(window: readonly StagedGroup[], cause: unknown): Promise<void> {
    for (const group of window) this.takeHanded(group);
    await Promise.all(window.map((group) => group.durable));
    const first = window.find((group) => group.journal !== null);
    if (first?.journal) {
      await first.journal.truncateTo(first.start).catch((error: unknown) => {
        this.deps.logger.error('could not cut the journal back after a failed write', { error });
      });
    }
    for (let g = window.length - 1; g >= 0; g--) {
      const undo = window[g]!.undo;
      for (let i = undo.length - 1; i >= 0; i--) undo[i]!();
    }
    const error = storageError(cause, 'journal write failed');
    for (const group of window) this.failAll(group.staged, error);
  }

  private acknowledge(group: StagedGroup): void {
    for (const [segment, end] of group.segmentEnds) segment.committedBytes = end;
    this.groups++;
    this.groupedAppends += group.staged.length;
    this.deps.onCommitted(group.staged);
  }

  /**
   * The interval policy's fsync. Its appends were acknowledged already, so a failure cannot fail
   * them; retrying would be worse than useless (the retry succeeds without the pages the failed
   * writeback dropped), so storage enters the failed state instead.
   */
  private async syncJournal(): Promise<void> {
    this.unsyncedWrites = false;
    this.lastSyncMs = this.deps.now();
    try {
      await this.deps.journal().sync();
    } catch (error) {
      this.deps.onJournalSyncFailure(error);
    }
  }

  /** Storage failed: every queued append (not yet staged) fails with its error. */
  private refuseQueued(error: StrataError): void {
    const refused = this.queue.slice(this.queueHead);
    this.queue = [];
    this.queueHead = 0;
    this.queuedBytes = 0;
    for (const waiter of this.spaceWaiters.splice(0)) waiter();
    for (const request of refused) request.reject(error);
  }

  /** Journal writes not yet fsynced (interval policy): the checkpoint syncs the old file first. */
  get hasUnsyncedWrites(): boolean {
    return this.unsyncedWrites;
  }

  /**
   * The next group: the queue's head up to groupCommitBytesMax. With `pipelineEmpty` and the fsync
   * thread up, half of what is queued: producers that wait for their acknowledgement before they
   * append again (most do) would otherwise stay one group, whose JavaScript work and fdatasync
   * never overlap; as two halves, one half's fdatasync runs while the other half is acknowledged,
   * appends again and is staged, and they stay two from then on.
   */
  private takeGroup(pipelineEmpty: boolean): AppendRequest[] {
    const group: AppendRequest[] = [];
    let bytes = 0;
    let bytesMax = this.deps.tuning.groupCommitBytesMax;
    if (pipelineEmpty && this.queue.length - this.queueHead >= 2 * FSYNC_THREAD_GROUP_APPENDS_MIN && this.halves()) {
      const half = Math.ceil(Math.min(bytesMax, this.queuedBytes) / 2);
      // Only halves the thread would take: large groups go to the pool, pipelined as they were.
      if (this.deps.journal().syncsInThread(half) && this.threadTakesSyncs()) bytesMax = half;
    }
    while (this.queueHead < this.queue.length) {
      const next = this.queue[this.queueHead]!;
      if (group.length > 0 && bytes + next.bytes > bytesMax) break;
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

  /** Whether takeGroup may split the queue into halves. */
  private halves(): boolean {
    return !this.choosesSchedule || this.schedule.halves;
  }

  /**
   * Groups staged at once: two, except with whole groups chosen (schedule-chooser.ts) for a group
   * the fsync thread could take: then it is staged only once the previous one is acknowledged, so
   * that halves merge again, and every group is alone, its fdatasync on the event loop, as before
   * the fsync thread. Groups for the pool (a Kafka producer's ~1 MB batches) keep their two-deep
   * pipeline whatever the chooser says.
   */
  private pipelineGroupsMax(): number {
    if (this.halves()) return PIPELINE_GROUPS_MAX;
    const next = Math.min(this.queuedBytes, this.deps.tuning.groupCommitBytesMax);
    return this.deps.journal().syncsInThread(next) ? 1 : PIPELINE_GROUPS_MAX;
  }

  /** True when groups' fdatasyncs may go to the fsync thread (starting it on first call). */
  private threadTakesSyncs(): boolean {
    return this.deps.fsync.kind === 'always' && this.deps.fsyncThread !== null && this.deps.fsyncThread.usable();
  }

  /** A handed-off group's fdatasync result, taken (waiting for it) once; settles its `durable`. */
  private takeHanded(group: StagedGroup): void {
    if (group.settleHanded === null) return;
    try {
      this.deps.fsyncThread!.wait(group.handedSeq);
    } catch (error) {
      group.syncError = error;
    }
    group.settleHanded();
    group.settleHanded = null;
  }

  /**
   * Assigns offsets in queue order, stages segments and producer state, issues the journal write.
   * `overlapped`: another group is in flight, so this group's fdatasync may go to the fsync thread.
   */
  private stage(group: AppendRequest[], overlapped: boolean): StagedGroup {
    const undo: (() => void)[] = [];
    const touchedSegments = new Map<Segment, SegmentSnapshot>();
    const touchedLogs = new Map<PartitionLog, number>();
    // The group's journal records as parallel lists (no object per record on the hot path).
    const recordLogs: PartitionLog[] = [];
    const recordBatches: Buffer[] = [];
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
          recordLogs.push(log);
          recordBatches.push(batch);
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

    const segmentEnds = new Map<Segment, number>();
    for (const segment of touchedSegments.keys()) segmentEnds.set(segment, segment.bytes);
    if (journalBytes === 0) {
      return { staged, undo, segmentEnds, journal: null, start: 0, write: Promise.resolve(), writeError: undefined, durable: Promise.resolve(), syncError: undefined, handedSeq: 0, settleHanded: null };
    }
    let ownBufferBytes = 0;
    for (const batch of recordBatches) ownBufferBytes += JOURNAL_RECORD_HEADER_BYTES + (batch.length < JOURNAL_INLINE_BATCH_BYTES_MAX ? batch.length : 0);
    const journal = this.deps.journal();
    const journalBuffer = this.takeJournalBuffer(ownBufferBytes);
    const parts: Buffer[] = [];
    let at = 0;
    let runStart = 0;
    for (let r = 0; r < recordBatches.length; r++) {
      const batch = recordBatches[r]!;
      const log = recordLogs[r]!;
      if (batch.length < JOURNAL_INLINE_BATCH_BYTES_MAX) {
        at += writeJournalRecord(journalBuffer, at, journal.tag, log.topicId, log.partition, batch);
        continue;
      }
      writeJournalRecordHeader(journalBuffer, at, journal.tag, log.topicId, log.partition, batch);
      at += JOURNAL_RECORD_HEADER_BYTES;
      parts.push(journalBuffer.subarray(runStart, at), batch);
      runStart = at;
    }
    if (at > runStart) parts.push(journalBuffer.subarray(runStart, at));
    const start = journal.reserve(journalBytes);
    const result: StagedGroup = { staged, undo, segmentEnds, journal, start, write: Promise.resolve(), writeError: undefined, durable: Promise.resolve(), syncError: undefined, handedSeq: 0, settleHanded: null };
    // To the fsync thread when another group is in flight or queued behind this one (there is
    // JavaScript work to overlap with this fdatasync), when the group is large enough for that
    // work to outweigh the hand-off, and when every earlier fdatasync is the thread's or done
    // (request order is fsync order). Alone, a group is fsynced on the event loop: a hand-off
    // would only add the thread's wake-up to its latency.
    const handOff =
      (overlapped || this.queue.length > this.queueHead) &&
      staged.length >= FSYNC_THREAD_GROUP_APPENDS_MIN &&
      this.eventLoopSyncsInFlight === 0 &&
      journal.syncsInThread(journalBytes) &&
      this.threadTakesSyncs();
    if (handOff) {
      try {
        result.handedSeq = this.deps.fsyncThread!.request(journal.writeForThreadSync(parts, start));
        this.syncsInThread++;
      } catch (error) {
        result.writeError = error;
      }
      this.returnJournalBuffer(journalBuffer);
      let settle!: () => void;
      (result as { durable: Promise<void> }).durable = this.lastDurable = new Promise<void>((resolve) => (settle = resolve));
      // A failed write has nothing to wait for: settled at once (complete() reports writeError).
      if (result.handedSeq === 0) settle();
      else result.settleHanded = settle;
      return result;
    }
    (result as { write: Promise<void> }).write = journal.writeAt(parts, start).then(
      () => this.returnJournalBuffer(journalBuffer),
      (error: unknown) => {
        result.writeError = error;
        this.returnJournalBuffer(journalBuffer);
      },
    );
    this.eventLoopSyncsInFlight++;
    (result as { durable: Promise<void> }).durable = this.lastDurable = this.syncAfter(result, journal, this.lastDurable);
    return result;
  }

  /**
   * The group's journal buffer: the spare one when it is free and large enough (its write is done:
   * with event-loop I/O that is before the next group is staged), else a fresh one. Saves a
   * group-sized allocation, its page faults and the GC pressure of its external memory per group.
   */
  private takeJournalBuffer(bytes: number): Buffer {
    const spare = this.spareJournalBuffer;
    if (spare !== null && spare.length >= bytes) {
      this.spareJournalBuffer = null;
      return spare.subarray(0, bytes);
    }
    return Buffer.allocUnsafeSlow(bytes);
  }

  /** Keeps a written group's buffer for the next group, up to JOURNAL_SPARE_BUFFER_BYTES_MAX. */
  private returnJournalBuffer(buffer: Buffer): void {
    const whole = Buffer.from(buffer.buffer, 0, buffer.buffer.byteLength);
    if (whole.length > JOURNAL_SPARE_BUFFER_BYTES_MAX) return;
    if (this.spareJournalBuffer === null || this.spareJournalBuffer.length < whole.length) this.spareJournalBuffer = whole;
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

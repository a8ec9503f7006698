/**
 * Writes acknowledged batches from memory to their segment files in bulk. The group commit makes
 * an append durable in the journal alone; segments are written later, one positioned writev per
 * segment covering everything that accumulated, so a partition that gets one message per group
 * does not cost one open+write per group (10,000 partitions). Pending bytes are bounded
 * (pendingBytesMax): past it a flush starts; past twice it the group commit waits until the flush
 * has brought them back under twice the bound (or has ended), not for the whole flush: with 10,000
 * partitions a flush writes 10,000 files, seconds on a loaded machine, and appends would stop
 * for all of it although the first few files written make room.
 * A checkpoint flushes everything before it fsyncs.
 */
import type { Entry } from '../core.js';
import type { Logger } from '../logger.js';
import type { SegmentStorage, SegmentWrite } from '../storage/segment-storage.js';
import type { PartitionLog } from './partition-log.js';
import type { Segment } from './segment.js';

/** SegmentStorage.writeSmall, bound to its storage. */
export type WriteSmall = NonNullable<SegmentStorage['writeSmall']>;

/**
 * A segment whose pending bytes are at most this many (and whose file exists) goes to the storage's
 * writeSmall: with 10,000 partitions a flush writes each one's few KiB, where an open, writev and
 * close through the pool cost the event loop more than the bytes (docs/storage.md, "Segment
 * writes"). Larger writes keep the pool path: no copy, and the hand-offs are few per byte.
 */
const SMALL_WRITE_BYTES_MAX = 64 * 1024;
/**
 * Bytes of one writeSmall call (the segment write thread's staging buffer): the unit in which a
 * flush releases pending bytes, so appends waiting for room go on after the first calls.
 */
const SMALL_WRITES_CALL_BYTES_MAX = 1024 * 1024;
/** Writes in one writeSmall call. */
const SMALL_WRITES_PER_CALL_MAX = 256;
/** writeSmall calls in flight: the thread writes one while the event loop prepares the next. */
const SMALL_WRITE_CALLS_IN_FLIGHT = 2;

/** One segment's part of a writeSmall call: what it covers, for the bookkeeping after it. */
interface SmallWrite {
  readonly log: PartitionLog;
  readonly segment: Segment;
  readonly entries: Entry[];
  readonly bytes: number;
}

/** What a segment write covers: the segment's pending entries now, their buffers and byte count. */
function pendingRun(segment: Segment): { entries: Entry[]; buffers: Buffer[]; bytes: number } {
  const entries = segment.pending.slice();
  const buffers: Buffer[] = new Array<Buffer>(entries.length);
  let bytes = 0;
  for (let i = 0; i < entries.length; i++) {
    buffers[i] = entries[i]!.bytes;
    bytes += buffers[i]!.length;
  }
  return { entries, buffers, bytes };
}

export class SegmentFlusher {
  private readonly dirty = new Map<Segment, PartitionLog>();
  /** Dirty segments holding at least segmentFlushBytes: written without waiting for the global bound. */
  private readonly ready = new Set<Segment>();
  /** Sealed segments whose index file is to be written once they are wholly in their file. */
  private readonly sealed = new Map<Segment, PartitionLog>();
  private pendingTotal = 0;
  /** Segment bytes this process has written (or is writing), store-wide: the clock of Segment.writtenSince. */
  bytesWritten = 0;
  private flushing: Promise<boolean> | null = null;
  private lastFlushFailed = false;
  /** The group commit, waiting for pending bytes to fall below twice the bound (`roomBelowHardBound`). */
  private readonly roomWaiters: (() => void)[] = [];
  flushes = 0;
  /** Segment writes done through writeSmall (statistics). */
  smallWrites = 0;
  /** writeSmall answered that it cannot take writes (its thread failed): every write through the pool. */
  private smallWritesOff = false;

  /** The write-behind fsync in flight (at most one): see `syncBehind`. */
  private syncing: Promise<void> | null = null;
  /** Write-behind fsyncs started (statistics). */
  syncsBehind = 0;

  constructor(
    private readonly pendingBytesMax: number,
    private readonly segmentFlushBytes: number,
    private readonly concurrencyMax: number,
    private readonly logger: Logger,
    private readonly markDirty: (file: string, dir: string) => void,
    /** StorageTuning.segmentSyncBytes; 0 leaves all segment fsyncs to checkpoints. */
    private readonly segmentSyncBytes: number,
    /** StorageFailure.trackSync: a failed fsync enters the failed state (never retried). No default: an untracked fsync would be a hole in that. */
    private readonly trackSync: (what: string, sync: () => Promise<void>) => Promise<void>,
    /** The storage's writeSmall, or null when it has none (every write goes through `open`). */
    private readonly writeSmall: WriteSmall | null,
  ) {}

  get pendingBytes(): number {
    return this.pendingTotal;
  }

  /** Flushes fail and memory is at its bound: appends must wait (STORAGE_FULL) instead of growing it. */
  get stalled(): boolean {
    return this.lastFlushFailed && this.pendingTotal >= 2 * this.pendingBytesMax;
  }

  /** An acknowledged batch joins its segment's pending list. */
  add(log: PartitionLog, segment: Segment, entry: Entry): void {
    // The first acknowledged batch of a new segment seals the one before it for good.
    if (segment.pending.length === 0 && segment.writtenBytes === 0) {
      const previous = log.segments[log.segments.indexOf(segment) - 1];
      if (previous && !previous.summarized) this.sealed.set(previous, log);
    }
    segment.pending.push(entry);
    segment.pendingBytes += entry.bytes.length;
    this.pendingTotal += entry.bytes.length;
    this.dirty.set(segment, log);
    if (segment.pendingBytes >= this.segmentFlushBytes) this.ready.add(segment);
  }

  drop(segment: Segment): void {
    this.ready.delete(segment);
    this.sealed.delete(segment);
    if (!this.dirty.delete(segment)) return;
    this.release(segment.pendingBytes);
    segment.pending = [];
    segment.pendingBytes = 0;
  }

  /**
   * Called between groups: a busy segment is written once it holds segmentFlushBytes (a steady
   * stream of writeback, not one large burst that a later journal fsync would have to wait for);
   * everything is written when the total passes pendingBytesMax; past twice that, appends wait.
   */
  async afterGroup(): Promise<void> {
    if (this.pendingTotal >= this.pendingBytesMax) {
      // A running flush is joined, not queued behind: every group would otherwise chain one more
      // full flush onto it (524-1,170 in 4 s with 10,000 partitions on the development VM), run
      // back to back once it ends, each writing the little that came in meanwhile. The next group
      // starts a new flush if the total is still past the bound then. (`flush()` chains: a
      // checkpoint needs everything.)
      if (!this.flushing) void this.flush();
      await this.roomBelowHardBound();
    } else if (this.ready.size > 0 && !this.flushing) {
      void this.startFlush(true);
    }
  }

  /**
   * Settles at once below twice the bound or with no flush running; else once a segment write has
   * brought pending bytes back under it, or once the flush has ended, whatever it left: a failed
   * flush leaves them high, and `stalled` then refuses appends until a later flush succeeds.
   */
  private roomBelowHardBound(): Promise<void> {
    if (this.flushing === null || this.pendingTotal < 2 * this.pendingBytesMax) return Promise.resolve();
    return new Promise<void>((resolve) => this.roomWaiters.push(resolve));
  }

  /** Bytes left memory (written or dropped): a group commit waiting for room may go on. */
  private release(bytes: number): void {
    this.pendingTotal -= bytes;
    if (this.roomWaiters.length > 0 && this.pendingTotal < 2 * this.pendingBytesMax) this.wakeRoomWaiters();
  }

  private wakeRoomWaiters(): void {
    for (const waiter of this.roomWaiters.splice(0)) waiter();
  }

  /** Writes everything pending now; resolves false when some segment could not be written. */
  flush(): Promise<boolean> {
    if (this.flushing) return this.flushing.then(() => this.flush());
    if (this.dirty.size === 0 && this.sealed.size === 0) return Promise.resolve(true);
    return this.startFlush(false);
  }

  private startFlush(readyOnly: boolean): Promise<boolean> {
    this.flushing = this.flushOnce(readyOnly).finally(() => {
      this.flushing = null;
      // After `flushing` is cleared: the group commit, going on, starts the next flush if needed.
      this.wakeRoomWaiters();
    });
    return this.flushing;
  }

  private async flushOnce(readyOnly: boolean): Promise<boolean> {
    let work: [Segment, PartitionLog][];
    if (readyOnly) {
      work = [];
      for (const segment of this.ready) {
        const log = this.dirty.get(segment);
        if (log) work.push([segment, log]);
        this.dirty.delete(segment);
      }
    } else {
      work = [...this.dirty];
      this.dirty.clear();
    }
    this.ready.clear();
    const opened: [Segment, PartitionLog][] = [];
    const small: [Segment, PartitionLog][] = [];
    for (const item of work) {
      const segment = item[0];
      // writtenBytes > 0: the file exists (writeSmall never creates one).
      if (this.writeSmall !== null && !this.smallWritesOff && segment.writtenBytes > 0 && segment.pendingBytes <= SMALL_WRITE_BYTES_MAX) small.push(item);
      else opened.push(item);
    }
    const results = await Promise.all([this.writeSmallSegments(small), this.writeThroughPool(opened)]);
    const ok = results[0] && results[1];
    for (const [segment, log] of [...this.sealed]) {
      if (segment.pending.length > 0) continue; // not wholly written yet: next flush
      this.sealed.delete(segment);
      await log.summarizeSealed(segment);
    }
    this.flushes++;
    this.lastFlushFailed = !ok;
    return ok;
  }

  /**
   * Writes small segments through writeSmall, SMALL_WRITE_CALLS_IN_FLIGHT calls at a time. A write
   * it could not do (a failed call, a file not there, writeSmall unavailable or failed as a whole)
   * is done again through `open` (writeSegment), which creates what is missing or reports the
   * failure as every segment write does; the bytes were not counted as written before. Once
   * writeSmall answers null, the rest of this flush and every later one go through the pool.
   */
  private async writeSmallSegments(work: readonly [Segment, PartitionLog][]): Promise<boolean> {
    let next = 0;
    let ok = true;
    const lane = async (): Promise<void> => {
      while (next < work.length && !this.smallWritesOff) {
        const call: SmallWrite[] = [];
        const writes: SegmentWrite[] = [];
        let callBytes = 0;
        while (next < work.length && call.length < SMALL_WRITES_PER_CALL_MAX) {
          const [segment, log] = work[next]!;
          if (call.length > 0 && callBytes + segment.pendingBytes > SMALL_WRITES_CALL_BYTES_MAX) break;
          next++;
          if (segment.pending.length === 0 || log.deleted) continue;
          const { entries, buffers, bytes } = pendingRun(segment);
          call.push({ log, segment, entries, bytes });
          writes.push({ path: segment.path, position: segment.writtenBytes, buffers, bytes });
          callBytes += bytes;
        }
        if (call.length === 0) continue;
        let errors: (NodeJS.ErrnoException | null)[] | null = null;
        try {
          const answer = this.writeSmall!(writes);
          if (answer === null) this.smallWritesOff = true;
          errors = await answer;
        } catch (error) {
          this.logger.debug('segment writes handed off did not complete; written through the pool', { error });
        }
        for (let i = 0; i < call.length; i++) {
          const { log, segment, entries, bytes } = call[i]!;
          if (errors !== null && errors[i] === null) {
            this.bytesWritten += bytes;
            this.smallWrites++;
            this.written(log, segment, entries, bytes);
          } else if (!(await this.writeSegment(log, segment))) {
            ok = false;
          }
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(SMALL_WRITE_CALLS_IN_FLIGHT, work.length) }, lane));
    // What was not handed over before writeSmall became unavailable.
    if (next < work.length && !(await this.writeThroughPool(work.slice(next)))) ok = false;
    return ok;
  }

  /** Writes each segment through `open` (the pool), concurrencyMax at a time; false if any failed. */
  private async writeThroughPool(work: readonly [Segment, PartitionLog][]): Promise<boolean> {
    let next = 0;
    let ok = true;
    const worker = async (): Promise<void> => {
      while (next < work.length) {
        const [segment, log] = work[next++]!;
        if (!(await this.writeSegment(log, segment))) ok = false;
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.concurrencyMax, work.length) }, worker));
    return ok;
  }

  private async writeSegment(log: PartitionLog, segment: Segment): Promise<boolean> {
    if (segment.pending.length === 0 || log.deleted) return true;
    const { entries, buffers, bytes } = pendingRun(segment);
    // A segment started by this process is stamped with the store-wide count before its first bytes.
    if (segment.writtenSince < 0 && segment.writtenBytes === 0) segment.writtenSince = this.bytesWritten;
    this.bytesWritten += bytes;
    try {
      const lease = await log.openForWrite(segment);
      try {
        await lease.write(buffers, segment.writtenBytes);
      } finally {
        lease.release();
      }
    } catch (error) {
      // Still durable in the journal, which a failed checkpoint keeps; retried on the next flush.
      if (!log.deleted && log.segments.includes(segment)) this.dirty.set(segment, log);
      this.logger.warn('segment write failed; batches stay in memory and in the journal', { file: segment.path, error });
      return false;
    }
    this.written(log, segment, entries, bytes);
    return true;
  }

  /** `entries` (`bytes` in all) are in the segment's file: they leave memory, readers go to the file. */
  private written(log: PartitionLog, segment: Segment, entries: readonly Entry[], bytes: number): void {
    if (segment.pending.length === 0 || segment.pending[0] !== entries[0]) return; // dropped meanwhile
    segment.writtenBytes += bytes;
    segment.pending.splice(0, entries.length);
    segment.pendingBytes -= bytes;
    this.release(bytes);
    if (segment.pending.length > 0) {
      this.dirty.set(segment, log);
      if (segment.pendingBytes >= this.segmentFlushBytes) this.ready.add(segment);
    }
    this.markDirty(segment.path, log.dir);
    segment.unsyncedBytes += bytes;
    if (this.segmentSyncBytes > 0 && segment.unsyncedBytes >= this.segmentSyncBytes && this.syncing === null) this.syncBehind(log, segment);
  }

  /**
   * Fsyncs a segment that has `segmentSyncBytes` written since its last one, in the background
   * (RocksDB's bytes_per_sync). Without it the page cache holds every segment byte written since
   * the last checkpoint (on a machine with plenty of memory the kernel starts no writeback of its
   * own for 30 s), and the checkpoint's fsyncs push them all to the disk at once: a burst of up to
   * a journal file's worth of writes that the journal's fsyncs, and so the acknowledgements, queue
   * behind. In small pieces the writeback is spread out, and the checkpoint finds little left.
   * The checkpoint still fsyncs every dirty file: this only moves work earlier. A failure enters
   * the failed state like any segment fsync (trackSync), since a later fsync of the same file may
   * succeed without the pages this one lost.
   */
  private syncBehind(log: PartitionLog, segment: Segment): void {
    segment.unsyncedBytes = 0;
    this.syncsBehind++;
    this.syncing = (async () => {
      if (log.deleted || !log.segments.includes(segment)) return;
      // Never creates the file: retention may have deleted the segment since its write.
      const lease = await log.openExisting(segment);
      try {
        await this.trackSync(`fsync of ${segment.path} (write-behind)`, () => lease.sync());
      } finally {
        lease.release();
      }
    })()
      .catch((error: unknown) => {
        // A failed fsync entered the failed state in trackSync; a failed open (a deleted segment) is harmless.
        this.logger.debug('write-behind fsync did not complete', { file: segment.path, error });
      })
      .finally(() => {
        this.syncing = null;
      });
  }

  /** Settles once no flush and no write-behind fsync is in flight (close, benchmark). */
  async idle(): Promise<void> {
    for (let i = 0; i < 100 && (this.syncing !== null || this.flushing !== null); i++) {
      await this.flushing?.catch(() => undefined);
      await this.syncing;
    }
  }
}

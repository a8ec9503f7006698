/**
 * The log engine: every partition's log, the shared journal and group commit, recovery,
 * checkpoints, retention, reads with long-poll, the tail cache and the descriptor cache.
 * Storage layout under the data directory (docs/storage.md):
 *
 *   journal/<seq>.jnl                      group-committed, fsynced journal (since the last checkpoint)
 *   log/<topicId>/<partition>/<base>.log   segment files: record batches byte for byte
 *   log/<topicId>/<partition>/log-start    log start offset moved by deleteRecordsBefore
 */
import fsp from 'node:fs/promises';
import path from 'node:path';
import type {
  AppendEvent,
  AppendInput,
  AppendResult,
  CoreLimits,
  Entry,
  FsyncPolicy,
  JournalIo,
  PartitionOffsets,
  PartitionPosition,
  ReadOptions,
  ReadResult,
  TopicPolicies,
} from '../core.js';
import { StrataError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { StorageTuning } from '../limits.js';
import { encodeRecordBatch, type EncodeOptions } from '../record-batch/encode.js';
import { splitBatches, verifyBatchCrc } from '../record-batch/header.js';
import { LocalSegmentStorage } from '../storage/local-segment-storage.js';
import type { SegmentStorage } from '../storage/segment-storage.js';
import { isErrno } from '../storage/fs-async.js';
import { JournalFile, journalFileName, listJournalFiles, replayJournalFile } from '../storage/journal.js';
import type { JournalFileFormat } from '../storage/journal-format.js';
import type { JournalRecord } from '../storage/journal-format.js';
import { batchBaseOffset, readBatchFields, type BatchFields } from './batch-fields.js';
import { Checkpointer } from './checkpointer.js';
import { ReadAhead, type ReadAheadStats, type ReadChunk } from './read-ahead.js';
import { SegmentFlusher } from './segment-flusher.js';
import { GroupCommitter, storageError, type AppendRequest } from './group-commit.js';
import { FsyncThread } from '../storage/fsync-thread.js';
import { outOfRange, PartitionLog, type PartitionDeps } from './partition-log.js';
import { isIdempotent } from './producer-state.js';
import { TailCache } from './tail-cache.js';
import { SegmentCompactor } from '../compaction/segment-compactor.js';
import { hasRewriteMarker, removeRewriteMarker } from '../storage/rewrite-marker.js';
import { cutPartitionForRewrite } from './journal-rewrite.js';
import { StorageFailure, type StorageFailureListener } from './storage-failure.js';

/** Options of a plain messages append (no compression, no producer): one object for all of them. */
const NO_ENCODE_OPTIONS: EncodeOptions = Object.freeze({});

/** An append request's resolve/reject until append() puts its promise's own in. */
function notYetSubmitted(): never {
  throw new Error('append request settled before it was submitted');
}

export interface LogManagerOptions {
  readonly dataDir: string;
  readonly limits: CoreLimits;
  readonly tuning: StorageTuning;
  readonly fsync: FsyncPolicy;
  /** Default 'auto' (CoreOptions.journalIo). */
  readonly journalIo?: JournalIo;
  readonly logger: Logger;
  readonly now: () => number;
  /** Where segment files live; default: LocalSegmentStorage under <dataDir>/log. Closed by close(). */
  readonly segmentStorage?: SegmentStorage;
}

export interface TopicLayout {
  readonly topicId: number;
  readonly name: string;
  readonly partitions: number;
  readonly policies: TopicPolicies;
}

/** ReadResult.release of a result that holds no pooled buffer. */
function releaseNothing(): void {}

/** Partitions loaded concurrently during recovery. */
const RECOVERY_CONCURRENCY = 32;

export class LogManager {
  private readonly logsByName = new Map<string, PartitionLog[]>();
  private readonly logsById = new Map<number, PartitionLog[]>();
  readonly storage: SegmentStorage;
  readonly tailCache: TailCache;
  readonly compactor: SegmentCompactor;
  private committer!: GroupCommitter;
  /** `auto` journal I/O: the thread that takes overlapping groups' fdatasyncs (started on first use). */
  private fsyncThread: FsyncThread | null = null;
  private checkpointer!: Checkpointer;
  private readonly flusher: SegmentFlusher;
  private readonly readAhead: ReadAhead;
  private readonly appendListeners = new Set<(event: AppendEvent) => void>();
  private waiterCount = 0;
  private partitionCount = 0;
  private readonly timers: NodeJS.Timeout[] = [];
  private closing: Promise<void> | null = null;
  private readonly logDir: string;
  private readonly journalDir: string;
  /** Files and directories changed by recovery (before the checkpointer exists). */
  private readonly recoveryDirty: [string | null, string][] = [];
  /** The failed storage state after an fsync failed (docs/storage.md "When an fsync fails"). */
  readonly storageFailure: StorageFailure;
  /** The rewrite marker was found at open: removed after the first checkpoint that succeeds. */
  private rewriteMarkerPresent = false;
  /** What every partition needs from the manager: one object shared by all (memory per idle partition). */
  private readonly partitionDeps: PartitionDeps;

  private constructor(private readonly options: LogManagerOptions) {
    this.storage = options.segmentStorage ?? new LocalSegmentStorage(path.join(options.dataDir, 'log'), options.limits.openFilesMax, options.logger);
    this.tailCache = new TailCache(options.limits.tailCacheBytesMax);
    this.compactor = new SegmentCompactor({
      storage: this.storage,
      tailCache: this.tailCache,
      indexIntervalBytes: options.tuning.indexIntervalBytes,
      logger: options.logger,
      now: options.now,
    });
    this.logDir = this.storage.root;
    this.journalDir = path.join(options.dataDir, 'journal');
    this.storageFailure = new StorageFailure(this.journalDir, options.logger, options.now);
    this.readAhead = new ReadAhead(
      options.tuning.readAheadBytes,
      options.tuning.readAheadChunksMax,
      options.tuning.readAheadPoolChunksMax,
      options.tuning.readAheadIo,
    );
    this.flusher = new SegmentFlusher(
      options.tuning.segmentPendingBytesMax,
      options.tuning.segmentFlushBytes,
      options.tuning.segmentWritesConcurrencyMax,
      options.logger,
      (file, dir) => this.checkpointer.markDirty(file, dir),
      options.tuning.segmentSyncBytes,
      (what, sync) => this.storageFailure.trackSync(what, sync),
      this.storage.writeSmall?.bind(this.storage) ?? null,
    );
    this.partitionDeps = {
      storage: this.storage,
      tuning: this.options.tuning,
      logger: this.options.logger,
      now: this.options.now,
      markDirty: (file, directory) => {
        if (this.checkpointer) this.checkpointer.markDirty(file, directory);
        else this.recoveryDirty.push([file, directory]);
      },
      dropPending: (segment) => this.flusher.drop(segment),
      readAhead: this.readAhead,
      isRecent: (segment) => segment.writtenSince >= 0 && this.flusher.bytesWritten - segment.writtenSince <= this.options.tuning.readAheadRecentBytesMax,
      storageFailed: () => this.storageFailure.failed !== null,
      trackSync: (what, sync) => this.storageFailure.trackSync(what, sync),
    };
  }

  /** Opens the store: loads every partition, replays the journal, checkpoints, starts timers. */
  static async open(options: LogManagerOptions, topics: readonly TopicLayout[]): Promise<LogManager> {
    const manager = new LogManager(options);
    await manager.recover(topics);
    return manager;
  }

  private async recover(topics: readonly TopicLayout[]): Promise<void> {
    const { logger, now } = this.options;
    await this.storage.makeDirectory(this.logDir);
    await fsp.mkdir(this.journalDir, { recursive: true });
    const pending: PartitionLog[] = [];
    for (const topic of topics) pending.push(...this.registerPartitions(topic, 0, topic.partitions));
    this.rewriteMarkerPresent = await hasRewriteMarker(this.journalDir);
    const rewritten = this.rewriteMarkerPresent ? await this.cutForRewrite() : [];
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < pending.length) await pending[next++]!.load();
    };
    await Promise.all(Array.from({ length: Math.min(RECOVERY_CONCURRENCY, pending.length) }, worker));
    for (const log of rewritten) {
      // The replay goes on from where the cut segment ends, even below the log start (a
      // deleteRecordsBefore since the last good checkpoint): segment files hold dense offsets, and
      // the records below the log start are written again but never served.
      const end = log.activeSegment?.nextOffset;
      if (end !== undefined && end < log.nextOffset) log.nextOffset = log.highWatermark = end;
    }
    await this.removeUnknownTopicDirs();

    const journals = await listJournalFiles(this.journalDir);
    let replayed = 0;
    /** Journal files holding no record of their own (a spare, a file finished before its first group): reusable at once. */
    const idle: { seq: number; bytes: number }[] = [];
    const noteIdle = async (seq: number, records: number, format: JournalFileFormat, validBytes: number): Promise<void> => {
      if (records > 0 || format === 'untagged') return;
      const bytes = (await fsp.stat(path.join(this.journalDir, journalFileName(seq)))).size;
      if (bytes > validBytes) idle.push({ seq, bytes });
    };
    for (let i = 0; i < journals.length; i++) {
      const seq = journals[i]!;
      const file = path.join(this.journalDir, journalFileName(seq));
      const result = await replayJournalFile(file, seq, (record) => this.applyJournalRecord(record));
      replayed += result.records;
      await noteIdle(seq, result.records, result.format, result.validBytes);
      if (result.end !== 'stopped') continue;
      // The file in use at the crash: its last group was torn, or its earlier life (recycled) follows.
      // A file after it can hold no acknowledged record (a rotation ends a file first, durably), so a
      // valid record there means damage: say so, and keep the log dense by stopping here anyway.
      logger.info('journal replay ends in a torn or recycled tail', { file, validBytes: result.validBytes });
      for (const laterSeq of journals.slice(i + 1)) {
        const later = await replayJournalFile(path.join(this.journalDir, journalFileName(laterSeq)), laterSeq, async () => {});
        if (later.records > 0) logger.error('journal records after an unfinished journal file are not replayed', { file: journalFileName(laterSeq), records: later.records });
        await noteIdle(laterSeq, later.records, later.format, later.validBytes);
      }
      break;
    }
    // Idle files (the spare a clean close leaves, one a crash left) become the first journal and its
    // spare, so that a restarted server overwrites recycled blocks from its first group on.
    idle.sort((a, b) => b.bytes - a.bytes);
    const io = this.options.journalIo ?? 'auto';
    if (io === 'auto') this.fsyncThread = new FsyncThread(logger);
    let seq = journals.length > 0 ? journals[journals.length - 1]! + 1 : 1;
    const reuse = async (from: { seq: number } | undefined): Promise<JournalFile> =>
      from ? await JournalFile.recycle(this.journalDir, from.seq, seq++, io) : await JournalFile.create(this.journalDir, seq++, io);
    const spareFrom = idle[0];
    const journal = await reuse(idle[1]);
    const spare = spareFrom ? await reuse(spareFrom) : null;
    this.checkpointer = new Checkpointer(
      this.journalDir,
      journal,
      this.storage,
      this.options.tuning,
      logger,
      now,
      () => this.flusher.flush(),
      () => this.flusher.pendingBytes > 0,
      this.storageFailure,
      async () => {
        if (!this.rewriteMarkerPresent) return;
        // Every record the forced rewrite wrote is in a segment fsynced by this checkpoint.
        await removeRewriteMarker(this.journalDir);
        this.rewriteMarkerPresent = false;
        logger.info('segments rewritten from the journal are durable; rewrite marker removed');
      },
    );
    if (spare) this.checkpointer.offerSpare(spare);
    for (const [file, dir] of this.recoveryDirty) this.checkpointer.markDirty(file, dir);
    this.recoveryDirty.length = 0;
    this.committer = new GroupCommitter({
      limits: this.options.limits,
      tuning: this.options.tuning,
      fsync: this.options.fsync,
      logger,
      now,
      journal: () => this.checkpointer.journal,
      betweenGroups: async () => {
        await this.flusher.afterGroup();
        await this.checkpointer.maybeCheckpoint();
      },
      checkpointDue: () => this.checkpointer.isDue,
      afterAck: () => this.flusher.afterGroup(),
      onCommitted: (requests) => this.onCommitted(requests),
      storageFailed: () => this.storageFailure.failed,
      onJournalSyncFailure: (error) => this.storageFailure.fail(error, 'fsync of the journal (interval policy)'),
      fsyncThread: this.fsyncThread,
    });
    // Make everything recovered durable, then drop the replayed journals.
    await this.checkpointer.start();
    await this.checkpointer.settled();
    logger.info('log recovered', { partitions: pending.length, journalRecordsReplayed: replayed });

    const tuning = this.options.tuning;
    this.timers.push(setInterval(() => this.committer.kick(), Math.max(10, Math.min(tuning.checkpointIntervalMs, 1000))));
    if (this.options.fsync.kind === 'interval') {
      this.timers.push(setInterval(() => this.committer.kick(), Math.max(1, this.options.fsync.intervalMs)));
    }
    for (const timer of this.timers) timer.unref();
  }

  private registerPartitions(topic: TopicLayout, from: number, to: number): PartitionLog[] {
    if (this.partitionCount + (to - from) > this.options.limits.partitionsMax) {
      throw new StrataError('LIMIT_EXCEEDED', `partitionsMax ${this.options.limits.partitionsMax} reached`);
    }
    let logs = this.logsById.get(topic.topicId);
    if (!logs) {
      logs = [];
      this.logsById.set(topic.topicId, logs);
      this.logsByName.set(topic.name, logs);
    }
    const created: PartitionLog[] = [];
    for (let partition = from; partition < to; partition++) {
      const dir = path.join(this.logDir, String(topic.topicId), String(partition));
      const log = new PartitionLog(topic.topicId, topic.name, partition, dir, this.partitionDeps, topic.policies);
      logs[partition] = log;
      created.push(log);
    }
    this.partitionCount += to - from;
    return created;
  }

  private async removeUnknownTopicDirs(): Promise<void> {
    for (const name of await this.storage.list(this.logDir)) {
      if (/^\d+$/.test(name) && this.logsById.has(Number(name))) continue;
      this.options.logger.info('removing the data of a deleted topic', { dir: name });
      await this.storage.removeDirectory(path.join(this.logDir, name));
    }
  }

  /**
   * The rewrite marker is present (storage/rewrite-marker.ts): before the partitions load, each one
   * the journal holds records of is cut back to its first journal record (journal-rewrite.ts), so
   * the replay writes every record again instead of trusting what the segment seems to hold. The
   * journal is read twice; both passes follow the replay's rule of stopping after an unfinished file.
   */
  private async cutForRewrite(): Promise<PartitionLog[]> {
    const first = new Map<PartitionLog, number>();
    for (const seq of await listJournalFiles(this.journalDir)) {
      const result = await replayJournalFile(path.join(this.journalDir, journalFileName(seq)), seq, async (record) => {
        const log = this.logsById.get(record.topicId)?.[record.partition];
        if (log && !first.has(log)) first.set(log, batchBaseOffset(record.batch));
      });
      if (result.end === 'stopped') break;
    }
    let segmentsRemoved = 0;
    let bytesCut = 0;
    for (const [log, offset] of first) {
      const cut = await cutPartitionForRewrite(this.storage, log.dir, offset);
      if (!cut) continue;
      segmentsRemoved += cut.segmentsRemoved;
      bytesCut += cut.bytesCut;
      this.recoveryDirty.push([cut.file, log.dir]);
    }
    this.options.logger.warn('rewrite marker found (an fsync failed before): segments are rewritten from the journal', {
      partitions: first.size,
      segmentsRemoved,
      bytesCut,
    });
    return [...first.keys()];
  }

  private async applyJournalRecord(record: JournalRecord): Promise<void> {
    const log = this.logsById.get(record.topicId)?.[record.partition];
    if (!log) return; // the topic was deleted after this record
    const baseOffset = batchBaseOffset(record.batch);
    // Already in the segment. (After a failed fsync the partitions were cut back to their first
    // journal record before loading, so every record is written again: cutForRewrite.)
    if (baseOffset < log.nextOffset) return;
    if (baseOffset > log.nextOffset) {
      throw new StrataError('STORAGE_ERROR', `journal record at offset ${baseOffset} leaves a gap after ${log.nextOffset} in ${log.topic}-${log.partition}`);
    }
    const fields = readBatchFields(record.batch);
    const segment = log.segmentFor(record.batch.length, new Map(), []);
    const lastOffset = baseOffset + fields.lastOffsetDelta;
    segment.noteBatch(baseOffset, lastOffset, fields.maxTimestamp, record.batch.length, this.options.tuning.indexIntervalBytes);
    segment.committedBytes = segment.bytes;
    log.nextOffset = lastOffset + 1;
    log.highWatermark = log.nextOffset;
    if (isIdempotent(fields)) log.producers.replay(fields, baseOffset, lastOffset);
    log.noteTransactions(record.batch, fields.attributes, fields.producerId, baseOffset, segment);
    // Like an acknowledged append: pending until flushed. On a full disk the flush fails, the data
    // stays readable from memory, and the journal is kept until a checkpoint succeeds.
    const bytes = Buffer.from(record.batch);
    this.flusher.add(log, segment, { baseOffset, lastOffset, bytes });
    if (this.flusher.pendingBytes >= this.options.tuning.segmentPendingBytesMax) await this.flusher.flush();
  }

  // ---------------------------------------------------------------- topics

  async addPartitions(topic: TopicLayout, from: number): Promise<void> {
    // Directories are made on a partition's first append (PartitionLog.openForWrite).
    this.registerPartitions(topic, from, topic.partitions);
  }

  async removeTopic(name: string): Promise<void> {
    const logs = this.logsByName.get(name);
    if (!logs) return;
    this.logsByName.delete(name);
    const topicId = logs[0]?.topicId;
    if (topicId !== undefined) this.logsById.delete(topicId);
    this.partitionCount -= logs.length;
    for (const log of logs) {
      this.tailCache.drop(log.tail);
      await log.destroy();
    }
    if (topicId !== undefined) await this.storage.removeDirectory(path.join(this.logDir, String(topicId)));
    this.checkpointer.markDirty(null, this.logDir);
  }

  setPolicies(name: string, policies: TopicPolicies): void {
    for (const log of this.logsByName.get(name) ?? []) log.policies = policies;
  }

  /** The log, or undefined when the topic is unknown (no error object built on the hot path). */
  findLog(name: string, partition: number): PartitionLog | undefined | null {
    const logs = this.logsByName.get(name);
    if (!logs) return undefined;
    return (Number.isInteger(partition) ? logs[partition] : undefined) ?? null;
  }

  /** Throws UNKNOWN_TOPIC / UNKNOWN_PARTITION. */
  getLog(name: string, partition: number): PartitionLog {
    const logs = this.logsByName.get(name);
    if (!logs) throw new StrataError('UNKNOWN_TOPIC', `unknown topic ${name}`);
    const log = Number.isInteger(partition) ? logs[partition] : undefined;
    if (!log) throw new StrataError('UNKNOWN_PARTITION', `topic ${name} has no partition ${partition}`);
    return log;
  }

  allLogs(): PartitionLog[] {
    const all: PartitionLog[] = [];
    for (const logs of this.logsByName.values()) all.push(...logs);
    return all;
  }

  // ---------------------------------------------------------------- append

  /**
   * Not an async function: an append is the hottest call of the store, and an async wrapper costs
   * one more promise per call. Every error still arrives as a rejection, never as a throw.
   */
  append(log: PartitionLog, input: AppendInput): Promise<AppendResult> {
    let request: AppendRequest;
    try {
      request = this.appendRequest(log, input);
    } catch (error) {
      return Promise.reject(error);
    }
    return new Promise<AppendResult>((resolve, reject) => {
      request.resolve = resolve;
      request.reject = reject;
      this.committer.submit(request)?.catch(reject);
    });
  }

  /** Validates an append and builds its request (encoding messages, verifying given batches). */
  private appendRequest(log: PartitionLog, input: AppendInput): AppendRequest {
    if (this.closing) throw new StrataError('CLOSED', 'core is closed');
    const failed = this.storageFailure.failed;
    if (failed !== null) throw failed;
    if (this.flusher.stalled) {
      throw new StrataError('STORAGE_FULL', 'segment files cannot be written (disk full?); appends wait for space');
    }
    const entryBytesMax = Math.min(this.options.limits.entryBytesMax, log.policies.entryBytesMax);
    let batches: Buffer[];
    if (input.kind === 'messages') {
      if (input.messages.length === 0) throw new StrataError('INVALID_ARGUMENT', 'append of zero messages');
      let options: EncodeOptions = NO_ENCODE_OPTIONS;
      if (input.compression || input.producer) {
        options = {};
        if (input.compression) options.compression = input.compression;
        if (input.producer) options.producer = input.producer;
      }
      batches = [encodeRecordBatch(input.messages, options)];
    } else {
      if (!Buffer.isBuffer(input.data) || input.data.length === 0) throw new StrataError('CORRUPT_BATCH', 'empty record batch data');
      // One copy, unless the caller gave its buffer away: the caller's buffer (often a network
      // frame) is otherwise neither retained nor patched.
      let owned = input.data;
      if (input.transfer !== true) {
        owned = Buffer.allocUnsafe(input.data.length);
        input.data.copy(owned);
      }
      batches = splitBatches(owned);
      for (const batch of batches) {
        if (!verifyBatchCrc(batch)) throw new StrataError('CORRUPT_BATCH', 'record batch CRC-32C mismatch');
      }
    }
    const fields: BatchFields[] = [];
    let bytes = 0;
    for (const batch of batches) {
      if (batch.length > entryBytesMax) {
        throw new StrataError('MESSAGE_TOO_LARGE', `record batch of ${batch.length} bytes exceeds entryBytesMax ${entryBytesMax}`);
      }
      const batchFields = readBatchFields(batch);
      if (batchFields.recordCount > batchFields.lastOffsetDelta + 1) {
        throw new StrataError('CORRUPT_BATCH', `record count ${batchFields.recordCount} exceeds lastOffsetDelta ${batchFields.lastOffsetDelta} + 1`);
      }
      fields.push(batchFields);
      bytes += batch.length;
    }
    return {
      log,
      batches,
      fields,
      bytes,
      resolve: notYetSubmitted,
      reject: notYetSubmitted,
      baseOffset: -1,
      lastOffset: -1,
      duplicate: false,
      segments: new Array<never>(batches.length),
    };
  }

  private onCommitted(requests: readonly AppendRequest[]): void {
    const now = this.options.now();
    const touched = new Set<PartitionLog>();
    for (const request of requests) {
      const log = request.log;
      if (!request.duplicate) {
        for (let i = 0; i < request.batches.length; i++) {
          const batch = request.batches[i]!;
          const baseOffset = batchBaseOffset(batch);
          const fields = request.fields[i]!;
          const lastOffset = baseOffset + fields.lastOffsetDelta;
          // One object for both (read-only): it lives until the segment write and the tail cache
          // are done with it, so it is old-generation garbage for the GC; one is half the work.
          const entry: Entry = { baseOffset, lastOffset, bytes: batch };
          log.noteTransactions(batch, fields.attributes, fields.producerId, baseOffset, request.segments[i]!);
          this.flusher.add(log, request.segments[i]!, entry);
          this.tailCache.add(log.tail, entry);
        }
        log.highWatermark = request.lastOffset + 1;
        touched.add(log);
      }
      request.resolve({
        baseOffset: request.baseOffset,
        lastOffset: request.lastOffset,
        logAppendTimeMs: now,
        logStartOffset: log.logStartOffset,
        duplicate: request.duplicate,
      });
    }
    for (const request of requests) {
      if (request.duplicate) continue;
      const event: AppendEvent = { topic: request.log.topic, partition: request.log.partition, baseOffset: request.baseOffset, lastOffset: request.lastOffset };
      for (const listener of this.appendListeners) {
        try {
          listener(event);
        } catch (error) {
          this.options.logger.error('onAppend listener threw', { error });
        }
      }
    }
    for (const log of touched) log.wake();
  }

  onAppend(listener: (event: AppendEvent) => void): () => void {
    this.appendListeners.add(listener);
    return () => this.appendListeners.delete(listener);
  }

  /** Core.onStorageFailure: called once storage failed and the rewrite marker is written. */
  onStorageFailure(listener: StorageFailureListener): () => void {
    return this.storageFailure.onFailure(listener);
  }

  // ---------------------------------------------------------------- reads

  offsets(log: PartitionLog): PartitionOffsets {
    return { logStartOffset: log.logStartOffset, highWatermark: log.highWatermark, lastStableOffset: log.lastStableOffset };
  }

  async read(log: PartitionLog, options: ReadOptions): Promise<ReadResult> {
    const { offset, maxBytes } = options;
    if (!Number.isSafeInteger(offset)) throw new StrataError('INVALID_ARGUMENT', `offset ${offset} is not an integer`);
    if (!(maxBytes > 0)) throw new StrataError('INVALID_ARGUMENT', `maxBytes ${maxBytes} must be positive`);
    const maxEntries = options.maxEntries ?? Number.POSITIVE_INFINITY;
    if (!(maxEntries > 0)) throw new StrataError('INVALID_ARGUMENT', `maxEntries ${maxEntries} must be positive`);
    const deadline = this.options.now() + Math.max(0, options.waitMs ?? 0);
    for (;;) {
      if (log.deleted) throw new StrataError('UNKNOWN_TOPIC', `topic ${log.topic} was deleted`);
      if (offset < log.logStartOffset || offset > log.highWatermark) throw outOfRange(log, offset);
      if (offset < log.highWatermark) {
        const held: ReadChunk[] = [];
        let entries: Entry[];
        try {
          entries = await log.readEntries(offset, maxBytes, maxEntries, true, () => this.tailCache.touch(log.tail), held);
        } catch (error) {
          this.dropChunks(held);
          throw error;
        }
        if (entries.length > 0 || offset < log.logStartOffset) {
          if (offset < log.logStartOffset) {
            this.dropChunks(held);
            throw outOfRange(log, offset);
          }
          return { ...this.offsets(log), entries, release: held.length === 0 ? releaseNothing : this.releaserOf(held) };
        }
        this.dropChunks(held);
      }
      const remaining = deadline - this.options.now();
      if (remaining <= 0 || options.signal?.aborted || this.closing) return { ...this.offsets(log), entries: [], release: releaseNothing };
      await this.waitOn([log], remaining, options.signal, () => log.highWatermark > offset || log.deleted);
    }
  }

  private dropChunks(chunks: readonly ReadChunk[]): void {
    for (const chunk of chunks) this.readAhead.drop(chunk);
  }

  /** ReadResult.release: drops the result's chunk references once; later calls do nothing. */
  private releaserOf(held: ReadChunk[]): () => void {
    let chunks: ReadChunk[] | null = held;
    return () => {
      if (!chunks) return;
      const dropping = chunks;
      chunks = null;
      this.dropChunks(dropping);
    };
  }

  /** Waits until `ready()` or the timeout/abort; woken by appends to `logs`, never by polling. */
  private waitOn(logs: readonly PartitionLog[], waitMs: number, signal: AbortSignal | undefined, ready: () => boolean): Promise<boolean> {
    if (ready()) return Promise.resolve(true);
    if (this.waiterCount >= this.options.limits.waitersMax) {
      return Promise.reject(new StrataError('LIMIT_EXCEEDED', `waitersMax ${this.options.limits.waitersMax} long-poll waiters reached`));
    }
    this.waiterCount++;
    return new Promise<boolean>((resolve) => {
      let done = false;
      const finish = (result: boolean): void => {
        if (done) return;
        done = true;
        this.waiterCount--;
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        for (const log of logs) log.waiters.delete(wake);
        resolve(result);
      };
      const wake = (): void => {
        if (ready()) finish(true);
        else for (const log of logs) log.waiters.add(wake);
      };
      const onAbort = (): void => finish(false);
      const timer = setTimeout(() => finish(ready()), waitMs);
      signal?.addEventListener('abort', onAbort, { once: true });
      if (signal?.aborted) return finish(false);
      for (const log of logs) log.waiters.add(wake);
    });
  }

  async waitForData(positions: readonly PartitionPosition[], waitMs: number, signal?: AbortSignal): Promise<boolean> {
    const watched: { log: PartitionLog; offset: number }[] = [];
    for (const position of positions) {
      const logs = this.logsByName.get(position.topic);
      const log = logs?.[position.partition];
      if (!log) return true; // gone or unknown: let the caller read and see the error
      watched.push({ log, offset: position.offset });
    }
    const ready = (): boolean => watched.some(({ log, offset }) => log.deleted || log.highWatermark > offset);
    if (ready()) return true;
    if (waitMs <= 0 || signal?.aborted) return false;
    return this.waitOn(
      watched.map((w) => w.log),
      waitMs,
      signal,
      ready,
    );
  }

  async offsetForTimestamp(log: PartitionLog, timestampMs: number): Promise<{ offset: number; timestamp: number } | null> {
    return log.offsetForTimestamp(timestampMs);
  }

  async deleteRecordsBefore(log: PartitionLog, beforeOffset: number): Promise<number> {
    const target = beforeOffset < 0 ? log.highWatermark : beforeOffset;
    if (!Number.isSafeInteger(target) || target > log.highWatermark) throw outOfRange(log, beforeOffset);
    try {
      await log.setLogStart(target);
      await log.deleteHeadSegments((segment) => segment.nextOffset <= target, true);
    } catch (error) {
      throw storageError(error, 'deleteRecordsBefore');
    }
    return log.logStartOffset;
  }

  /**
   * Retention (Pulsar's model): a whole sealed segment is deleted when it is past the time or size
   * retention AND either every subscription has consumed it or its messages are past the TTL.
   * Partitions without subscriptions (Kafka consumer groups live elsewhere) follow retention alone.
   * Compact-only topics are never deleted by retention.
   */
  async enforceRetention(slowestOffset: (topic: string, partition: number) => number | null): Promise<number> {
    // Failed storage: nothing is deleted or rewritten until a restart has repaired the segments.
    if (this.storageFailure.failed !== null) return 0;
    const now = this.options.now();
    let deleted = 0;
    for (const log of this.allLogs()) {
      const policies = log.policies;
      if (policies.cleanupPolicy !== 'delete') {
        // Compaction (latest value per key) runs on sealed segments before retention looks at them.
        await this.compactor.maybeCompact(log).catch((error: unknown) =>
          this.options.logger.warn('compaction failed for a partition', { topic: log.topic, partition: log.partition, error }),
        );
      }
      if (policies.cleanupPolicy === 'compact') continue;
      if (policies.retentionMs < 0 && policies.retentionBytes < 0) continue;
      const slowest = slowestOffset(log.topic, log.partition);
      try {
        deleted += await log.deleteHeadSegments((segment, bytesAfter) => {
          const pastTime = policies.retentionMs >= 0 && segment.maxTimestamp >= 0 && now - segment.maxTimestamp > policies.retentionMs;
          const pastSize = policies.retentionBytes >= 0 && bytesAfter >= policies.retentionBytes;
          if (!pastTime && !pastSize) return false;
          const consumed = slowest === null || segment.nextOffset <= slowest;
          const expired = policies.ttlMs > 0 && segment.maxTimestamp >= 0 && now - segment.maxTimestamp > policies.ttlMs;
          return consumed || expired;
        }, true);
      } catch (error) {
        this.options.logger.warn('retention failed for a partition', { topic: log.topic, partition: log.partition, error });
      }
    }
    return deleted;
  }

  startRetention(slowestOffset: (topic: string, partition: number) => number | null): void {
    let running = false;
    const timer = setInterval(() => {
      if (running) return;
      running = true;
      this.enforceRetention(slowestOffset)
        .catch((error: unknown) => this.options.logger.error('retention run failed', { error }))
        .finally(() => {
          running = false;
        });
    }, this.options.tuning.retentionCheckIntervalMs);
    timer.unref();
    this.timers.push(timer);
  }

  /** Writes every acknowledged batch still in memory to its segment file (no fsync). */
  async flushSegments(): Promise<boolean> {
    return this.flusher.flush();
  }

  /**
   * Waits until no background storage work of this core is running: a segment flush, a write-behind
   * fsync, a checkpoint's fsyncs (benchmark: another core's leftovers must not run beside a measured
   * phase). Starts none.
   */
  async backgroundSettled(): Promise<void> {
    await this.flusher.idle();
    await this.checkpointer.settled();
    await this.flusher.idle();
  }

  /** Forces a checkpoint now (tests, benchmark). */
  async checkpoint(): Promise<void> {
    await this.checkpointer.start();
    await this.checkpointer.settled();
  }

  /** The journal file groups are written to now (tests). */
  journalInUse(): JournalFile {
    return this.checkpointer.journal;
  }

  stats(): { groups: number; groupedAppends: number; journalSyncsInThread: number; scheduleProbes: number; scheduleSwitches: number; smallSegmentWrites: number; checkpoints: number; journalsRecycled: number; openFiles: number; tailCacheBytes: number; pendingBytes: number; flushes: number; syncsBehind: number } {
    return {
      journalsRecycled: this.checkpointer.journalsRecycled,
      pendingBytes: this.flusher.pendingBytes,
      flushes: this.flusher.flushes,
      syncsBehind: this.flusher.syncsBehind,
      groups: this.committer.groups,
      groupedAppends: this.committer.groupedAppends,
      journalSyncsInThread: this.committer.syncsInThread,
      scheduleProbes: this.committer.schedule.probes,
      scheduleSwitches: this.committer.schedule.switches,
      smallSegmentWrites: this.flusher.smallWrites,
      checkpoints: this.checkpointer.checkpoints,
      openFiles: this.storage.openCount,
      tailCacheBytes: this.tailCache.bytes,
    };
  }

  /** Read-ahead cache and buffer pool counters (tests, benchmark). */
  readAheadStats(): ReadAheadStats {
    return this.readAhead.stats();
  }

  async close(): Promise<void> {
    this.closing ??= (async () => {
      for (const timer of this.timers) clearInterval(timer);
      await this.committer.close();
      await this.fsyncThread?.close();
      for (const log of this.allLogs()) log.wake();
      await this.flusher.idle();
      await this.checkpointer.settled();
      await this.checkpointer.start();
      await this.checkpointer.settled();
      await this.checkpointer.close();
      await this.checkpointer.journal.close();
      await this.storageFailure.settled(); // the rewrite marker is on disk before close returns
      await this.storage.close();
    })();
    return this.closing;
  }
}

export { isErrno };

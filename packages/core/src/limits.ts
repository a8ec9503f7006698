/**
 * Defaults of every named maximum of the core (CoreLimits in core.ts) and of the topic policies,
 * plus the storage engine's own tuning constants. One file, so the numbers can be read together.
 */
import os from 'node:os';
import type { CoreLimits, TopicPolicies } from './core.js';
import { StrataError } from './errors.js';

const KiB = 1024;
const MiB = 1024 * KiB;
const DAY_MS = 24 * 60 * 60 * 1000;

export const DEFAULT_CORE_LIMITS: CoreLimits = {
  // Kafka's message.max.bytes is 1 MiB; a few handlers (HTTP, AMQP) carry larger bodies.
  entryBytesMax: 8 * MiB,
  appendQueueBytesMax: 64 * MiB,
  tailCacheBytesMax: 64 * MiB,
  openFilesMax: 512,
  partitionsMax: 100_000,
  waitersMax: 100_000,
};

export const DEFAULT_TOPIC_POLICIES: TopicPolicies = {
  retentionMs: 7 * DAY_MS, // Kafka log.retention.hours=168
  retentionBytes: -1,
  ttlMs: 0,
  cleanupPolicy: 'delete',
  segmentBytesMax: 128 * MiB,
  segmentMsMax: 7 * DAY_MS,
  segmentEntriesMax: 1_000_000,
  entryBytesMax: 8 * MiB,
};

/**
 * Which thread reads catch-up chunks into pooled buffers (docs/storage.md, "Read path").
 * `thread-pool`: libuv's pool; the event loop stays free even when the read goes to the disk, but
 * each chunk pays two thread hand-offs and the copy runs on another core. `event-loop`: synchronous
 * reads (SegmentFile.readNow where the storage has it): from the page cache ~1.8x the throughput
 * on the 2-core dev machine (catch-up bench: 86% vs 46% of a raw synchronous read loop), but a
 * read that misses the page cache blocks every connection for the disk access. `recent` (default):
 * synchronous for segments this process wrote within its last `readAheadRecentBytesMax` bytes of
 * segment writes — a consumer a little behind the tail, whose bytes the page cache still holds —
 * and the thread pool for everything older (history, segments from before a restart), which may
 * have to come from the disk.
 */
export type ReadAheadIo = 'thread-pool' | 'event-loop' | 'recent';

/** Tuning of the storage engine; not part of the public contract. */
export interface StorageTuning {
  /** Most bytes one group commit writes to the journal in one go. */
  readonly groupCommitBytesMax: number;
  /** A journal file past this size triggers a checkpoint and a new journal file. */
  readonly journalFileBytesMax: number;
  /** A checkpoint (fsync of dirty segments, old journals deleted) at least this often when dirty. */
  readonly checkpointIntervalMs: number;
  /** One sparse offset-index point per this many segment bytes. */
  readonly indexIntervalBytes: number;
  /** Smallest read from a segment file for catch-up reads. */
  readonly readChunkBytesMin: number;
  /** One catch-up disk read fetches this much; the rest serves the reader's next reads. */
  readonly readAheadBytes: number;
  /** Read-ahead chunks kept (memory: readAheadBytes x this, apart from the tail cache). */
  readonly readAheadChunksMax: number;
  /**
   * Idle read-ahead buffers (readAheadBytes each) kept for reuse once every reader released them
   * (ReadResult.release): reading into a reused buffer skips the page faults a fresh one costs.
   * Memory: readAheadBytes x this, on top of the cached chunks; 0 disables pooling.
   */
  readonly readAheadPoolChunksMax: number;
  /** Which thread reads a pooled read-ahead chunk: see ReadAheadIo. */
  readonly readAheadIo: ReadAheadIo;
  /**
   * `recent` reads: a segment counts as recent while fewer than this many segment bytes were
   * written (by this process, store-wide) since its own first bytes: they are then very likely
   * still in the page cache.
   */
  readonly readAheadRecentBytesMax: number;
  /** How often retention runs. */
  readonly retentionCheckIntervalMs: number;
  /** Concurrent fsyncs of segment files during a checkpoint. */
  readonly checkpointFsyncConcurrencyMax: number;
  /**
   * A checkpoint with at least this many dirty files and directories flushes the whole file system
   * at once (syncfs through `sync -f`) instead of one fsync per file: 10,000 dirty partitions must
   * not mean 10,000 fsyncs.
   */
  readonly checkpointSyncfsFilesMin: number;
  /**
   * Segment files written concurrently by a flush (each holds a descriptor meanwhile). Default:
   * the libuv pool size less two, 2 to 6 (thread-pool.ts), resolved when the core opens.
   */
  readonly segmentWritesConcurrencyMax: number;
  /**
   * Acknowledged bytes waiting in memory to be written to segment files (they are in the journal
   * already). Past it a flush starts; past twice it appends wait until the flush has written enough
   * to bring them back under twice it.
   */
  readonly segmentPendingBytesMax: number;
  /** A segment holding this many pending bytes is written without waiting for the global bound. */
  readonly segmentFlushBytes: number;
  /**
   * A segment with this many bytes written since its last fsync is fsynced in the background
   * (segment-flusher.ts `syncBehind`), so checkpoints do not push a journal file's worth of writes
   * to the disk at once; 0 leaves every segment fsync to the checkpoints.
   */
  readonly segmentSyncBytes: number;
  /**
   * With the fsync thread: `adaptive` chooses between two alternating halves and whole groups by
   * their measured rates (log/schedule-chooser.ts); `always` splits whenever it can (tests that
   * need the halves on any disk).
   */
  readonly fsyncThreadHalves: 'adaptive' | 'always';
  /** Most idempotent-producer batch ranges remembered per (partition, producer), KIP-98's 5. */
  readonly producerBatchesMax: number;
  /** Idempotent producers remembered per partition (least recently appending forgotten first). */
  readonly producersPerPartitionMax: number;
}

export const DEFAULT_STORAGE_TUNING: StorageTuning = {
  groupCommitBytesMax: 16 * MiB,
  journalFileBytesMax: 256 * MiB,
  checkpointIntervalMs: 10_000,
  indexIntervalBytes: 4 * KiB,
  readChunkBytesMin: 64 * KiB,
  readAheadBytes: 4 * MiB,
  readAheadChunksMax: 16,
  readAheadPoolChunksMax: 8,
  readAheadIo: 'recent',
  // An eighth of the machine's memory, at most 1 GiB: well inside what the page cache keeps of
  // recent writes unless something else presses on memory.
  readAheadRecentBytesMax: Math.min(1024 * MiB, Math.floor(os.totalmem() / 8)),
  retentionCheckIntervalMs: 30_000,
  checkpointFsyncConcurrencyMax: 4,
  producerBatchesMax: 5,
  producersPerPartitionMax: 1000,
  checkpointSyncfsFilesMin: 64,
  // Two of libuv's four threads: the journal write and fsync must not queue behind a flush.
  segmentWritesConcurrencyMax: 2,
  segmentPendingBytesMax: 64 * MiB,
  segmentFlushBytes: 1 * MiB,
  segmentSyncBytes: 8 * MiB,
  fsyncThreadHalves: 'adaptive',
};

export function resolveLimits(overrides: Partial<CoreLimits> | undefined): CoreLimits {
  const limits = { ...DEFAULT_CORE_LIMITS, ...overrides };
  for (const [name, value] of Object.entries(limits)) {
    if (!Number.isSafeInteger(value) || value <= 0) {
      throw new StrataError('INVALID_ARGUMENT', `limit ${name} must be a positive integer, got ${String(value)}`);
    }
  }
  return limits;
}

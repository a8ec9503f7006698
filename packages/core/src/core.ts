/**
 * The core API: what every protocol handler sees of the store (design brief §3, §4). Handlers use
 * this interface only; they never reach into storage internals.
 *
 * Offsets are JavaScript numbers: dense from 0 and safe up to 2^53, far past what a partition holds.
 */
import type { StrataError } from './errors.js';
import type { Message } from './message.js';
import type { MetadataStore } from './metadata/metadata-store.js';
import type { Subscriptions } from './subscription/types.js';

export type CompressionType = 'none' | 'gzip' | 'snappy' | 'lz4' | 'zstd';
export type CleanupPolicy = 'delete' | 'compact' | 'compact,delete';
export type FsyncPolicy = { kind: 'always' } | { kind: 'interval'; intervalMs: number };

/**
 * Which thread does the journal's write and fdatasync (docs/storage.md, "Journal I/O").
 * `event-loop`: synchronous calls on the event loop, as Redis does under `appendfsync always`: no
 * thread hand-offs, the loop waits out each group's fsync. `thread-pool`: libuv's pool, the loop
 * stays free during the fsync but every group pays two hand-offs to and from a pool thread.
 * `auto`: by the group's size: groups of 256 KiB or more (a Kafka producer's batches) in the pool,
 * where the hand-offs are small next to the write and flush, smaller ones on the event loop.
 */
export type JournalIo = 'auto' | 'event-loop' | 'thread-pool';

/** Retention and segment policy. On a namespace these are defaults; on a topic, overrides. */
export interface TopicPolicies {
  /** Delete whole segments older than this; -1 keeps forever. */
  readonly retentionMs: number;
  /** Delete oldest whole segments while a partition is larger than this; -1 keeps all. */
  readonly retentionBytes: number;
  /** Messages older than this are acknowledged for every subscription (Pulsar TTL); 0 = off. */
  readonly ttlMs: number;
  readonly cleanupPolicy: CleanupPolicy;
  readonly segmentBytesMax: number;
  readonly segmentMsMax: number;
  readonly segmentEntriesMax: number;
  /** Largest entry (encoded batch) accepted. */
  readonly entryBytesMax: number;
}

export interface TopicDescription {
  readonly name: string; // persistent://tenant/ns/local
  readonly partitions: number;
  /** Only the overrides set on this topic; effective = namespace policies + these. */
  readonly overrides: Partial<TopicPolicies>;
  readonly policies: TopicPolicies; // effective
  readonly createdAtMs: number;
}

export interface NamespaceDescription {
  readonly name: string; // tenant/ns
  readonly policies: TopicPolicies;
}

export interface TopicAdmin {
  /** Creates a topic; `partitions` defaults to 1. Throws TOPIC_EXISTS, INVALID_NAME, UNKNOWN_NAMESPACE. */
  create(name: string, options?: { partitions?: number; overrides?: Partial<TopicPolicies> }): Promise<TopicDescription>;
  /** Deletes a topic, its partitions, segments and subscriptions. Throws UNKNOWN_TOPIC. */
  delete(name: string): Promise<void>;
  /** Full names of the topics in `tenant/ns`, or in every namespace. */
  list(namespace?: string): string[];
  /** Throws UNKNOWN_TOPIC. */
  describe(name: string): TopicDescription;
  exists(name: string): boolean;
  /** Grows the partition count; shrinking throws INVALID_PARTITION_COUNT. */
  setPartitionCount(name: string, partitions: number): Promise<TopicDescription>;
  /** Sets (value) or removes (null) per-topic overrides. */
  updatePolicies(name: string, patch: { [K in keyof TopicPolicies]?: TopicPolicies[K] | null }): Promise<TopicDescription>;
}

export interface NamespaceAdmin {
  /** `tenant/ns`; the tenant is created on first use. Throws NAMESPACE_EXISTS. */
  create(name: string, policies?: Partial<TopicPolicies>): Promise<NamespaceDescription>;
  delete(name: string): Promise<void>; // NAMESPACE_NOT_EMPTY if it has topics
  list(tenant?: string): string[];
  describe(name: string): NamespaceDescription; // UNKNOWN_NAMESPACE
  updatePolicies(name: string, patch: Partial<TopicPolicies>): Promise<NamespaceDescription>;
}

/** Idempotent producer identity (KIP-98): one sequence space per (producerId, epoch, partition). */
export interface ProducerIdentity {
  readonly producerId: number;
  readonly producerEpoch: number;
  readonly baseSequence: number;
}

export type AppendInput =
  /** Messages any handler builds; the core encodes them as one record batch v2. */
  | {
      readonly kind: 'messages';
      readonly messages: readonly Message[];
      readonly compression?: CompressionType;
      readonly producer?: ProducerIdentity;
    }
  /**
   * One or more concatenated record batches v2 as a Kafka producer sent them: CRC-32C verified and
   * stored byte for byte, only the base offset (not covered by the CRC) assigned. Producer id,
   * epoch and sequence are taken from the batch header.
   */
  | {
      readonly kind: 'batches';
      readonly data: Buffer;
      /**
       * The caller gives `data` to the core: it will never read or write those bytes again, and no
       * other live data shares their memory worth keeping apart (the core retains `data` as it is,
       * in its tail cache and pending segment writes, and patches base offsets in place). Saves the
       * core's own copy of a large batch. Default false: the core copies (the caller's buffer is
       * neither retained nor patched).
       */
      readonly transfer?: boolean;
    };

export interface AppendResult {
  readonly baseOffset: number;
  readonly lastOffset: number;
  /** Broker time of the append, ms. */
  readonly logAppendTimeMs: number;
  readonly logStartOffset: number;
  /** True when the batch repeated an already stored (producerId, epoch, sequence): offsets are the original ones. */
  readonly duplicate: boolean;
}

/** One stored entry: a complete record batch v2 whose base offset is set. */
export interface Entry {
  readonly baseOffset: number;
  readonly lastOffset: number;
  readonly bytes: Buffer;
}

export interface ReadOptions {
  /** First offset wanted. The first entry returned may start below it (it contains it). */
  readonly offset: number;
  /**
   * Soft limit: at least one entry is returned when any is available, even if larger, and every
   * entry up to the first that holds records (compaction leaves empty batches, and a reader given
   * nothing but those may never get past them: kafkajs does not).
   */
  readonly maxBytes: number;
  readonly maxEntries?: number;
  /** Long-poll: wait up to this long for data when none is available at `offset`; woken by appends. */
  readonly waitMs?: number;
  readonly signal?: AbortSignal;
}

export interface PartitionOffsets {
  readonly logStartOffset: number;
  /** Next offset to be written (Kafka's high watermark / log end offset). */
  readonly highWatermark: number;
  /**
   * The first offset of the oldest Kafka transaction still open in the partition (KIP-98), else
   * highWatermark: a read_committed reader reads below it only.
   */
  readonly lastStableOffset: number;
}

/** One producer a partition remembers: its epoch, last sequence and open transaction. */
export interface PartitionProducer {
  readonly producerId: number;
  readonly producerEpoch: number;
  /** Sequence of its last appended record; -1 when none is remembered. */
  readonly lastSequence: number;
  /** First offset of its transaction open in this partition, or -1. */
  readonly currentTransactionStartOffset: number;
}

/** A Kafka transaction that ended in an abort: its producer's records from firstOffset up to its marker. */
export interface AbortedTransaction {
  readonly producerId: number;
  readonly firstOffset: number;
  /** The offset of its abort marker. */
  readonly lastOffset: number;
}

export interface ReadResult extends PartitionOffsets {
  /** Entries' bytes may be zero-copy views of a shared read buffer: see `release`. */
  readonly entries: readonly Entry[];
  /**
   * The caller is done with every entry's bytes: after this the bytes may be overwritten (the
   * core reuses catch-up read buffers). Never call it while any `entry.bytes` view is still in use
   * (e.g. before a socket write that references them completed). Not calling it is always safe:
   * the memory is then garbage-collected instead of reused. Always present (a no-op when nothing
   * is pooled); a second call does nothing. An own property, so `{ ...result }` keeps it.
   */
  readonly release: () => void;
}

export interface PartitionPosition {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
}

export interface AppendEvent {
  readonly topic: string;
  readonly partition: number;
  readonly baseOffset: number;
  readonly lastOffset: number;
}

export type TopicEvent =
  | { readonly type: 'created'; readonly topic: string; readonly partitions: number }
  | { readonly type: 'deleted'; readonly topic: string }
  | { readonly type: 'partitions'; readonly topic: string; readonly partitions: number }
  | { readonly type: 'policies'; readonly topic: string };

export interface Core {
  readonly nodeId: number;
  readonly topics: TopicAdmin;
  readonly namespaces: NamespaceAdmin;
  readonly subscriptions: Subscriptions;
  readonly metadata: MetadataStore;

  /** Resolves when the entry is durable per the fsync policy. Throws UNKNOWN_TOPIC, CORRUPT_BATCH,
   *  MESSAGE_TOO_LARGE, OUT_OF_ORDER_SEQUENCE, FENCED, STORAGE_FULL, STORAGE_ERROR (not retriable
   *  once an fsync failed: onStorageFailure), CLOSED. */
  append(topic: string, partition: number, input: AppendInput): Promise<AppendResult>;
  /**
   * Throws OFFSET_OUT_OF_RANGE when offset < logStartOffset or > highWatermark. Entries may view a
   * shared read buffer: call `result.release()` once nothing uses their bytes any more (optional).
   */
  read(topic: string, partition: number, options: ReadOptions): Promise<ReadResult>;
  offsets(topic: string, partition: number): PartitionOffsets;
  /**
   * Aborted transactions a read_committed reader of [fromOffset, toOffset] must drop records of:
   * marker at or past fromOffset, first offset at or before toOffset (Kafka Fetch
   * abortedTransactions). Empty for partitions that never saw a transactional batch.
   */
  abortedTransactions(topic: string, partition: number, fromOffset: number, toOffset: number): AbortedTransaction[];
  /** The idempotent and transactional producers a partition remembers (Kafka DescribeProducers). */
  producers(topic: string, partition: number): PartitionProducer[];
  /** First offset whose timestamp is >= timestampMs, or null when there is none. */
  offsetForTimestamp(topic: string, partition: number, timestampMs: number): Promise<{ offset: number; timestamp: number } | null>;
  /** The first record with the partition's largest timestamp (Kafka ListOffsets -3, KIP-734), or null when empty. */
  offsetOfMaxTimestamp(topic: string, partition: number): Promise<{ offset: number; timestamp: number } | null>;
  /** Moves the log start offset up to `beforeOffset` (Kafka DeleteRecords); returns the new log start. */
  deleteRecordsBefore(topic: string, partition: number, beforeOffset: number): Promise<number>;
  /** Resolves true as soon as any position has data at or past its offset, false after waitMs or abort. */
  waitForData(positions: readonly PartitionPosition[], waitMs: number, signal?: AbortSignal): Promise<boolean>;
  /** Allocates a new producer id (Kafka InitProducerId) or bumps the epoch of a transactional id's. */
  initProducer(transactionalId?: string | null): Promise<{ producerId: number; producerEpoch: number }>;

  /** Called synchronously after every durable append, any protocol. Returns an unsubscribe function. */
  onAppend(listener: (event: AppendEvent) => void): () => void;
  onTopicEvent(listener: (event: TopicEvent) => void): () => void;
  /**
   * Called once when an fsync failed and the store entered its failed state (docs/storage.md "When
   * an fsync fails"): appends fail with a non-retriable STORAGE_ERROR from then on, reads go on, and
   * only a restart repairs the segments from the journal. The host should close and exit non-zero so
   * that a supervisor restarts it. Called at once (next tick) when the store failed already.
   * Returns an unsubscribe function.
   */
  onStorageFailure(listener: (error: StrataError) => void): () => void;

  /** Flushes and closes; idempotent. In-flight appends finish first. */
  close(): Promise<void>;
}

/** Named maxima of the core (design brief §4 "Limits"). Every queue and buffer has one. */
export interface CoreLimits {
  /** Largest entry (encoded record batch) accepted by append. */
  readonly entryBytesMax: number;
  /** Bytes waiting for the group commit; appends past it wait (backpressure), they are not dropped. */
  readonly appendQueueBytesMax: number;
  /** Memory for recent entries served to tailing readers, across all partitions. */
  readonly tailCacheBytesMax: number;
  /** Open segment file descriptors kept in the LRU cache, across all partitions. */
  readonly openFilesMax: number;
  readonly partitionsMax: number;
  /** Long-poll waiters across all readers. */
  readonly waitersMax: number;
}

export interface CoreOptions {
  readonly dataDir: string;
  readonly nodeId?: number;
  /** Default { kind: 'always' }: an append resolves only after fsync. */
  readonly fsync?: FsyncPolicy;
  /** Default 'auto'. */
  readonly journalIo?: JournalIo;
  readonly logger?: import('./logger.js').Logger;
  readonly clock?: import('./handler.js').Clock;
  readonly limits?: Partial<CoreLimits>;
  /** Policies of namespaces created without their own (and of public/default on first start). */
  readonly defaultPolicies?: Partial<TopicPolicies>;
}

// Public surface of @strata/core. Internals stay unexported.
export * from './errors.js';
export * from './message.js';
export * from './names.js';
export * from './headers.js';
export * from './logger.js';
export * from './handler.js';
export * from './core.js';
export * from './metadata/metadata-store.js';
export * from './subscription/types.js';
export * from './record-batch/index.js';
export * from './metadata/embedded-metadata-store.js';
export { openCore, type CoreInternals } from './open-core.js';
export { DEFAULT_CORE_LIMITS, DEFAULT_TOPIC_POLICIES } from './limits.js';
export { createSubscriptions, type SubscriptionsService } from './subscription/subscriptions.js';
export { defaultSubscriptionLimits, type SubscriptionLimits } from './subscription/subscription-limits.js';
export {
  DEAD_LETTER_ORIGIN_TOPIC_HEADER,
  DEAD_LETTER_ORIGIN_PARTITION_HEADER,
  DEAD_LETTER_ORIGIN_OFFSET_HEADER,
} from './subscription/subscription.js';
export {
  compactBatches,
  CompactionKeyIndex,
  TOMBSTONE_RETENTION_MS_DEFAULT,
  type CompactOptions,
  type CompactResult,
} from './compaction/compact-batches.js';
export * from './random.js';
export { CONTROL_TYPE_ABORT, CONTROL_TYPE_COMMIT, controlTypeOf, encodeTransactionMarker, isAbortedBatch } from './log/transaction-state.js';
export { rerunWithServerThreadPool, SERVER_THREAD_POOL_SIZE, threadPoolSize } from './thread-pool.js';
export type { SegmentFile, SegmentFileStat, SegmentRewrite, SegmentStorage } from './storage/segment-storage.js';
export { LocalSegmentStorage } from './storage/local-segment-storage.js';
export { ConcurrencyLimit, passwordChecks, PASSWORD_CHECKS_CONCURRENT_MAX, PASSWORD_CHECKS_QUEUED_MAX } from './concurrency-limit.js';

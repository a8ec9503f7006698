/**
 * Core operating errors. Every error the core throws to a handler is a StrataError with a stable
 * `code` and a `retriable` flag; handlers map codes to their protocol's own error through a data
 * table (docs/errors.md). Broken invariants are not StrataErrors: they are assertion failures.
 */
export type StrataErrorCode =
  | 'UNKNOWN_TOPIC'
  | 'UNKNOWN_PARTITION'
  | 'TOPIC_EXISTS'
  | 'UNKNOWN_NAMESPACE'
  | 'NAMESPACE_EXISTS'
  | 'NAMESPACE_NOT_EMPTY'
  | 'INVALID_NAME'
  | 'INVALID_ARGUMENT'
  | 'INVALID_PARTITION_COUNT'
  | 'OFFSET_OUT_OF_RANGE'
  | 'CORRUPT_BATCH'
  | 'UNSUPPORTED_COMPRESSION'
  | 'DUPLICATE_SEQUENCE'
  | 'OUT_OF_ORDER_SEQUENCE'
  | 'FENCED'
  | 'STORAGE_FULL'
  | 'STORAGE_ERROR'
  | 'LIMIT_EXCEEDED'
  | 'MESSAGE_TOO_LARGE'
  | 'BAD_VERSION'
  | 'NOT_FOUND'
  | 'UNKNOWN_SUBSCRIPTION'
  | 'CONSUMER_BUSY'
  | 'CLOSED'
  | 'TIMEOUT';

const RETRIABLE: ReadonlySet<StrataErrorCode> = new Set<StrataErrorCode>([
  'STORAGE_FULL',
  'STORAGE_ERROR',
  'TIMEOUT',
  'UNKNOWN_TOPIC', // a topic may be created concurrently; Kafka treats this as retriable too
]);

export class StrataError extends Error {
  readonly code: StrataErrorCode;
  readonly retriable: boolean;
  override readonly cause?: unknown;

  constructor(code: StrataErrorCode, message: string, options: { retriable?: boolean; cause?: unknown } = {}) {
    super(message);
    this.name = 'StrataError';
    this.code = code;
    this.retriable = options.retriable ?? RETRIABLE.has(code);
    if (options.cause !== undefined) this.cause = options.cause;
  }
}

export function isStrataError(error: unknown, code?: StrataErrorCode): error is StrataError {
  return error instanceof StrataError && (code === undefined || error.code === code);
}

/** Invariant check: a failure is a bug in Strata, never a client's mistake. */
export function assert(condition: unknown, message: string): asserts condition {
  if (!condition) {
    const error = new Error(`assertion failed: ${message}`);
    error.name = 'AssertionError';
    throw error;
  }
}

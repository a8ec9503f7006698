/**
 * An fsync (fdatasync, syncfs, directory fsync) that reported an error. Kept apart from other I/O
 * errors because it cannot be retried: Linux reports a writeback error to one fsync only and marks
 * the failed pages clean, so a later fsync of the same file succeeds without them
 * (docs/storage.md "When an fsync fails").
 */
export class FsyncFailure extends Error {
  constructor(
    readonly what: string,
    override readonly cause: unknown,
  ) {
    super(`${what}: ${cause instanceof Error ? cause.message : String(cause)}`);
    this.name = 'FsyncFailure';
  }
}

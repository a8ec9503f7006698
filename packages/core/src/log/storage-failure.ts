/**
 * The core's failed storage state (PostgreSQL's answer to "fsyncgate": never retry an fsync, stop
 * and repair from the write-ahead log). Entered on the first fsync that cannot be trusted: a segment
 * fsync or syncfs of a checkpoint, a segment fsync before its index file, a write-behind segment
 * fsync, the journal's fsync under the interval policy, or the fsync of a journal's end record at a
 * rotation. From then on:
 *  - appends fail with STORAGE_ERROR, not retriable (reads go on);
 *  - no checkpoint runs, so no journal file is retired (recycled or deleted) and no later fsync is
 *    trusted;
 *  - the rewrite marker is written (and fsynced) first, then the listeners are told, so the host
 *    can stop and restart: recovery then rewrites the segments from the journal.
 */
import { StrataError } from '../errors.js';
import type { Logger } from '../logger.js';
import { writeRewriteMarker } from '../storage/rewrite-marker.js';

export type StorageFailureListener = (error: StrataError) => void;

export class StorageFailure {
  private error: StrataError | null = null;
  private readonly listeners = new Set<StorageFailureListener>();
  /** Set by the first failure: settles once the marker is written (or could not be) and the listeners were called. */
  private announced: Promise<void> | null = null;
  private announcedDone = false;
  /** Segment fsyncs running outside the checkpointer (a sealed segment's, before its index file). */
  private readonly syncsInFlight = new Set<Promise<void>>();

  constructor(
    private readonly journalDir: string,
    private readonly logger: Logger,
    private readonly now: () => number,
  ) {}

  /** The error appends fail with once storage failed; null while it is healthy. */
  get failed(): StrataError | null {
    return this.error;
  }

  /**
   * Enters the failed state (synchronously: nothing retires a journal after this returns). Later
   * calls only log: the state is already entered.
   */
  fail(cause: unknown, what: string): void {
    if (this.error !== null) {
      this.logger.error('another fsync failed in the failed storage state', { what, error: cause });
      return;
    }
    const reason = `${what}: ${cause instanceof Error ? cause.message : String(cause)}`;
    this.error = new StrataError(
      'STORAGE_ERROR',
      `storage failed (${reason}); appends are refused until a restart rewrites the segments from the journal`,
      { retriable: false, cause },
    );
    this.logger.error('fsync failed: storage is in the failed state; appends refused, journal kept, restart required', { what, error: cause });
    const error = this.error;
    this.announced = (async () => {
      try {
        await writeRewriteMarker(this.journalDir, reason, this.now());
      } catch (markerError) {
        // The journal is still kept (no checkpoint runs), but a restart would not know to rewrite.
        this.logger.error('could not write the rewrite marker journal/REWRITE-REQUIRED; create it by hand before restarting', { error: markerError });
      }
      this.announcedDone = true;
      for (const listener of [...this.listeners]) this.call(listener, error);
    })();
  }

  /**
   * Calls `listener` once when storage fails, after the marker is written; at once (next tick) when
   * it already failed. Returns an unsubscribe function.
   */
  onFailure(listener: StorageFailureListener): () => void {
    this.listeners.add(listener);
    const error = this.error;
    if (error !== null && this.announcedDone) queueMicrotask(() => this.listeners.has(listener) && this.call(listener, error));
    return () => this.listeners.delete(listener);
  }

  /**
   * Runs a segment fsync outside the checkpointer; a failure enters the failed state (and rejects).
   * Tracked because an fsync of the same file by the checkpointer may return success while this one
   * is the one that reports the lost pages: see `othersSettled`.
   */
  async trackSync(what: string, sync: () => Promise<void>): Promise<void> {
    const running = sync().catch((error: unknown) => {
      this.fail(error, what);
      throw error;
    });
    const settled = running.then(
      () => undefined,
      () => undefined,
    );
    this.syncsInFlight.add(settled);
    try {
      await running;
    } finally {
      this.syncsInFlight.delete(settled);
    }
  }

  /**
   * Waits for the segment fsyncs running outside the checkpointer. A checkpoint calls this after its
   * own fsyncs and before trusting them: a writeback error its fsync did not see was reported to one
   * of these (started before, possibly returning after), and is in `failed` once they settled.
   */
  async othersSettled(): Promise<void> {
    await Promise.all([...this.syncsInFlight]);
  }

  /** Resolves once a failure's marker is written and its listeners were called (tests, close). */
  async settled(): Promise<void> {
    await this.announced;
  }

  private call(listener: StorageFailureListener, error: StrataError): void {
    try {
      listener(error);
    } catch (listenerError) {
      this.logger.error('onStorageFailure listener threw', { error: listenerError });
    }
  }
}

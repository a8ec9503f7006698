/**
 * A thread that does the journal's fdatasync while the main thread stages the next group (policy
 * `always`, journal I/O `auto`). With the fdatasync on the main thread, a group's JavaScript work
 * (encoding, staging, acknowledging: ~5 µs per 1 KiB append here) and its disk wait add up; with the
 * fdatasync here they overlap: group N's fdatasync runs while group N+1 is staged and written.
 *
 * Why not libuv's pool: a pool fdatasync costs a hand-off there and back through the event loop,
 * and the pool is shared with segment writes and reads, behind which it would queue. This thread
 * does nothing but the journal's fdatasyncs, in request order, and the two sides talk through a
 * SharedArrayBuffer (fsync-thread-layout.ts): a request is a store and a notify, and the main
 * thread waits for a result synchronously, as it waited in fdatasync before. Both sides stay awake
 * for a bounded spell before they sleep, because on a virtual machine a futex wake of a sleeping
 * thread costs hundreds of microseconds (measured: docs/storage.md, "Journal I/O").
 *
 * Order is kept: requests are served one after another, so a writeback error is reported to the
 * fdatasync of the oldest group in flight, as with serial fdatasyncs on the main thread
 * (group-commit.ts, syncAfter).
 */
import { Worker } from 'node:worker_threads';
import { assert } from '../errors.js';
import type { Logger } from '../logger.js';
import { errnoException } from './thread-errno.js';
import { FSYNC_THREAD_SLOTS, Field, type FsyncThreadData } from './fsync-thread-layout.js';

/** Microseconds the main thread spins on a result before it sleeps in Atomics.wait. */
const RESULT_SPIN_US = 1000;
/** Microseconds the fsync thread spins for the next request after its last fdatasync. */
const IDLE_SPIN_US = 1000;
/** Bound of one Atomics.wait of the main thread (it loops; only bounds a lost-wake worst case). */
const RESULT_WAIT_MS = 100;

export class FsyncThread {
  private readonly state = new Int32Array(new SharedArrayBuffer(Field.Count * Int32Array.BYTES_PER_ELEMENT));
  private worker: Worker | null = null;
  private failed = false;
  private requested = 0;
  /** Newest sequence number whose result the main thread has taken. */
  private taken = 0;

  constructor(private readonly logger: Logger) {}

  /**
   * True once the thread runs. Starts it on the first call (a core whose groups never overlap,
   * as with one producer, never pays for a thread); until it is up, callers fsync themselves.
   */
  usable(): boolean {
    if (this.worker === null) {
      if (this.failed) return false;
      this.start();
      return false;
    }
    return !this.failed && Atomics.load(this.state, Field.Ready) === 1;
  }

  private start(): void {
    const data: FsyncThreadData = { state: this.state.buffer as SharedArrayBuffer, idleSpinUs: IDLE_SPIN_US };
    try {
      const worker = new Worker(new URL('./fsync-thread-worker.js', import.meta.url), { workerData: data });
      worker.unref();
      worker.on('error', (error) => {
        // Only reachable if the thread's own code throws: fdatasync errors are results, not throws.
        this.failed = true;
        this.logger.error('fsync thread failed; the journal is fsynced on the event loop', { error });
      });
      this.worker = worker;
    } catch (error) {
      this.failed = true;
      this.logger.warn('fsync thread could not start; the journal is fsynced on the event loop', { error });
    }
  }

  /** Requests an fdatasync of `fd` after everything requested before; returns its sequence number. */
  request(fd: number): number {
    assert(this.requested - this.taken < FSYNC_THREAD_SLOTS, 'fsync thread: no more requests in flight than slots');
    const seq = this.requested + 1;
    Atomics.store(this.state, Field.FdSlots + (seq % FSYNC_THREAD_SLOTS), fd);
    this.requested = seq;
    Atomics.store(this.state, Field.Requested, seq);
    Atomics.notify(this.state, Field.Requested);
    return seq;
  }

  /**
   * Waits (blocking the event loop, as an fdatasync on it does) until request `seq` is done;
   * throws its error as fs.fdatasyncSync would have. Results are taken in request order.
   */
  wait(seq: number): void {
    assert(seq > this.taken && seq <= this.requested, 'fsync thread: request not outstanding (taken twice or never requested)');
    if (Atomics.load(this.state, Field.Done) < seq) {
      const spinUntil = performance.now() + RESULT_SPIN_US / 1000;
      while (Atomics.load(this.state, Field.Done) < seq && performance.now() < spinUntil);
      for (let done = Atomics.load(this.state, Field.Done); done < seq; done = Atomics.load(this.state, Field.Done)) {
        Atomics.wait(this.state, Field.Done, done, RESULT_WAIT_MS);
      }
    }
    this.taken = seq;
    const result = Atomics.load(this.state, Field.ResultSlots + (seq % FSYNC_THREAD_SLOTS));
    if (result !== 0) throw errnoException(result, 'fdatasync');
  }

  /** Stops the thread (no request may be outstanding). */
  async close(): Promise<void> {
    const worker = this.worker;
    if (worker === null) return;
    this.worker = null;
    this.failed = true;
    Atomics.store(this.state, Field.Stop, 1);
    Atomics.notify(this.state, Field.Requested);
    await worker.terminate();
  }
}

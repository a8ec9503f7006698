/**
 * A thread that writes many small runs of bytes to segment files that already exist: open, write,
 * close, each synchronously there. With 10,000 partitions a segment flush writes each partition's
 * few KiB (SegmentFlusher), and through libuv's pool every one of those files costs three hand-offs
 * there and back (open, writev, close), each a submission and a callback on the event loop. Measured
 * on the development VM, 10,000 writes of 6 KiB: 2.0-2.1 s and 1.6 s of event-loop time through the
 * pool, 0.19-0.27 s and 0.05-0.08 s of event-loop time through this thread (docs/storage.md,
 * "Segment writes").
 *
 * The bytes go over in a SharedArrayBuffer: the event loop copies each write's buffers into it
 * (one memcpy per entry, cheap next to a syscall), posts one message per call with the paths,
 * positions and lengths, and the thread answers with one result per write: 0, or the failed call's negative
 * errno. Files are never created here (no O_CREAT): a segment file removed meanwhile (retention, a
 * deleted topic) is answered ENOENT instead of being brought back; a file's first write takes the
 * pool path, which creates it and its directory.
 */
import { Worker } from 'node:worker_threads';
import type { Logger } from '../logger.js';
import { errnoException } from './thread-errno.js';
import type { SegmentWrite } from './segment-storage.js';


/** What the thread is sent per call (segment-write-thread-worker.ts). */
export interface SegmentWriteMessage {
  readonly id: number;
  readonly staging: SharedArrayBuffer;
  readonly paths: readonly string[];
  readonly positions: Float64Array;
  readonly lengths: Int32Array;
}

/** What the thread answers: per write, 0 or the negative errno of the call that failed. */
export interface SegmentWriteReply {
  readonly id: number;
  readonly results: Int32Array;
}

/**
 * Bytes of each staging buffer kept for reuse: calls up to this size reuse one; a larger call
 * (SegmentFlusher keeps them smaller) gets a buffer of its own, dropped after it.
 */
export const SEGMENT_WRITE_STAGING_BYTES = 1024 * 1024;
/** Staging buffers kept for reuse (one per call in flight; SegmentFlusher has two in flight). */
const SPARE_STAGING_MAX = 2;

interface Waiting {
  readonly resolve: (errors: (NodeJS.ErrnoException | null)[]) => void;
  readonly reject: (error: unknown) => void;
  readonly staging: SharedArrayBuffer;
  readonly paths: readonly string[];
}

export class SegmentWriteThread {
  private worker: Worker | null = null;
  private failed = false;
  private nextId = 1;
  private readonly waiting = new Map<number, Waiting>();
  private readonly spareStaging: SharedArrayBuffer[] = [];
  /** Writes done whole (statistics: tests check the thread did them). */
  writes = 0;

  constructor(private readonly logger: Logger | null) {}

  /** True while the thread can take writes; starts it on the first call. */
  usable(): boolean {
    if (this.worker === null && !this.failed) this.start();
    return !this.failed;
  }

  private start(): void {
    try {
      const worker = new Worker(new URL('./segment-write-thread-worker.js', import.meta.url));
      worker.on('message', (reply: SegmentWriteReply) => this.answered(reply));
      // Only reachable if the thread's own code throws or it exits: write errors are results.
      worker.on('error', (error) => this.fail(error));
      worker.on('exit', (code) => this.fail(new Error(`segment write thread exited (code ${code})`)));
      // Referenced only while calls are in flight (write, answered). After the listeners: adding a
      // 'message' listener refs the worker again.
      worker.unref();
      this.worker = worker;
    } catch (error) {
      this.fail(error);
    }
  }

  private fail(error: unknown): void {
    if (!this.failed) this.logger?.error('segment write thread failed; segments are written through the pool', { error });
    this.failed = true;
    this.worker = null;
    const waiting = [...this.waiting.values()];
    this.waiting.clear();
    for (const call of waiting) call.reject(error);
  }

  /**
   * Writes each of `writes`; resolves with one entry per write, null when it was written whole,
   * else the error of the call that failed (its bytes may be partly written). Rejects only when
   * the thread itself failed, and then none of the writes may be assumed done.
   */
  write(writes: readonly SegmentWrite[]): Promise<(NodeJS.ErrnoException | null)[]> {
    if (!this.usable() || this.worker === null) return Promise.reject(new Error('segment write thread is not running'));
    let total = 0;
    for (const write of writes) total += write.bytes;
    const staging = total <= SEGMENT_WRITE_STAGING_BYTES ? (this.spareStaging.pop() ?? new SharedArrayBuffer(SEGMENT_WRITE_STAGING_BYTES)) : new SharedArrayBuffer(total);
    const bytes = new Uint8Array(staging);
    const paths: string[] = new Array<string>(writes.length);
    const positions = new Float64Array(writes.length);
    const lengths = new Int32Array(writes.length);
    let offset = 0;
    for (let i = 0; i < writes.length; i++) {
      const write = writes[i]!;
      paths[i] = write.path;
      positions[i] = write.position;
      lengths[i] = write.bytes;
      for (const buffer of write.buffers) {
        bytes.set(buffer, offset); // a native copy: Buffer#copy's argument checks cost more for 1 KiB entries
        offset += buffer.length;
      }
    }
    const id = this.nextId++;
    const message: SegmentWriteMessage = { id, staging, paths, positions, lengths };
    return new Promise((resolve, reject) => {
      if (this.waiting.size === 0) this.worker!.ref();
      this.waiting.set(id, { resolve, reject, staging, paths });
      this.worker!.postMessage(message);
    });
  }

  private answered(reply: SegmentWriteReply): void {
    const call = this.waiting.get(reply.id);
    if (call === undefined) return;
    this.waiting.delete(reply.id);
    if (this.waiting.size === 0) this.worker?.unref();
    if (call.staging.byteLength === SEGMENT_WRITE_STAGING_BYTES && this.spareStaging.length < SPARE_STAGING_MAX) this.spareStaging.push(call.staging);
    const errors: (NodeJS.ErrnoException | null)[] = new Array<NodeJS.ErrnoException | null>(reply.results.length);
    for (let i = 0; i < reply.results.length; i++) {
      const result = reply.results[i]!;
      if (result === 0) {
        errors[i] = null;
        this.writes++;
        continue;
      }
      errors[i] = errnoException(result, 'segment write', call.paths[i]!);
    }
    call.resolve(errors);
  }

  /** Stops the thread. The flusher is idle by then; a call still in flight would be rejected. */
  async close(): Promise<void> {
    this.failed = true; // no calls (and no start) from here on: close is the last use
    const worker = this.worker;
    if (worker === null) return;
    this.worker = null;
    worker.removeAllListeners('exit');
    await worker.terminate();
    const waiting = [...this.waiting.values()];
    this.waiting.clear();
    for (const call of waiting) call.reject(new Error('segment write thread closed'));
  }
}

/**
 * Reused buffers for large request frames (Produce). A ~1 MB Produce frame is garbage as soon as
 * its appends have completed (the core copies a caller's batch; it neither retains nor patches it),
 * and a fresh 1 MB buffer per request is external memory that drives V8 into mark-compacts. The
 * FrameDecoder takes frame buffers from here; a connection gives a frame back only when nothing can
 * still see it: a Produce whose every append has settled and whose response is encoded.
 *
 * Bounded: only frames of `frameBytesMin`..`frameBytesMax` are pooled, and the free list holds at
 * most `poolBytesMax` bytes; one pool per handler (one event loop, no locking).
 */
export const FRAME_POOL_FRAME_BYTES_MIN = 128 * 1024;
export const FRAME_POOL_FRAME_BYTES_MAX = 8 * 1024 * 1024;
export const FRAME_POOL_BYTES_MAX = 32 * 1024 * 1024;
/**
 * Size of the buffer reads land in outside large frame bodies (FrameDecoder read-into mode): what
 * Node itself reads per call (libuv's suggested 64 KiB).
 */
export const FRAME_STAGING_BYTES = 64 * 1024;

export class FramePool {
  private readonly free: Buffer[] = [];
  private freeBytes = 0;
  /** Buffers this pool handed out: only those may come back (a view of a socket chunk may not). */
  private readonly handedOut = new WeakSet<ArrayBufferLike>();

  private stagingBuffer: Buffer | null = null;

  constructor(private readonly poolBytesMax = FRAME_POOL_BYTES_MAX) {}

  /**
   * The buffer socket reads land in when they do not go straight into a frame (FrameDecoder read-into
   * mode), one for every connection of the handler: a read is decoded to the last byte (frames and
   * partial frames copied out) before its callback returns, and reads run one at a time on the event
   * loop, so nothing of it outlives a read. Shared, an idle connection holds no read buffer at all.
   */
  get staging(): Buffer {
    return (this.stagingBuffer ??= Buffer.allocUnsafeSlow(FRAME_STAGING_BYTES));
  }

  /** Bytes held for reuse (tests, metrics). */
  get idleBytes(): number {
    return this.freeBytes;
  }

  /** A buffer of exactly `size` bytes (uninitialized), or null when `size` is not poolable. */
  take(size: number): Buffer | null {
    if (size < FRAME_POOL_FRAME_BYTES_MIN || size > FRAME_POOL_FRAME_BYTES_MAX) return null;
    let backing: Buffer | undefined;
    for (let i = 0; i < this.free.length; i++) {
      const candidate = this.free[i]!;
      if (candidate.length >= size && candidate.length <= size * 2) {
        backing = candidate;
        this.free.splice(i, 1);
        this.freeBytes -= candidate.length;
        break;
      }
    }
    // Capacity rounded up to a power of two so that frames of similar sizes share buffers.
    backing ??= Buffer.allocUnsafeSlow(2 ** Math.ceil(Math.log2(size)));
    this.handedOut.add(backing.buffer);
    return backing.subarray(0, size);
  }

  /**
   * Gives back a frame from take() once nothing refers to its bytes any more. Anything else (a view
   * of a socket chunk, a frame given back twice) is ignored.
   */
  give(frame: Buffer): void {
    const backing = frame.buffer;
    if (!this.handedOut.has(backing)) return;
    this.handedOut.delete(backing);
    if (this.freeBytes + backing.byteLength > this.poolBytesMax) return;
    this.free.push(Buffer.from(backing, 0, backing.byteLength));
    this.freeBytes += backing.byteLength;
  }
}

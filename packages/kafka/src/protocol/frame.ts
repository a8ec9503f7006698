import { KafkaDecodeError } from './errors.js';
import { FRAME_STAGING_BYTES, type FramePool } from './frame-pool.js';

const SIZE_PREFIX_BYTES = 4;

/**
 * A frame spread over several chunks is copied into one buffer allocated when its size is known
 * (each received chunk copied once and then free), if it is at most this large. Larger frames (up to
 * frameBytesMax) are kept as chunk views and joined when complete: a peer that only sends a size
 * prefix must not make us reserve frameBytesMax for nothing.
 */
export const FRAME_PREALLOCATE_BYTES_MAX = 16 * 1024 * 1024;

export { FRAME_STAGING_BYTES };

/** A frame whose body is arriving over several chunks. */
interface PartialFrame {
  readonly size: number;
  /** Preallocated body (size <= FRAME_PREALLOCATE_BYTES_MAX), or null: collect views in `chunks`. */
  readonly body: Buffer | null;
  readonly chunks: Buffer[];
  filled: number;
}

/**
 * Splits a byte stream into Kafka frames: int32 size, then that many bytes (docs/protocol.html
 * "Common Request and Response Structure"). Frames are returned without the size prefix: as views of
 * the received chunk when a frame lies in one chunk (the common case for small requests); else in
 * one buffer allocated when the size is known, each chunk's bytes copied straight in (one copy per
 * byte, and the socket's chunks die young instead of living until the frame is complete).
 * A negative size or one above `frameBytesMax` throws KafkaDecodeError('frameTooLarge') before anything
 * is buffered for it; the decoder is unusable afterwards and the connection should close.
 */
export class FrameDecoder {
  private readonly frameBytesMax: number;
  /** The size prefix while it arrives split over chunks. */
  private readonly prefix = Buffer.alloc(SIZE_PREFIX_BYTES);
  private prefixFilled = 0;
  private partial: PartialFrame | null = null;
  /** Read-into mode (readTarget/received): the reused buffer reads land in outside large frame bodies (the pool's, shared). */
  private staging: Buffer | null = null;
  /** Read-into mode: pushing a view of the staging buffer, whose bytes the next read overwrites. */
  private pushingStaging = false;

  /** `pool` provides (reused) buffers for large frames; see FramePool for when they may go back. */
  constructor(frameBytesMax: number, private readonly pool: FramePool | null = null) {
    if (!(frameBytesMax >= 0)) throw new RangeError(`frameBytesMax must be >= 0, got ${frameBytesMax}`);
    this.frameBytesMax = frameBytesMax;
  }

  /** Bytes received but not yet returned as a frame. */
  get pendingBytes(): number {
    return this.prefixFilled + (this.partial ? SIZE_PREFIX_BYTES + this.partial.filled : 0);
  }

  /**
   * Read-into mode, for a socket that reads into buffers we provide (Node's `onread`): where the next
   * read should land. While a preallocated frame body is arriving, the rest of that body: the
   * kernel copies the bytes straight into the frame, with no chunk allocated and no copy of ours
   * (a read never goes past the frame's end, so the next frame starts in a later read). Otherwise
   * the staging buffer (the pool's, shared by every decoder of that pool: see FramePool.staging).
   * Never empty. Call `received` after every read into it, before any other decoder's read.
   */
  readTarget(): Buffer {
    const partial = this.partial;
    if (partial?.body) return partial.body.subarray(partial.filled);
    return (this.staging ??= this.pool?.staging ?? Buffer.allocUnsafeSlow(FRAME_STAGING_BYTES));
  }

  /**
   * Read-into mode: `bytes` were read into `target` (the buffer readTarget returned). Returns the
   * frames completed, none of them in the staging buffer (frames that lay in it are copied out
   * together, since the next read overwrites it). Throws like push().
   */
  received(target: Buffer, bytes: number): Buffer[] {
    if (!(bytes > 0 && bytes <= target.length)) throw new RangeError(`received ${bytes} bytes into a buffer of ${target.length}`);
    const partial = this.partial;
    if (partial?.body && target.buffer === partial.body.buffer && target.byteOffset === partial.body.byteOffset + partial.filled) {
      partial.filled += bytes;
      if (partial.filled < partial.size) return [];
      this.partial = null;
      return [partial.body];
    }
    if (target !== this.staging) throw new RangeError('received() into a buffer that readTarget() did not return');
    this.pushingStaging = true;
    let frames: Buffer[];
    try {
      frames = this.push(target.subarray(0, bytes));
    } finally {
      this.pushingStaging = false;
    }
    // Frames that lay whole in the staging buffer move out of it together: one allocation and one
    // copy per read (as Node's own read path costs), the frames views of that copy.
    let first = -1;
    let end = 0;
    for (const frame of frames) {
      if (frame.buffer !== target.buffer || frame.length === 0) continue;
      if (first < 0) first = frame.byteOffset;
      end = frame.byteOffset + frame.length;
    }
    if (first < 0) return frames;
    const moved = Buffer.allocUnsafe(end - first);
    target.copy(moved, 0, first - target.byteOffset, end - target.byteOffset);
    for (let i = 0; i < frames.length; i++) {
      const frame = frames[i]!;
      if (frame.buffer !== target.buffer || frame.length === 0) continue;
      const start = frame.byteOffset - first;
      frames[i] = moved.subarray(start, start + frame.length);
    }
    return frames;
  }

  push(chunk: Buffer): Buffer[] {
    const frames: Buffer[] = [];
    let offset = 0;
    while (offset < chunk.length) {
      if (this.partial) {
        offset = this.fill(this.partial, chunk, offset, frames);
        continue;
      }
      if (this.prefixFilled > 0 || chunk.length - offset < SIZE_PREFIX_BYTES) {
        const take = Math.min(SIZE_PREFIX_BYTES - this.prefixFilled, chunk.length - offset);
        chunk.copy(this.prefix, this.prefixFilled, offset, offset + take);
        this.prefixFilled += take;
        offset += take;
        if (this.prefixFilled < SIZE_PREFIX_BYTES) break;
        this.prefixFilled = 0;
        this.begin(this.checkSize(this.prefix.readInt32BE(0)), frames);
        continue;
      }
      const size = this.checkSize(chunk.readInt32BE(offset));
      offset += SIZE_PREFIX_BYTES;
      if (chunk.length - offset >= size) {
        frames.push(chunk.subarray(offset, offset + size));
        offset += size;
      } else {
        this.begin(size, frames);
      }
    }
    return frames;
  }

  /** Starts a frame of `size` whose body begins in a later chunk or later in this one. */
  private begin(size: number, frames: Buffer[]): void {
    if (size === 0) {
      frames.push(Buffer.alloc(0));
      return;
    }
    const body = size <= FRAME_PREALLOCATE_BYTES_MAX ? (this.pool?.take(size) ?? Buffer.allocUnsafe(size)) : null;
    this.partial = { size, body, chunks: [], filled: 0 };
  }

  /** Adds the bytes of `chunk` from `offset` that belong to `partial`; returns the new offset. */
  private fill(partial: PartialFrame, chunk: Buffer, offset: number, frames: Buffer[]): number {
    const take = Math.min(partial.size - partial.filled, chunk.length - offset);
    if (partial.body) chunk.copy(partial.body, partial.filled, offset, offset + take);
    else if (this.pushingStaging) partial.chunks.push(Buffer.from(chunk.subarray(offset, offset + take)));
    else partial.chunks.push(chunk.subarray(offset, offset + take));
    partial.filled += take;
    if (partial.filled === partial.size) {
      frames.push(partial.body ?? Buffer.concat(partial.chunks, partial.size));
      this.partial = null;
    }
    return offset + take;
  }

  private checkSize(size: number): number {
    if (size < 0 || size > this.frameBytesMax) {
      throw new KafkaDecodeError('frameTooLarge', `frame size ${size} outside 0..${this.frameBytesMax}`);
    }
    return size;
  }
}

/** One frame: int32 size of all parts, then the parts (e.g. header bytes and body bytes). */
export function encodeFrame(parts: readonly Buffer[]): Buffer {
  let size = 0;
  for (const part of parts) size += part.length;
  const frame = Buffer.allocUnsafe(SIZE_PREFIX_BYTES + size);
  frame.writeInt32BE(size, 0);
  let offset = SIZE_PREFIX_BYTES;
  for (const part of parts) {
    part.copy(frame, offset);
    offset += part.length;
  }
  return frame;
}

import { KafkaDecodeError } from './errors.js';

const SIZE_PREFIX_BYTES = 4;

/**
 * Splits a byte stream into Kafka frames: int32 size, then that many bytes (docs/protocol.html
 * "Common Request and Response Structure"). Frames are returned without the size prefix, as views of
 * the received chunks when a frame lies in one chunk (the common case), else joined once when complete,
 * so a large frame arriving in many chunks costs one copy, not one per chunk.
 * A negative size or one above `frameBytesMax` throws KafkaDecodeError('frameTooLarge') before anything
 * is buffered for it; the decoder is unusable afterwards and the connection should close.
 */
export class FrameDecoder {
  private readonly frameBytesMax: number;
  private chunks: Buffer[] = [];
  private bufferedBytes = 0;
  /** Size of the frame being assembled, or -1 while its prefix is not yet known. */
  private frameBytes = -1;

  constructor(frameBytesMax: number) {
    if (!(frameBytesMax >= 0)) throw new RangeError(`frameBytesMax must be >= 0, got ${frameBytesMax}`);
    this.frameBytesMax = frameBytesMax;
  }

  /** Bytes received but not yet returned as a frame. */
  get pendingBytes(): number {
    return this.bufferedBytes;
  }

  push(chunk: Buffer): Buffer[] {
    const frames: Buffer[] = [];
    if (chunk.length === 0) return frames;
    let data: Buffer;
    if (this.bufferedBytes === 0) {
      data = chunk;
    } else {
      this.chunks.push(chunk);
      this.bufferedBytes += chunk.length;
      // Wait for the whole frame before joining (one copy per frame).
      if (this.frameBytes < 0 && this.bufferedBytes >= SIZE_PREFIX_BYTES) this.frameBytes = this.peekSize();
      if (this.frameBytes < 0 || this.bufferedBytes < SIZE_PREFIX_BYTES + this.frameBytes) return frames;
      data = Buffer.concat(this.chunks, this.bufferedBytes);
      this.chunks = [];
      this.bufferedBytes = 0;
      this.frameBytes = -1;
    }

    let offset = 0;
    while (data.length - offset >= SIZE_PREFIX_BYTES) {
      const size = this.checkSize(data.readInt32BE(offset));
      if (data.length - offset - SIZE_PREFIX_BYTES < size) break;
      frames.push(data.subarray(offset + SIZE_PREFIX_BYTES, offset + SIZE_PREFIX_BYTES + size));
      offset += SIZE_PREFIX_BYTES + size;
    }
    if (offset < data.length) {
      const rest = data.subarray(offset);
      this.chunks = [rest];
      this.bufferedBytes = rest.length;
      this.frameBytes = rest.length >= SIZE_PREFIX_BYTES ? rest.readInt32BE(0) : -1;
    }
    return frames;
  }

  private checkSize(size: number): number {
    if (size < 0 || size > this.frameBytesMax) {
      throw new KafkaDecodeError('frameTooLarge', `frame size ${size} outside 0..${this.frameBytesMax}`);
    }
    return size;
  }

  /** Reads the size prefix spread over the first buffered chunks. */
  private peekSize(): number {
    const prefix = Buffer.allocUnsafe(SIZE_PREFIX_BYTES);
    let filled = 0;
    for (const chunk of this.chunks) {
      const take = Math.min(chunk.length, SIZE_PREFIX_BYTES - filled);
      chunk.copy(prefix, filled, 0, take);
      filled += take;
      if (filled === SIZE_PREFIX_BYTES) break;
    }
    return this.checkSize(prefix.readInt32BE(0));
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

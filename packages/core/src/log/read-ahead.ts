/**
 * Read-ahead for catch-up readers: one disk read of `chunkBytes` serves several sequential reads of
 * the same segment, so a consumer replaying history in 1 MiB fetches costs one positioned read (and
 * one fresh buffer) per 4 MiB instead of per fetch. Kept apart from the tail cache, which catch-up
 * reads must not disturb; bounded by a chunk count. Segment bytes never change once written, so a
 * cached chunk stays valid until its segment is deleted.
 */
import type { Segment } from './segment.js';

interface Chunk {
  readonly position: number;
  readonly bytes: Buffer;
}

export class ReadAhead {
  private readonly chunks = new Map<Segment, Chunk>(); // least recently used first

  constructor(
    readonly chunkBytes: number,
    private readonly chunksMax: number,
  ) {}

  /**
   * Up to `length` bytes from `position` when a cached chunk starts at or before it and reaches
   * past it (possibly fewer bytes than asked: the caller reads on from where it ends).
   */
  get(segment: Segment, position: number, length: number): Buffer | null {
    const chunk = this.chunks.get(segment);
    if (!chunk || position < chunk.position || position >= chunk.position + chunk.bytes.length) return null;
    this.chunks.delete(segment);
    this.chunks.set(segment, chunk);
    const from = position - chunk.position;
    return chunk.bytes.subarray(from, Math.min(chunk.bytes.length, from + length));
  }

  put(segment: Segment, position: number, bytes: Buffer): void {
    this.chunks.delete(segment);
    this.chunks.set(segment, { position, bytes });
    while (this.chunks.size > this.chunksMax) {
      const oldest = this.chunks.keys().next().value as Segment;
      this.chunks.delete(oldest);
    }
  }

  forget(segment: Segment): void {
    this.chunks.delete(segment);
  }
}

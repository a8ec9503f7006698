/**
 * Read-ahead for catch-up readers: one disk read of `chunkBytes` serves several sequential reads of
 * the same segment, so a consumer replaying history in 1 MiB fetches costs one positioned read per
 * 4 MiB instead of per fetch. Kept apart from the tail cache, which catch-up reads must not disturb;
 * bounded by a chunk count. Segment bytes never change once written, so a cached chunk stays valid
 * until its segment is deleted.
 *
 * Chunk buffers are pooled: reading into a fresh multi-MiB buffer costs a page fault per 4 KiB page
 * (the kernel zero-fills every page it hands out), which measured at half the throughput of reading
 * into a reused buffer. The entries a read returns are zero-copy views of a chunk, so a chunk may only
 * be overwritten once nothing views it any more. Hence a reference count per chunk:
 *  - the cache holds one while the chunk is cached (dropped on eviction or `forget`);
 *  - a reader holds one while it parses the chunk (`retain`/`drop` around the parse);
 *  - each ReadResult whose entries view the chunk holds one, dropped by `ReadResult.release()`.
 * At zero the buffer goes back to the pool (when the pool is not full) and the next disk read reuses
 * it instead of allocating. A result that is never released keeps its count above zero forever: its
 * chunk is then simply garbage-collected, never reused — correctness never depends on `release`.
 */
import { assert } from '../errors.js';
import type { ReadAheadIo } from '../limits.js';
import type { SegmentFile } from '../storage/segment-storage.js';
import type { Segment } from './segment.js';

/** Bytes of one segment read from `position`; `bytes` may be a view of a pooled buffer. */
export class ReadChunk {
  /** Holders of `bytes`: the cache, readers parsing it, results whose entries view it. */
  refs = 0;
  /** Its buffer went back to the pool: nothing may hold this chunk again. */
  recycled = false;

  constructor(
    readonly position: number,
    readonly bytes: Buffer,
    /** The whole pooled buffer `bytes` views; null when the chunk is not poolable. */
    readonly pooled: Buffer | null,
  ) {}

  get end(): number {
    return this.position + this.bytes.length;
  }
}

export interface ReadAheadStats {
  /** Disk reads whose buffer came from the pool. */
  readonly pooledReuses: number;
  /** Disk reads that allocated a poolable buffer (pool empty). */
  readonly pooledAllocations: number;
  /** Buffers waiting in the pool. */
  readonly pooledIdle: number;
  /** Chunks in the cache. */
  readonly cachedChunks: number;
  /** Pooled chunk reads made synchronously on the event loop (ReadAheadIo). */
  readonly readsNow: number;
  /** Pooled chunk reads made in the thread pool. */
  readonly readsInPool: number;
}

export class ReadAhead {
  private readonly chunks = new Map<Segment, ReadChunk>(); // least recently used first
  private readonly pool: Buffer[] = [];
  private pooledReuses = 0;
  private pooledAllocations = 0;
  private readsNow = 0;
  private readsInPool = 0;

  constructor(
    readonly chunkBytes: number,
    private readonly chunksMax: number,
    /** Idle chunk buffers kept for reuse (memory: chunkBytes x this). */
    private readonly poolChunksMax: number,
    /** Which thread reads pooled chunks (StorageTuning.readAheadIo). */
    private readonly io: ReadAheadIo = 'thread-pool',
  ) {}

  /** The cached chunk of `segment` holding `position`, or null. */
  find(segment: Segment, position: number): ReadChunk | null {
    const chunk = this.chunks.get(segment);
    if (!chunk || position < chunk.position || position >= chunk.end) return null;
    this.chunks.delete(segment);
    this.chunks.set(segment, chunk);
    return chunk;
  }

  /**
   * Reads `length` bytes at `position` into a pooled buffer when it fills at least half of one
   * (else a fresh buffer of its size, not pooled). The chunk comes back with no reference: the
   * caller retains it.
   */
  async read(file: SegmentFile, position: number, length: number, recent = false): Promise<ReadChunk> {
    // A short read (a segment's last bytes, a small segment) gets a buffer of its size: a whole
    // pooled chunk would pin up to chunkBytes for a few bytes while a result that is never released
    // keeps it (10,000 small partitions caught up by a subscription), and small buffers fault little.
    const now = file.readNow !== undefined && (this.io === 'event-loop' || (this.io === 'recent' && recent));
    if (length > this.chunkBytes || length * 2 < this.chunkBytes || this.poolChunksMax === 0) {
      return new ReadChunk(position, await this.readFile(file, length, position, now, now ? Buffer.allocUnsafeSlow(length) : undefined), null);
    }
    let buffer = this.pool.pop();
    if (buffer) this.pooledReuses++;
    else {
      // Its own ArrayBuffer, never a slice of Node's shared small-buffer pool.
      buffer = Buffer.allocUnsafeSlow(this.chunkBytes);
      this.pooledAllocations++;
    }
    let bytes: Buffer;
    try {
      bytes = await this.readFile(file, length, position, now, buffer);
    } catch (error) {
      this.recycle(buffer);
      throw error;
    }
    if (bytes.buffer !== buffer.buffer) {
      // A storage that ignores `into` (see SegmentFile.read): the pooled buffer was not used.
      this.recycle(buffer);
      return new ReadChunk(position, bytes, null);
    }
    return new ReadChunk(position, bytes, buffer);
  }

  /** One read, on the event loop (`now`, which needs `into`) or in the thread pool, counted. */
  private async readFile(file: SegmentFile, length: number, position: number, now: boolean, into: Buffer | undefined): Promise<Buffer> {
    if (now && into && file.readNow) {
      this.readsNow++;
      return file.readNow(length, position, into);
    }
    this.readsInPool++;
    return file.read(length, position, into);
  }

  /** Caches `chunk` as the read-ahead of `segment` (the cache's reference), replacing the previous one. */
  put(segment: Segment, chunk: ReadChunk): void {
    const previous = this.chunks.get(segment);
    if (previous === chunk) return;
    this.chunks.delete(segment);
    if (previous) this.drop(previous);
    this.retain(chunk);
    this.chunks.set(segment, chunk);
    while (this.chunks.size > this.chunksMax) {
      const [oldest, evicted] = this.chunks.entries().next().value as [Segment, ReadChunk];
      this.chunks.delete(oldest);
      this.drop(evicted);
    }
  }

  forget(segment: Segment): void {
    const chunk = this.chunks.get(segment);
    if (!chunk) return;
    this.chunks.delete(segment);
    this.drop(chunk);
  }

  retain(chunk: ReadChunk): void {
    assert(!chunk.recycled, 'a recycled read-ahead chunk was retained');
    chunk.refs++;
  }

  /** Drops one reference; the last one returns a pooled buffer to the pool. */
  drop(chunk: ReadChunk): void {
    if (chunk.refs <= 0) return; // never below zero: a buffer must not enter the pool twice
    chunk.refs--;
    if (chunk.refs === 0 && chunk.pooled) {
      chunk.recycled = true;
      this.recycle(chunk.pooled);
    }
  }

  private recycle(buffer: Buffer): void {
    if (this.pool.length < this.poolChunksMax) this.pool.push(buffer);
  }

  stats(): ReadAheadStats {
    return {
      pooledReuses: this.pooledReuses,
      pooledAllocations: this.pooledAllocations,
      pooledIdle: this.pool.length,
      readsNow: this.readsNow,
      readsInPool: this.readsInPool,
      cachedChunks: this.chunks.size,
    };
  }
}

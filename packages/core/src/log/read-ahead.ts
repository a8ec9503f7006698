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

/** A disk read started before a sequential reader asked for it. */
interface Prefetch {
  readonly position: number;
  /** The chunk with one reference (the prefetch's), or null when it failed or was cancelled. */
  done: Promise<ReadChunk | null>;
  cancelled: boolean;
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
  /** Prefetches started, and those a reader then used. */
  readonly prefetches: number;
  readonly prefetchesUsed: number;
  /** Prefetches in flight or waiting for their reader now. */
  readonly prefetchesPending: number;
}

export class ReadAhead {
  private readonly chunks = new Map<Segment, ReadChunk>(); // least recently used first
  private readonly pool: Buffer[] = [];
  private readonly prefetching = new Map<Segment, Prefetch>(); // oldest first
  private pooledReuses = 0;
  private pooledAllocations = 0;
  private prefetches = 0;
  private prefetchesUsed = 0;

  constructor(
    readonly chunkBytes: number,
    private readonly chunksMax: number,
    /** Idle chunk buffers kept for reuse (memory: chunkBytes x this). */
    private readonly poolChunksMax: number,
    /** Prefetched chunks in flight or waiting for their reader (memory: chunkBytes x this). */
    private readonly prefetchMax = 0,
  ) {}

  /** The cached chunk of `segment`, wherever it is. */
  cached(segment: Segment): ReadChunk | null {
    return this.chunks.get(segment) ?? null;
  }

  /**
   * Starts reading `length` bytes at `position` of `segment` for a sequential reader that will ask
   * for them next (`takePrefetch`), so that the disk read overlaps the reader's work on the current
   * chunk. At most one per segment and `prefetchMax` in all (the oldest is cancelled for a new one).
   */
  prefetch(segment: Segment, position: number, length: number, open: () => Promise<SegmentFile>): void {
    if (this.prefetchMax === 0 || length <= 0 || length > this.chunkBytes || this.prefetching.has(segment)) return;
    while (this.prefetching.size >= this.prefetchMax) {
      const [oldest, stale] = this.prefetching.entries().next().value as [Segment, Prefetch];
      this.cancel(oldest, stale);
    }
    const entry: Prefetch = { position, done: Promise.resolve(null), cancelled: false };
    entry.done = this.runPrefetch(segment, entry, length, open);
    this.prefetching.set(segment, entry);
    this.prefetches++;
  }

  private async runPrefetch(segment: Segment, entry: Prefetch, length: number, open: () => Promise<SegmentFile>): Promise<ReadChunk | null> {
    let file: SegmentFile | null = null;
    try {
      file = await open();
      // Compaction swapped the file (positions no longer fit) or the reader moved on: not needed.
      if (entry.cancelled || segment.superseded) return null;
      const chunk = await this.read(file, entry.position, length);
      if (entry.cancelled || segment.superseded) {
        this.discard(chunk);
        return null;
      }
      this.retain(chunk); // the prefetch's reference, handed to the reader that takes it
      return chunk;
    } catch {
      return null; // deleted meanwhile, or an I/O error the reader will meet itself when it reads
    } finally {
      file?.release();
    }
  }

  /**
   * The prefetch of `segment` at `position` for its reader to await (the chunk then carries one
   * reference for the caller), or null. A prefetch at another position is cancelled: its reader
   * went elsewhere.
   */
  takePrefetch(segment: Segment, position: number): Promise<ReadChunk | null> | null {
    const entry = this.prefetching.get(segment);
    if (!entry) return null;
    this.prefetching.delete(segment);
    if (entry.position !== position) {
      this.cancel(segment, entry);
      return null;
    }
    this.prefetchesUsed++;
    return entry.done;
  }

  private cancel(segment: Segment, entry: Prefetch): void {
    entry.cancelled = true;
    if (this.prefetching.get(segment) === entry) this.prefetching.delete(segment);
    // Finished already: its chunk (with the prefetch's reference) is not wanted.
    void entry.done.then((chunk) => {
      if (chunk) this.drop(chunk);
    });
  }

  /** A chunk nobody ever referenced goes straight back to the pool. */
  private discard(chunk: ReadChunk): void {
    if (chunk.refs === 0 && chunk.pooled && !chunk.recycled) {
      chunk.recycled = true;
      this.recycle(chunk.pooled);
    }
  }

  /** The cached chunk of `segment` holding `position`, or null. */
  find(segment: Segment, position: number): ReadChunk | null {
    const chunk = this.chunks.get(segment);
    if (!chunk || position < chunk.position || position >= chunk.end) return null;
    this.chunks.delete(segment);
    this.chunks.set(segment, chunk);
    return chunk;
  }

  /**
   * Reads `length` bytes at `position` into a pooled buffer when it fits one (else a fresh buffer,
   * not pooled). The chunk comes back with no reference: the caller retains it.
   */
  async read(file: SegmentFile, position: number, length: number): Promise<ReadChunk> {
    if (length > this.chunkBytes || this.poolChunksMax === 0) return new ReadChunk(position, await file.read(length, position), null);
    let buffer = this.pool.pop();
    if (buffer) this.pooledReuses++;
    else {
      // Its own ArrayBuffer, never a slice of Node's shared small-buffer pool.
      buffer = Buffer.allocUnsafeSlow(this.chunkBytes);
      this.pooledAllocations++;
    }
    let bytes: Buffer;
    try {
      bytes = await file.read(length, position, buffer);
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
    const prefetch = this.prefetching.get(segment);
    if (prefetch) this.cancel(segment, prefetch);
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
      cachedChunks: this.chunks.size,
      prefetches: this.prefetches,
      prefetchesUsed: this.prefetchesUsed,
      prefetchesPending: this.prefetching.size,
    };
  }
}

/**
 * The tail cache: the most recent acknowledged entries of each partition, in memory, so tailing
 * readers never touch the disk. One byte budget (CoreLimits.tailCacheBytesMax) across partitions,
 * least recently used partition evicted first. Only appends fill it and only tailing reads refresh
 * it: catch-up reads go to disk and leave it alone.
 */
import type { Entry } from '../core.js';

/** Per-partition part of the cache: a run of consecutive entries ending at the high watermark. */
export class TailRun {
  entries: Entry[] = [];
  start = 0; // index of the first live entry
  bytes = 0;

  get length(): number {
    return this.entries.length - this.start;
  }

  first(): Entry | undefined {
    return this.entries[this.start];
  }

  /** Live entries from the first whose lastOffset >= offset. */
  indexFor(offset: number): number {
    let low = this.start;
    let high = this.entries.length - 1;
    let found = this.entries.length;
    while (low <= high) {
      const middle = (low + high) >>> 1;
      if (this.entries[middle]!.lastOffset >= offset) {
        found = middle;
        high = middle - 1;
      } else {
        low = middle + 1;
      }
    }
    return found;
  }

  dropFirst(): number {
    const entry = this.entries[this.start];
    if (!entry) return 0;
    this.entries[this.start] = undefined as unknown as Entry;
    this.start++;
    this.bytes -= entry.bytes.length;
    if (this.start > 64 && this.start * 2 > this.entries.length) {
      this.entries = this.entries.slice(this.start);
      this.start = 0;
    }
    return entry.bytes.length;
  }

  clear(): number {
    const bytes = this.bytes;
    this.entries = [];
    this.start = 0;
    this.bytes = 0;
    return bytes;
  }
}

export class TailCache {
  private readonly runs = new Map<TailRun, true>(); // least recently used first
  /** The run touched last (the Map's last key while it is in the Map). */
  private mostRecent: TailRun | null = null;
  private totalBytes = 0;

  constructor(private readonly bytesMax: number) {}

  get bytes(): number {
    return this.totalBytes;
  }

  /** Appends an entry that directly follows the run's last one (the caller guarantees it). */
  add(run: TailRun, entry: Entry): void {
    if (entry.bytes.length > this.bytesMax) {
      this.totalBytes -= run.clear(); // too large to cache: the run must stay consecutive, so restart it
      this.runs.delete(run);
      return;
    }
    run.entries.push(entry);
    run.bytes += entry.bytes.length;
    this.totalBytes += entry.bytes.length;
    this.touch(run);
    this.evict(run);
  }

  touch(run: TailRun): void {
    // Appends to one partition in a row touch the same run: already the most recent, nothing to move.
    if (this.mostRecent === run && this.runs.has(run)) return;
    this.runs.delete(run);
    this.runs.set(run, true);
    this.mostRecent = run;
  }

  /** Drops a run's entries that end below `offset` (compaction rewrote them on disk). */
  trimBelow(run: TailRun, offset: number): void {
    for (let first = run.first(); first && first.lastOffset < offset; first = run.first()) this.totalBytes -= run.dropFirst();
    if (run.length === 0) this.runs.delete(run);
  }

  drop(run: TailRun): void {
    this.totalBytes -= run.clear();
    this.runs.delete(run);
  }

  private evict(current: TailRun): void {
    while (this.totalBytes > this.bytesMax) {
      const oldest = this.runs.keys().next().value as TailRun | undefined;
      if (!oldest) return;
      if (oldest !== current) {
        this.drop(oldest);
        continue;
      }
      // Only the current partition is left: trim its oldest entries.
      this.totalBytes -= current.dropFirst();
      if (current.length === 0) this.runs.delete(current);
    }
  }
}

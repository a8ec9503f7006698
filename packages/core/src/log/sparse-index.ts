/**
 * A segment's sparse offset and time index, in memory: one point per `indexIntervalBytes` of data.
 * Point i says "the batch at `position` starts at `offset`, and every batch before it in this
 * segment has a timestamp below `maxTimestampBefore`". Reads binary-search it by offset; timestamp
 * lookups by maxTimestampBefore (monotonic by construction). Typed arrays grown by doubling: a few
 * bytes per 4 KiB of data, nothing per idle partition beyond the first point.
 */
const INITIAL_CAPACITY = 4;

export class SparseIndex {
  private offsets = new Float64Array(INITIAL_CAPACITY);
  private positions = new Float64Array(INITIAL_CAPACITY);
  private maxTimestampsBefore = new Float64Array(INITIAL_CAPACITY);
  count = 0;

  add(offset: number, position: number, maxTimestampBefore: number): void {
    if (this.count === this.offsets.length) this.grow();
    this.offsets[this.count] = offset;
    this.positions[this.count] = position;
    this.maxTimestampsBefore[this.count] = maxTimestampBefore;
    this.count++;
  }

  /** Drops points at or past `position` (after a truncation). */
  truncateToPosition(position: number): void {
    while (this.count > 0 && this.positions[this.count - 1]! >= position) this.count--;
  }

  /** Position of the last point whose offset is <= `offset` (0 when none). */
  positionForOffset(offset: number): number {
    let low = 0;
    let high = this.count - 1;
    let found = -1;
    while (low <= high) {
      const middle = (low + high) >>> 1;
      if (this.offsets[middle]! <= offset) {
        found = middle;
        low = middle + 1;
      } else {
        high = middle - 1;
      }
    }
    return found < 0 ? 0 : this.positions[found]!;
  }

  /** Position of the last point before which every batch is older than `timestampMs` (0 when none). */
  positionForTimestamp(timestampMs: number): number {
    let found = -1;
    let low = 0;
    let high = this.count - 1;
    while (low <= high) {
      const middle = (low + high) >>> 1;
      if (this.maxTimestampsBefore[middle]! < timestampMs) {
        found = middle;
        low = middle + 1;
      } else {
        high = middle - 1;
      }
    }
    return found < 0 ? 0 : this.positions[found]!;
  }

  /** The points, for the segment's index file. */
  points(): [number, number, number][] {
    const out: [number, number, number][] = [];
    for (let i = 0; i < this.count; i++) out.push([this.offsets[i]!, this.positions[i]!, this.maxTimestampsBefore[i]!]);
    return out;
  }

  get memoryBytes(): number {
    return this.offsets.byteLength * 3;
  }

  private grow(): void {
    const capacity = this.offsets.length * 2;
    const offsets = new Float64Array(capacity);
    offsets.set(this.offsets);
    const positions = new Float64Array(capacity);
    positions.set(this.positions);
    const timestamps = new Float64Array(capacity);
    timestamps.set(this.maxTimestampsBefore);
    this.offsets = offsets;
    this.positions = positions;
    this.maxTimestampsBefore = timestamps;
  }
}

/**
 * A cursor's acknowledgement state (Pulsar ManagedCursor): the mark-delete offset, below which
 * everything is acknowledged, and the individually acknowledged ranges above it. Ranges are kept
 * sorted, disjoint and non-adjacent as half-open [start, end); when the first range reaches the
 * mark-delete offset it is absorbed into it. Acks mostly arrive in order, so the common case is
 * extending the last range or the mark-delete offset itself: O(1); out-of-order acks binary-search.
 */
export class AckSet {
  private starts: number[] = [];
  private ends: number[] = [];

  constructor(
    private markDelete: number,
    ranges: readonly (readonly [number, number])[] = [],
  ) {
    // Persisted ranges are re-normalised: sorted, clipped to the mark-delete offset, merged.
    const sorted = ranges.filter(([start, end]) => end > start).sort((a, b) => a[0] - b[0]);
    for (const [rangeStart, end] of sorted) {
      const start = Math.max(rangeStart, this.markDelete);
      if (end <= start) continue;
      const last = this.starts.length - 1;
      if (last >= 0 && start <= this.ends[last]!) this.ends[last] = Math.max(this.ends[last]!, end);
      else {
        this.starts.push(start);
        this.ends.push(end);
      }
    }
    this.absorbFirstRange();
  }

  get markDeleteOffset(): number {
    return this.markDelete;
  }

  isAcked(offset: number): boolean {
    if (offset < this.markDelete) return true;
    const index = this.rangeAtOrBefore(offset);
    return index >= 0 && offset < this.ends[index]!;
  }

  /** Index of the last range whose start is <= offset, or -1. */
  private rangeAtOrBefore(offset: number): number {
    let low = 0;
    let high = this.starts.length - 1;
    let found = -1;
    while (low <= high) {
      const middle = (low + high) >> 1;
      if (this.starts[middle]! <= offset) {
        found = middle;
        low = middle + 1;
      } else high = middle - 1;
    }
    return found;
  }

  /** Returns true when the offset was not acknowledged before. */
  ack(offset: number): boolean {
    if (this.isAcked(offset)) return false;
    if (offset === this.markDelete) {
      this.markDelete++;
      this.absorbFirstRange();
      return true;
    }
    const index = this.rangeAtOrBefore(offset);
    const joinsPrevious = index >= 0 && this.ends[index] === offset;
    const joinsNext = index + 1 < this.starts.length && this.starts[index + 1] === offset + 1;
    if (joinsPrevious && joinsNext) {
      this.ends[index] = this.ends[index + 1]!;
      this.starts.splice(index + 1, 1);
      this.ends.splice(index + 1, 1);
    } else if (joinsPrevious) {
      this.ends[index] = offset + 1;
    } else if (joinsNext) {
      this.starts[index + 1] = offset;
    } else {
      this.starts.splice(index + 1, 0, offset);
      this.ends.splice(index + 1, 0, offset + 1);
    }
    return true;
  }

  /** Acknowledges everything below `endExclusive`. */
  ackBelow(endExclusive: number): void {
    if (endExclusive <= this.markDelete) return;
    this.markDelete = endExclusive;
    let drop = 0;
    while (drop < this.starts.length && this.ends[drop]! <= endExclusive) drop++;
    this.starts.splice(0, drop);
    this.ends.splice(0, drop);
    if (this.starts.length > 0 && this.starts[0]! < endExclusive) this.starts[0] = endExclusive;
    this.absorbFirstRange();
  }

  private absorbFirstRange(): void {
    if (this.starts.length > 0 && this.starts[0] === this.markDelete) {
      this.markDelete = this.ends[0]!;
      this.starts.shift();
      this.ends.shift();
    }
  }

  /** Everything before `offset` acknowledged, everything from it on not. */
  reset(offset: number): void {
    this.markDelete = offset;
    this.starts = [];
    this.ends = [];
  }

  /** Acknowledged offsets above the mark-delete offset. */
  ackedAboveMarkDelete(): number {
    let count = 0;
    for (let i = 0; i < this.starts.length; i++) count += this.ends[i]! - this.starts[i]!;
    return count;
  }

  rangeCount(): number {
    return this.starts.length;
  }

  /** The first `rangesMax` ranges; dropping the rest only causes redelivery, never loss. */
  ranges(rangesMax: number): [number, number][] {
    const out: [number, number][] = [];
    for (let i = 0; i < this.starts.length && i < rangesMax; i++) out.push([this.starts[i]!, this.ends[i]!]);
    return out;
  }
}

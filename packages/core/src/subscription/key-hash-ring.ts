/**
 * Consistent hashing of message keys over Key_Shared consumers (Pulsar's
 * ConsistentHashingStickyKeyConsumerSelector): each consumer owns `POINTS_PER_CONSUMER` points on
 * a 32-bit ring; a key goes to the owner of the first point at or after its hash. Adding or
 * removing a consumer moves only the keys of the ring arcs it gains or loses.
 */
import { crc32cRange } from '../record-batch/crc32c.js';

const POINTS_PER_CONSUMER = 100;

export function hashKey(key: Buffer | null): number {
  return key === null ? 0 : crc32cRange(key, 0, key.length);
}

export class KeyHashRing<T> {
  private points: { hash: number; member: T }[] = [];

  add(member: T, identity: string): void {
    for (let i = 0; i < POINTS_PER_CONSUMER; i++) {
      this.points.push({ hash: hashKey(Buffer.from(`${identity}#${i}`)), member });
    }
    this.points.sort((a, b) => a.hash - b.hash);
  }

  remove(member: T): void {
    this.points = this.points.filter((point) => point.member !== member);
  }

  lookup(hash: number): T | null {
    if (this.points.length === 0) return null;
    let low = 0;
    let high = this.points.length;
    while (low < high) {
      const middle = (low + high) >> 1;
      if (this.points[middle]!.hash < hash) low = middle + 1;
      else high = middle;
    }
    return this.points[low === this.points.length ? 0 : low]!.member;
  }
}

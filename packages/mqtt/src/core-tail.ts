/**
 * The online fan-out path: one reader per core topic partition follows the core's tail, woken by
 * core.onAppend (any protocol's appends, not only ours), decodes each entry once, and hands every
 * message to `deliver`, which matches it against the in-memory subscription index. Persistent
 * sessions do not use this path; they read through their own durable core subscriptions.
 */
import { decodeRecordBatch, type Core, type Logger, type StoredMessage } from '@strata/core';

/** Bytes fetched per read while catching up to the tail. */
const READ_BYTES_MAX = 1024 * 1024;
/** Entries per read, so one busy partition yields to others between reads. */
const READ_ENTRIES_MAX = 256;

interface PartitionTail {
  readonly topic: string;
  readonly partition: number;
  nextOffset: number;
  pumping: boolean;
  /** An append arrived while pumping: read again afterwards. */
  again: boolean;
}

export class CoreTail {
  private readonly tails = new Map<string, PartitionTail>();
  private unsubscribe: (() => void) | null = null;
  private closed = false;

  constructor(
    private readonly core: Core,
    private readonly logger: Logger,
    /** Called in offset order per partition. */
    private readonly deliver: (topic: string, partition: number, message: StoredMessage) => void,
    /** When false nothing is decoded; readers just skip to the tail. */
    private readonly hasSubscribers: () => boolean,
  ) {}

  start(): void {
    this.unsubscribe = this.core.onAppend((event) => {
      const tail = this.tails.get(key(event.topic, event.partition));
      if (tail !== undefined) this.wake(tail);
    });
  }

  /** Follows a partition from its current end. Idempotent. */
  follow(topic: string, partition: number): void {
    const k = key(topic, partition);
    if (this.tails.has(k)) return;
    const { highWatermark } = this.core.offsets(topic, partition);
    this.tails.set(k, { topic, partition, nextOffset: highWatermark, pumping: false, again: false });
  }

  /** Every message below this offset has been handed to `deliver`. */
  position(topic: string, partition: number): number {
    return this.tails.get(key(topic, partition))?.nextOffset ?? this.core.offsets(topic, partition).highWatermark;
  }

  unfollow(topic: string): void {
    for (const [k, tail] of this.tails) if (tail.topic === topic) this.tails.delete(k);
  }

  private wake(tail: PartitionTail): void {
    if (this.closed) return;
    if (tail.pumping) {
      tail.again = true;
      return;
    }
    tail.pumping = true;
    this.pump(tail).then(
      () => {
        tail.pumping = false;
      },
      (error: unknown) => {
        tail.pumping = false;
        this.logger.warn('tail read failed', { topic: tail.topic, partition: tail.partition, error });
      },
    );
  }

  private async pump(tail: PartitionTail): Promise<void> {
    do {
      tail.again = false;
      // Bounded: each pass reads up to the high watermark seen at its start, advancing nextOffset.
      for (;;) {
        if (this.closed) return;
        const { highWatermark, logStartOffset } = this.core.offsets(tail.topic, tail.partition);
        if (tail.nextOffset >= highWatermark) break;
        if (!this.hasSubscribers()) {
          tail.nextOffset = highWatermark;
          break;
        }
        if (tail.nextOffset < logStartOffset) tail.nextOffset = logStartOffset;
        const result = await this.core.read(tail.topic, tail.partition, {
          offset: tail.nextOffset,
          maxBytes: READ_BYTES_MAX,
          maxEntries: READ_ENTRIES_MAX,
        });
        if (result.entries.length === 0) break;
        for (const entry of result.entries) {
          const { header, messages } = decodeRecordBatch(entry.bytes);
          if (!header.isControl) {
            for (const m of messages) if (m.offset >= tail.nextOffset) this.deliver(tail.topic, tail.partition, m);
          }
          tail.nextOffset = Math.max(tail.nextOffset, entry.lastOffset + 1);
        }
      }
    } while (tail.again);
  }

  close(): void {
    this.closed = true;
    this.unsubscribe?.();
    this.unsubscribe = null;
    this.tails.clear();
  }
}

function key(topic: string, partition: number): string {
  return `${topic}\u0000${partition}`;
}

/**
 * The online fan-out path: one reader per core topic partition follows the core's tail, woken by
 * core.onAppend (any protocol's appends, not only ours), and hands every message, in offset order, to
 * `deliver`, which matches it against the in-memory subscription index. Persistent sessions do not use
 * this path; they read through their own durable core subscriptions.
 *
 * Messages this handler appended itself are not read back: the broker hands the tail their views
 * together with the offsets the core assigned (`appended`), and the tail delivers those when it
 * reaches that offset, instead of reading and decoding the record batch it just encoded. Anything else
 * at the tail (another protocol's appends, a gap, an entry the tail dropped) is read from the core as
 * before, so the local entries only save work: the messages and their order are the core's.
 */
import { decodeRecordBatch, isAbortedBatch, type AppendResult, type Core, type Logger, type Message } from '@strata/core';
import type { MqttMessageView } from './message-codec.js';

/** Bytes fetched per read while catching up to the tail. */
const READ_BYTES_MAX = 1024 * 1024;
/** Entries per read, so one busy partition yields to others between reads. */
const READ_ENTRIES_MAX = 256;
/**
 * Own appends remembered per partition until the tail passes them. Past this the oldest is dropped
 * (the tail then reads it from the core), so a tail that cannot keep up holds bounded memory.
 */
const LOCAL_ENTRIES_MAX = 1024;
/**
 * Payload bytes of own appends remembered per partition (the views hold their socket chunks). Past
 * this the oldest are dropped too and read back from the core.
 */
export const LOCAL_BYTES_MAX = 8 * 1024 * 1024;

/** Views of one entry this handler appended: offsets baseOffset .. baseOffset + views.length - 1. */
interface LocalEntry {
  readonly baseOffset: number;
  readonly views: readonly MqttMessageView[];
  readonly bytes: number;
}

interface PartitionTail {
  readonly topic: string;
  readonly partition: number;
  nextOffset: number;
  pumping: boolean;
  /** A pump is scheduled for the next macrotask turn (see wake). */
  scheduled: boolean;
  /** An append arrived while pumping: read again afterwards. */
  again: boolean;
  /** Own appends at or past nextOffset, in offset order. */
  readonly local: LocalEntry[];
  /** Payload bytes of `local`. */
  localBytes: number;
}

/** Where an own append's views go once its offsets are known: the tail of its partition when the append started. */
export type AppendSink = PartitionTail | null;

export class CoreTail {
  private readonly tails = new Map<string, PartitionTail>();
  private unsubscribe: (() => void) | null = null;
  private closed = false;
  /** Counters for tests: messages delivered from own appends vs read back from the core. */
  readonly stats = { local: 0, read: 0 };

  constructor(
    private readonly core: Core,
    private readonly logger: Logger,
    /** Called in offset order per partition. */
    private readonly deliver: (topic: string, partition: number, offset: number, view: MqttMessageView) => void,
    /** The view of a message read from the core. */
    private readonly toView: (topic: string, message: Message) => MqttMessageView,
    /** When false nothing is decoded; readers just skip to the tail. */
    private readonly hasSubscribers: () => boolean,
    private readonly localBytesMax = LOCAL_BYTES_MAX,
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
    this.tails.set(k, { topic, partition, nextOffset: highWatermark, pumping: false, scheduled: false, again: false, local: [], localBytes: 0 });
  }

  /** Every message below this offset has been handed to `deliver`. */
  position(topic: string, partition: number): number {
    return this.tails.get(key(topic, partition))?.nextOffset ?? this.core.offsets(topic, partition).highWatermark;
  }

  unfollow(topic: string): void {
    for (const [k, tail] of this.tails) if (tail.topic === topic) this.tails.delete(k);
  }

  /**
   * Taken before an own append starts: the tail it will be delivered by, or null when nobody would
   * see it. Taking it first ties the result to this tail object, so a result that arrives after the
   * topic was deleted (and maybe re-created, offsets starting over) lands on the old, unfollowed one.
   */
  sink(topic: string, partition: number): AppendSink {
    if (!this.hasSubscribers()) return null;
    return this.tails.get(key(topic, partition)) ?? null;
  }

  /** An own append is durable at `result`'s offsets; `views` are its messages in order. */
  appended(sink: AppendSink, result: AppendResult, views: readonly MqttMessageView[]): void {
    if (sink === null || this.closed) return;
    // A duplicate's offsets are an earlier batch's; a count mismatch would misplace offsets: read those.
    if (result.duplicate || result.lastOffset - result.baseOffset + 1 !== views.length) return;
    if (result.baseOffset < sink.nextOffset) return; // already read back from the core
    const local = sink.local;
    const last = local[local.length - 1];
    if (last !== undefined && last.baseOffset >= result.baseOffset) return; // not in order: read instead
    let bytes = 0;
    for (const view of views) bytes += view.payload.length;
    local.push({ baseOffset: result.baseOffset, views, bytes });
    sink.localBytes += bytes;
    while (local.length > LOCAL_ENTRIES_MAX || sink.localBytes > this.localBytesMax) dropOldest(sink);
  }

  /**
   * The pump starts on the next macrotask turn, not inside onAppend: the core calls onAppend before
   * it resolves the appends of that commit, so by then the broker has handed over the views of its
   * own appends (promise reactions run before the next macrotask) and the tail need not read them.
   * Appends of one commit share one pump.
   */
  private wake(tail: PartitionTail): void {
    if (this.closed) return;
    if (tail.pumping) {
      tail.again = true;
      return;
    }
    if (tail.scheduled) return;
    tail.scheduled = true;
    setImmediate(() => {
      tail.scheduled = false;
      if (this.closed || tail.pumping) return;
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
    });
  }

  private async pump(tail: PartitionTail): Promise<void> {
    const local = tail.local;
    do {
      tail.again = false;
      // Bounded: each pass reads up to the high watermark seen at its start, advancing nextOffset.
      for (;;) {
        if (this.closed) return;
        const { highWatermark, logStartOffset, lastStableOffset } = this.core.offsets(tail.topic, tail.partition);
        // Kafka transactions (KIP-98): MQTT subscribers get what a read_committed consumer gets. An
        // open transaction holds the tail at its first offset; its marker is an append that pumps again.
        const readableEnd = lastStableOffset;
        if (tail.nextOffset >= readableEnd) break;
        if (!this.hasSubscribers()) {
          tail.nextOffset = highWatermark;
          local.length = 0;
          tail.localBytes = 0;
          break;
        }
        if (tail.nextOffset < logStartOffset) tail.nextOffset = logStartOffset;
        while (local.length > 0 && local[0]!.baseOffset < tail.nextOffset) dropOldest(tail);
        const own = local[0];
        if (own !== undefined && own.baseOffset === tail.nextOffset && own.baseOffset + own.views.length <= readableEnd) {
          dropOldest(tail);
          const views = own.views;
          for (let i = 0; i < views.length; i++) this.deliver(tail.topic, tail.partition, own.baseOffset + i, views[i]!);
          this.stats.local += views.length;
          tail.nextOffset = own.baseOffset + views.length;
          continue;
        }
        const result = await this.core.read(tail.topic, tail.partition, {
          offset: tail.nextOffset,
          maxBytes: READ_BYTES_MAX,
          maxEntries: READ_ENTRIES_MAX,
        });
        if (result.entries.length === 0) break;
        // Read up to the next own append only; from there the views serve (entries are whole appends).
        // Looked up after the read, which own appends may have completed during; only past nextOffset,
        // so the first entry always advances the tail.
        while (local.length > 0 && local[0]!.baseOffset < tail.nextOffset) dropOldest(tail);
        const next = local[0];
        const ownFrom = next !== undefined && next.baseOffset > tail.nextOffset ? next.baseOffset : Number.POSITIVE_INFINITY;
        for (const entry of result.entries) {
          if (entry.baseOffset >= ownFrom || entry.baseOffset >= readableEnd) break;
          const { header, messages } = decodeRecordBatch(entry.bytes);
          // Markers and the records of aborted transactions are never delivered.
          const aborted = header.isTransactional && isAbortedBatch(this.core.abortedTransactions(tail.topic, tail.partition, entry.baseOffset, entry.lastOffset), header.producerId, entry.baseOffset);
          if (!header.isControl && !aborted) {
            for (const m of messages) {
              if (m.offset < tail.nextOffset) continue;
              this.deliver(tail.topic, tail.partition, m.offset, this.toView(tail.topic, m));
              this.stats.read++;
            }
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

function dropOldest(tail: PartitionTail): void {
  const entry = tail.local.shift();
  if (entry !== undefined) tail.localBytes -= entry.bytes;
}

function key(topic: string, partition: number): string {
  return `${topic}\u0000${partition}`;
}

/**
 * One durable subscription on one partition: a cursor plus a dispatcher (Pulsar's
 * PersistentSubscription + dispatchers). Push with flow control: consumers grant permits, the
 * dispatcher reads the partition with core.read, decodes the record batches and hands each
 * consumer at most as many messages as it has permits.
 *
 * Where a message can be, between the log and its acknowledgement:
 *   readAhead    read from the log, not yet delivered (bounded: readAheadMessagesMax)
 *   delayed      held until its deliver-at time (bounded: delayedMessagesMax)
 *   pending      delivered to a consumer, not acked (bounded with the next two: unackedMessagesMax)
 *   redelivery   nacked / timed out / orphaned by a closed consumer, waiting for a consumer
 *   waiting      nacked, sitting out negativeAckDelayMs; or being appended to the dead-letter topic
 * The AckSet is the truth for what is acknowledged; the structures above skip acked offsets.
 *
 * Dispatch runs in one loop at a time (`schedule` coalesces wake-ups: permits, acks, appends,
 * timers). State is persisted rate-limited: after a crash, acks since the last write are lost
 * and those messages are delivered again (redelivery, never loss).
 */
import { isAbortedBatch } from '../log/transaction-state.js';
import type { Clock } from '../handler.js';
import type { Core } from '../core.js';
import { isStrataError, StrataError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { Message, StoredMessage } from '../message.js';
import type { MetadataStore } from '../metadata/metadata-store.js';
import { decodeRecordBatch } from '../record-batch/index.js';
import { AckSet } from './ack-set.js';
import { encodeCursor, subscriptionKey } from './cursor-state.js';
import { hashKey, KeyHashRing } from './key-hash-ring.js';
import type { SubscriptionLimits } from './subscription-limits.js';
import {
  DELIVER_AT_HEADER,
  type ConsumerOptions,
  type Delivery,
  type Subscription,
  type SubscriptionConsumer,
  type SubscriptionOptions,
  type SubscriptionState,
  type SubscriptionType,
} from './types.js';

/** Headers added to a message moved to a dead-letter topic. */
export const DEAD_LETTER_ORIGIN_TOPIC_HEADER = 'strata-dlq-origin-topic';
export const DEAD_LETTER_ORIGIN_PARTITION_HEADER = 'strata-dlq-origin-partition';
export const DEAD_LETTER_ORIGIN_OFFSET_HEADER = 'strata-dlq-origin-offset';

export interface SubscriptionDeps {
  readonly core: Omit<Core, 'subscriptions'>;
  readonly metadata: MetadataStore;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly limits: SubscriptionLimits;
}

interface ConsumerRecord {
  readonly id: number;
  readonly options: ConsumerOptions;
  permits: number;
  closed: boolean;
  /**
   * Key_Shared: the read position when this consumer joined a subscription that already had
   * consumers (Pulsar's recently joined consumers). Keys that moved to it may have older messages
   * still unacked at their previous owner, so it gets nothing at or past this offset until every
   * message before it is acknowledged. Null once that happened (or when it joined alone).
   */
  joinedAtOffset: number | null;
}

interface InFlight {
  readonly message: StoredMessage;
  readonly redeliveryCount: number;
}

interface Pending extends InFlight {
  readonly consumer: ConsumerRecord;
  readonly deliveredAtMs: number;
}

export class SubscriptionImpl implements Subscription {
  private options: SubscriptionOptions;
  private readonly acks: AckSet;
  private readonly consumers: ConsumerRecord[] = [];
  private readonly ring = new KeyHashRing<ConsumerRecord>();
  private nextConsumerId = 1;
  private roundRobinIndex = 0;

  private readPosition: number;
  /**
   * One past the highest offset ever dispatched (PIP-282's "last sent position"): messages read
   * ahead but not yet sent are above it, so a joining Key_Shared consumer cannot jump ahead of
   * older messages of its keys still unacked at their previous owner.
   */
  private sentEndOffset: number;
  private readAhead: InFlight[] = [];
  private redelivery: InFlight[] = []; // sorted by offset
  private readonly pending = new Map<number, Pending>();
  private readonly delayed = new Map<number, { message: StoredMessage; deliverAtMs: number }>();
  private waitingCount = 0;
  /** Bumped by seek: reads, timers and dead-letter appends started before it are ignored. */
  private generation = 0;

  private dispatchRequested = false;
  private dispatching = false;
  private caughtUp = false;
  private retryTimer: NodeJS.Timeout | null = null;
  private delayedTimer: NodeJS.Timeout | null = null;
  private delayedTimerAtMs = Infinity;
  private ackTimeoutTimer: NodeJS.Timeout | null = null;
  private readonly nackTimers = new Set<NodeJS.Timeout>();

  private dirty = false;
  private persistTimer: NodeJS.Timeout | null = null;
  private persisting: Promise<void> = Promise.resolve();
  private deleted = false;
  private readonly key: string;
  private readonly logger: Logger;

  constructor(
    readonly topic: string,
    readonly partition: number,
    readonly name: string,
    options: SubscriptionOptions,
    markDeleteOffset: number,
    ackedRanges: readonly (readonly [number, number])[],
    private readonly deps: SubscriptionDeps,
  ) {
    this.options = options;
    this.acks = new AckSet(markDeleteOffset, ackedRanges);
    this.readPosition = this.acks.markDeleteOffset;
    this.sentEndOffset = this.acks.markDeleteOffset;
    this.key = subscriptionKey(topic, partition, name);
    this.logger = deps.logger.child({ topic, partition, subscription: name });
  }

  get type(): SubscriptionType {
    return this.options.type;
  }

  get markDeleteOffset(): number {
    return this.acks.markDeleteOffset;
  }

  /** open() of an existing subscription: new options apply; the type may change only with no consumers. */
  updateOptions(options: SubscriptionOptions): void {
    if (options.type !== this.options.type && this.consumers.length > 0) {
      throw new StrataError('CONSUMER_BUSY', `subscription ${this.name} is ${this.options.type} with consumers attached`);
    }
    const changed = JSON.stringify(options) !== JSON.stringify(this.options);
    this.options = options;
    if (changed) this.markDirty();
  }

  // ---- consumers -------------------------------------------------------------------------

  attach(options: ConsumerOptions): SubscriptionConsumer {
    if (this.deleted) throw new StrataError('UNKNOWN_SUBSCRIPTION', `subscription ${this.name} was deleted`);
    if (this.options.type === 'Exclusive' && this.consumers.length > 0) {
      throw new StrataError('CONSUMER_BUSY', `exclusive subscription ${this.name} already has a consumer`);
    }
    if (this.consumers.length >= this.deps.limits.consumersMax) {
      throw new StrataError('LIMIT_EXCEEDED', `more than ${this.deps.limits.consumersMax} consumers on ${this.name}`);
    }
    const joinedAtOffset = this.options.type === 'Key_Shared' && this.consumers.length > 0 ? this.sentEndOffset : null;
    const record: ConsumerRecord = { id: this.nextConsumerId++, options, permits: 0, closed: false, joinedAtOffset };
    const activeBefore = this.options.type === 'Failover' ? this.activeConsumer() : null;
    this.consumers.push(record);
    if (activeBefore !== null && this.activeConsumer() !== activeBefore) {
      // Failover to a higher-priority consumer: like Pulsar's rewind on an active-consumer change,
      // the previous active consumer's unacked messages go to the new one, in order.
      for (const [offset, pending] of this.pending) {
        if (pending.consumer !== activeBefore) continue;
        this.pending.delete(offset);
        this.enqueueRedelivery({ message: pending.message, redeliveryCount: pending.redeliveryCount });
      }
    }
    this.ring.add(record, `${options.name}/${record.id}`);
    const subscription = this;
    return {
      name: options.name,
      flow(permits: number): void {
        if (record.closed || !(permits > 0)) return;
        record.permits += Math.floor(permits);
        subscription.schedule();
      },
      // A consumer acks only what was sent: an ack for an offset not sent since the last seek
      // (a stale ack from before it) must not acknowledge the message it will now receive again.
      ack(offsets: readonly number[]): void {
        if (record.closed) return;
        subscription.ackIndividual(offsets.filter((offset) => offset < subscription.sentEndOffset));
      },
      ackCumulative(offset: number): void {
        if (record.closed) return;
        if (subscription.options.type === 'Shared' || subscription.options.type === 'Key_Shared') {
          throw new StrataError('INVALID_ARGUMENT', `cumulative ack is not allowed on a ${subscription.options.type} subscription`);
        }
        subscription.ackUpTo(Math.min(offset, subscription.sentEndOffset - 1));
      },
      nack(offsets: readonly number[]): void {
        if (!record.closed) subscription.nack(record, offsets);
      },
      close(): void {
        subscription.detach(record, null);
      },
    };
  }

  private detach(record: ConsumerRecord, reason: string | null): void {
    if (record.closed) return;
    record.closed = true;
    const index = this.consumers.indexOf(record);
    if (index >= 0) this.consumers.splice(index, 1);
    this.ring.remove(record);
    // Its unacked messages go back for redelivery (to another consumer, or this one's successor).
    for (const [offset, pending] of this.pending) {
      if (this.deleted) break;
      if (pending.consumer !== record) continue;
      this.pending.delete(offset);
      this.redeliver(pending, 0);
    }
    if (reason !== null) {
      try {
        record.options.onClose?.(reason);
      } catch (error) {
        this.logger.error('consumer onClose threw', { error });
      }
    }
    this.schedule();
  }

  /** Failover: lowest priority level, then the earliest attached. Exclusive: the only one. */
  private activeConsumer(): ConsumerRecord | null {
    let best: ConsumerRecord | null = null;
    for (const consumer of this.consumers) {
      if (best === null || (consumer.options.priority ?? 0) < (best.options.priority ?? 0)) best = consumer;
    }
    return best;
  }

  // ---- acknowledgements ------------------------------------------------------------------

  private ackIndividual(offsets: readonly number[]): void {
    let changed = false;
    for (const offset of offsets) {
      if (!Number.isSafeInteger(offset) || offset < 0) continue;
      this.pending.delete(offset);
      this.delayed.delete(offset);
      if (this.acks.ack(offset)) changed = true;
    }
    if (changed) this.markDirty();
    this.schedule();
  }

  private ackUpTo(offset: number): void {
    if (!Number.isSafeInteger(offset) || offset < this.acks.markDeleteOffset) return;
    this.acks.ackBelow(offset + 1);
    for (const key of this.pending.keys()) if (key <= offset) this.pending.delete(key);
    for (const key of this.delayed.keys()) if (key <= offset) this.delayed.delete(key);
    this.markDirty();
    this.schedule();
  }

  private nack(record: ConsumerRecord, offsets: readonly number[]): void {
    for (const offset of offsets) {
      const pending = this.pending.get(offset);
      if (!pending || pending.consumer !== record) continue;
      this.pending.delete(offset);
      this.redeliver(pending, this.options.negativeAckDelayMs ?? 0);
    }
  }

  /** One more delivery of `item` is due: to the dead-letter topic once maxDeliveries are used up. */
  private redeliver(item: InFlight, delayMs: number): void {
    const maxDeliveries = this.options.maxDeliveries ?? 0;
    const next: InFlight = { message: item.message, redeliveryCount: item.redeliveryCount + 1 };
    if (maxDeliveries > 0 && item.redeliveryCount + 1 >= maxDeliveries) {
      void this.deadLetter(next);
      return;
    }
    if (delayMs <= 0) {
      this.enqueueRedelivery(next);
      return;
    }
    this.waitingCount++;
    const generation = this.generation;
    const timer = setTimeout(() => {
      this.nackTimers.delete(timer);
      if (generation !== this.generation) return; // a seek reset the count and the cursor
      this.waitingCount--;
      this.enqueueRedelivery(next);
    }, delayMs);
    timer.unref();
    this.nackTimers.add(timer);
  }

  private enqueueRedelivery(item: InFlight): void {
    if (this.acks.isAcked(item.message.offset)) return;
    // Sorted insert: redelivered messages go out in offset order (per-key order for Key_Shared).
    let index = this.redelivery.length;
    while (index > 0 && this.redelivery[index - 1]!.message.offset > item.message.offset) index--;
    this.redelivery.splice(index, 0, item);
    this.schedule();
  }

  private async deadLetter(item: InFlight): Promise<void> {
    const generation = this.generation;
    const dlqTopic = this.options.deadLetterTopic ?? `${this.topic}-${this.name}-DLQ`;
    const { message } = item;
    this.waitingCount++;
    try {
      const { core } = this.deps;
      if (!core.topics.exists(dlqTopic)) {
        try {
          await core.topics.create(dlqTopic);
        } catch (error) {
          if (!isStrataError(error, 'TOPIC_EXISTS')) throw error;
        }
      }
      const copy: Message = {
        key: message.key,
        value: message.value,
        timestamp: message.timestamp,
        headers: [
          ...message.headers,
          { key: DEAD_LETTER_ORIGIN_TOPIC_HEADER, value: Buffer.from(this.topic) },
          { key: DEAD_LETTER_ORIGIN_PARTITION_HEADER, value: Buffer.from(String(this.partition)) },
          { key: DEAD_LETTER_ORIGIN_OFFSET_HEADER, value: Buffer.from(String(message.offset)) },
        ],
      };
      await core.append(dlqTopic, 0, { kind: 'messages', messages: [copy] });
      // A seek meanwhile reset the count and the cursor: this message is no longer ours to ack.
      if (generation !== this.generation) return;
      this.waitingCount--;
      this.ackIndividual([message.offset]);
    } catch (error) {
      if (generation !== this.generation) return;
      this.waitingCount--;
      if (this.deleted) return;
      if (isStrataError(error) && !error.retriable) {
        // Retrying cannot help (an invalid dead-letter topic name, say): keep the message here.
        this.logger.error('dead-letter topic refused the message; delivering it again instead', { dlqTopic, offset: message.offset, error });
        this.enqueueRedelivery(item);
        return;
      }
      this.logger.warn('dead-letter append failed; retrying', { dlqTopic, offset: message.offset, error });
      this.waitingCount++;
      const timer = setTimeout(() => {
        this.nackTimers.delete(timer);
        if (generation !== this.generation) return;
        this.waitingCount--;
        if (!this.deleted) void this.deadLetter(item);
      }, this.deps.limits.retryDelayMs);
      timer.unref();
      this.nackTimers.add(timer);
    }
  }

  // ---- dispatch --------------------------------------------------------------------------

  /** Called by the registry after every append to this partition. */
  onAppend(): void {
    if (this.caughtUp) {
      this.caughtUp = false;
      this.schedule();
    }
  }

  schedule(): void {
    this.dispatchRequested = true;
    if (this.dispatching || this.deleted) return;
    this.dispatching = true;
    // Never synchronously: onDelivery must not run inside a consumer's own flow/ack/nack call.
    queueMicrotask(() => void this.dispatchLoop());
  }

  private async dispatchLoop(): Promise<void> {
    try {
      while (this.dispatchRequested && !this.deleted) {
        this.dispatchRequested = false;
        this.dispatchBuffered();
        if (this.shouldRead() && (await this.readMore())) this.dispatchRequested = true;
      }
    } catch (error) {
      this.logger.error('dispatch failed', { error });
    } finally {
      this.dispatching = false;
    }
  }

  private permitsAvailable(): boolean {
    return this.consumers.some((consumer) => consumer.permits > 0);
  }

  private unackedCount(): number {
    return this.pending.size + this.redelivery.length + this.waitingCount;
  }

  private shouldRead(): boolean {
    const { limits } = this.deps;
    return (
      this.consumers.length > 0 &&
      this.permitsAvailable() &&
      // Not only when empty: Key_Shared may hold messages whose consumer has no permits while
      // other consumers could take later messages.
      this.readAhead.length < limits.readAheadMessagesMax &&
      this.unackedCount() < limits.unackedMessagesMax &&
      this.delayed.size < limits.delayedMessagesMax &&
      this.retryTimer === null
    );
  }

  /** Reads the next entries into readAhead; false when there is nothing (then an append wakes us). */
  private async readMore(): Promise<boolean> {
    const { core, limits, clock } = this.deps;
    const generation = this.generation;
    const position = this.readPosition;
    let result;
    /** Kafka transactions (KIP-98): only what is stable is read, as a read_committed consumer does. */
    let stableEnd: number;
    try {
      const offsets = core.offsets(this.topic, this.partition);
      stableEnd = offsets.lastStableOffset;
      if (position < offsets.logStartOffset) {
        // Retention removed what this cursor had not consumed: it moves to the log start.
        this.readPosition = offsets.logStartOffset;
        if (this.acks.markDeleteOffset < offsets.logStartOffset) {
          this.acks.ackBelow(offsets.logStartOffset);
          this.markDirty();
        }
        return true;
      }
      if (position >= stableEnd) {
        // At the high watermark, or at an open Kafka transaction: its marker is an append that wakes us.
        this.caughtUp = true;
        return false;
      }
      result = await core.read(this.topic, this.partition, {
        offset: position,
        maxBytes: limits.readBytesMax,
        maxEntries: limits.readEntriesMax,
      });
    } catch (error) {
      if (this.deleted) return false;
      if (isStrataError(error, 'OFFSET_OUT_OF_RANGE')) return true; // offsets moved under us; re-check
      this.logger.warn('subscription read failed; retrying', { offset: position, error });
      this.retryTimer = setTimeout(() => {
        this.retryTimer = null;
        this.schedule();
      }, limits.retryDelayMs);
      this.retryTimer.unref();
      return false;
    }
    if (generation !== this.generation || this.deleted) return true;
    const now = clock.now();
    const ttlMs = this.ttlMs();
    let expired = 0;
    let passedOver = 0;
    let next = position;
    for (const entry of result.entries) {
      if (entry.lastOffset < next) continue;
      if (entry.baseOffset >= stableEnd) break; // a Kafka transaction still open: not yet
      let decoded;
      try {
        decoded = decodeRecordBatch(entry.bytes);
      } catch (error) {
        // A stored entry that does not decode is skipped (logged), not retried forever.
        this.logger.error('stored entry does not decode; skipping it', { baseOffset: entry.baseOffset, error });
        next = entry.lastOffset + 1;
        continue;
      }
      const header = decoded.header;
      if (header.isControl || (header.isTransactional && isAbortedBatch(core.abortedTransactions(this.topic, this.partition, entry.baseOffset, entry.lastOffset), header.producerId, entry.baseOffset))) {
        // Transaction markers and aborted records are never delivered: their offsets are
        // acknowledged as they are passed over, so the cursor's mark-delete moves past them.
        for (let offset = Math.max(next, entry.baseOffset); offset <= entry.lastOffset; offset++) if (this.acks.ack(offset)) passedOver++;
      } else {
        for (const message of decoded.messages) {
          if (message.offset < next || this.acks.isAcked(message.offset)) continue;
          if (ttlMs > 0 && now - message.timestamp > ttlMs) {
            // Pulsar message TTL: an expired message is acknowledged, not delivered.
            this.acks.ack(message.offset);
            expired++;
            continue;
          }
          const deliverAtMs = deliverAt(message);
          if (deliverAtMs !== null && deliverAtMs > now) {
            this.delayed.set(message.offset, { message, deliverAtMs });
            this.armDelayedTimer(deliverAtMs);
          } else {
            this.readAhead.push({ message, redeliveryCount: 0 });
          }
        }
      }
      next = Math.max(next, entry.lastOffset + 1);
    }
    this.readPosition = next;
    if (expired > 0 || passedOver > 0) this.markDirty();
    return next > position;
  }

  private ttlMs(): number {
    try {
      return this.deps.core.topics.describe(this.topic).policies.ttlMs;
    } catch {
      return 0; // topic gone: nothing more to read anyway
    }
  }

  private armDelayedTimer(deliverAtMs: number): void {
    if (deliverAtMs >= this.delayedTimerAtMs) return;
    if (this.delayedTimer) clearTimeout(this.delayedTimer);
    this.delayedTimerAtMs = deliverAtMs;
    this.delayedTimer = setTimeout(() => this.releaseDelayed(), Math.max(0, deliverAtMs - this.deps.clock.now()));
    this.delayedTimer.unref();
  }

  private releaseDelayed(): void {
    this.delayedTimer = null;
    this.delayedTimerAtMs = Infinity;
    const now = this.deps.clock.now();
    let earliest = Infinity;
    for (const [offset, item] of this.delayed) {
      if (item.deliverAtMs <= now) {
        this.delayed.delete(offset);
        this.enqueueRedelivery({ message: item.message, redeliveryCount: 0 });
      } else earliest = Math.min(earliest, item.deliverAtMs);
    }
    if (earliest !== Infinity) this.armDelayedTimer(earliest);
  }

  /** Hands out what is buffered (redeliveries first, then read-ahead) to consumers with permits. */
  private dispatchBuffered(): void {
    if (this.consumers.length === 0) return;
    const outbox = new Map<ConsumerRecord, Delivery[]>();
    const blockedKeys = new Set<number>(); // Key_Shared: a key waiting for its consumer holds back its later messages
    this.redelivery = this.dispatchFrom(this.redelivery, outbox, blockedKeys);
    this.readAhead = this.dispatchFrom(this.readAhead, outbox, blockedKeys);
    if (this.pending.size > 0) this.armAckTimeout();
    for (const [consumer, deliveries] of outbox) {
      try {
        consumer.options.onDelivery(deliveries);
      } catch (error) {
        this.logger.error('consumer onDelivery threw', { consumer: consumer.options.name, error });
      }
    }
  }

  /** Delivers from `queue`; returns what stays (in order). */
  private dispatchFrom(queue: InFlight[], outbox: Map<ConsumerRecord, Delivery[]>, blockedKeys: Set<number>): InFlight[] {
    if (queue.length === 0) return queue;
    const keyShared = this.options.type === 'Key_Shared';
    const now = this.deps.clock.now();
    const unackedMax = this.deps.limits.unackedMessagesMax;
    let index = 0;
    const kept: InFlight[] = [];
    for (; index < queue.length; index++) {
      const item = queue[index]!;
      const offset = item.message.offset;
      if (this.acks.isAcked(offset) || this.pending.has(offset)) continue;
      if (this.pending.size >= unackedMax) break;
      let consumer: ConsumerRecord | null;
      if (keyShared) {
        const hash = hashKey(item.message.key);
        consumer = blockedKeys.has(hash) ? null : this.ring.lookup(hash);
        if (consumer !== null && consumer.joinedAtOffset !== null) {
          if (this.acks.markDeleteOffset >= consumer.joinedAtOffset) consumer.joinedAtOffset = null;
          else if (offset >= consumer.joinedAtOffset) consumer = null;
        }
        if (consumer === null || consumer.permits <= 0) {
          blockedKeys.add(hash);
          kept.push(item);
          continue;
        }
      } else {
        consumer = this.options.type === 'Shared' ? this.nextSharedConsumer() : this.activeConsumer();
        if (consumer === null || consumer.permits <= 0) break;
      }
      consumer.permits--;
      if (offset >= this.sentEndOffset) this.sentEndOffset = offset + 1;
      this.pending.set(offset, { ...item, consumer, deliveredAtMs: now });
      let deliveries = outbox.get(consumer);
      if (!deliveries) outbox.set(consumer, (deliveries = []));
      deliveries.push({ topic: this.topic, partition: this.partition, message: item.message, redeliveryCount: item.redeliveryCount });
    }
    for (; index < queue.length; index++) kept.push(queue[index]!);
    return kept;
  }

  /** Shared: round-robin over consumers that have permits. */
  private nextSharedConsumer(): ConsumerRecord | null {
    const count = this.consumers.length;
    for (let step = 0; step < count; step++) {
      const consumer = this.consumers[(this.roundRobinIndex + step) % count]!;
      if (consumer.permits > 0) {
        this.roundRobinIndex = (this.roundRobinIndex + step + 1) % count;
        return consumer;
      }
    }
    return null;
  }

  private armAckTimeout(): void {
    const ackTimeoutMs = this.options.ackTimeoutMs ?? 0;
    if (ackTimeoutMs <= 0 || this.ackTimeoutTimer) return;
    const tickMs = Math.max(10, Math.min(1000, Math.floor(ackTimeoutMs / 4)));
    this.ackTimeoutTimer = setTimeout(() => {
      this.ackTimeoutTimer = null;
      const deadline = this.deps.clock.now() - ackTimeoutMs;
      for (const [offset, pending] of this.pending) {
        if (pending.deliveredAtMs > deadline) continue;
        this.pending.delete(offset);
        this.redeliver(pending, 0);
      }
      if (this.pending.size > 0) this.armAckTimeout();
    }, tickMs);
    this.ackTimeoutTimer.unref();
  }

  // ---- cursor ----------------------------------------------------------------------------

  async seek(offset: number): Promise<void> {
    if (!Number.isSafeInteger(offset) || offset < 0) throw new StrataError('INVALID_ARGUMENT', `seek to ${offset}`);
    const { logStartOffset, highWatermark } = this.deps.core.offsets(this.topic, this.partition);
    const target = Math.min(Math.max(offset, logStartOffset), highWatermark);
    this.generation++;
    this.acks.reset(target);
    this.readPosition = target;
    this.sentEndOffset = target;
    this.readAhead = [];
    this.redelivery = [];
    this.pending.clear();
    this.delayed.clear();
    for (const timer of this.nackTimers) clearTimeout(timer);
    this.nackTimers.clear();
    this.waitingCount = 0;
    this.caughtUp = false;
    this.markDirty();
    await this.flush();
    this.schedule();
  }

  async seekToTimestamp(timestampMs: number): Promise<void> {
    const found = await this.deps.core.offsetForTimestamp(this.topic, this.partition, timestampMs);
    await this.seek(found ? found.offset : this.deps.core.offsets(this.topic, this.partition).highWatermark);
  }

  state(): SubscriptionState {
    let highWatermark = this.acks.markDeleteOffset;
    try {
      highWatermark = this.deps.core.offsets(this.topic, this.partition).highWatermark;
    } catch {
      // topic gone: no backlog
    }
    const backlog = Math.max(0, highWatermark - this.acks.markDeleteOffset - this.acks.ackedAboveMarkDelete());
    return {
      topic: this.topic,
      partition: this.partition,
      name: this.name,
      type: this.options.type,
      markDeleteOffset: this.acks.markDeleteOffset,
      backlog,
      consumers: this.consumers.length,
    };
  }

  private markDirty(): void {
    this.dirty = true;
    if (this.persistTimer || this.deleted) return;
    this.persistTimer = setTimeout(() => {
      this.persistTimer = null;
      this.flush().catch((error: unknown) => this.logger.warn('cursor persist failed', { error }));
    }, this.deps.limits.persistIntervalMs);
    this.persistTimer.unref();
  }

  /** Writes the cursor now if it changed; writes are serialised so the last one wins. */
  flush(): Promise<void> {
    const run = async (): Promise<void> => {
      if (!this.dirty || this.deleted) return;
      this.dirty = false;
      const value = encodeCursor({
        options: this.options,
        markDeleteOffset: this.acks.markDeleteOffset,
        ackedRanges: this.acks.ranges(this.deps.limits.persistedAckRangesMax),
      });
      try {
        await this.deps.metadata.put(this.key, value);
      } catch (error) {
        this.dirty = true;
        throw error;
      }
    };
    this.persisting = this.persisting.then(run, run);
    return this.persisting;
  }

  /** Stops timers and dispatch; `reason` closes consumers (deleted subscription). Persists first unless deleting. */
  async shutdown(options: { deleting: boolean; reason: string }): Promise<void> {
    if (this.persistTimer) clearTimeout(this.persistTimer);
    this.persistTimer = null;
    if (!options.deleting) {
      await this.flush().catch((error: unknown) => this.logger.warn('cursor persist at close failed; acks since the last write will be redelivered', { error }));
    }
    this.deleted = true;
    for (const timer of [this.retryTimer, this.delayedTimer, this.ackTimeoutTimer, ...this.nackTimers]) if (timer) clearTimeout(timer);
    this.nackTimers.clear();
    for (const consumer of [...this.consumers]) this.detach(consumer, options.reason);
    await this.persisting.catch(() => {});
  }

  consumerCount(): number {
    return this.consumers.length;
  }
}

/** The deliver-at header as ms since the epoch, or null when absent or unreadable. */
function deliverAt(message: StoredMessage): number | null {
  for (const header of message.headers) {
    if (header.key !== DELIVER_AT_HEADER || header.value === null) continue;
    const value = Number(header.value.toString('latin1'));
    return Number.isFinite(value) ? value : null;
  }
  return null;
}

/**
 * Subscriptions: durable named cursors on one partition (design brief §1, §4). AMQP queues, MQTT
 * persistent sessions, RocketMQ consumer groups and WebSocket consumers are subscriptions.
 *
 * Dispatch is push with flow control, Pulsar's shape: a consumer grants permits (`flow`) and the
 * subscription calls `onDelivery` with at most that many messages; each delivered message uses one
 * permit. State (mark-delete offset + individually acked ranges above it) is persisted rate-limited,
 * not on every ack; after a crash a consumer may see redelivery, never loss.
 */
import type { StoredMessage } from '../message.js';

export type SubscriptionType = 'Exclusive' | 'Failover' | 'Shared' | 'Key_Shared';

export interface SubscriptionOptions {
  readonly type: SubscriptionType;
  /** Where a new subscription starts. Default 'latest'. */
  readonly initialPosition?: 'earliest' | 'latest';
  /** Redeliver a message not acked within this time; 0 = never. */
  readonly ackTimeoutMs?: number;
  /** Delay before a negatively acked message is redelivered. Default 0 (immediately). */
  readonly negativeAckDelayMs?: number;
  /** After this many deliveries a message goes to `deadLetterTopic` (and is acked here); 0 = never. */
  readonly maxDeliveries?: number;
  /** Full topic name; default `<topic>-<subscription>-DLQ`. Created on first use. */
  readonly deadLetterTopic?: string;
}

export interface Delivery {
  readonly topic: string;
  readonly partition: number;
  readonly message: StoredMessage;
  /** 0 on first delivery. */
  readonly redeliveryCount: number;
}

export interface ConsumerOptions {
  readonly name: string;
  /** Failover: lowest priority level wins, then the earliest attached. Default 0. */
  readonly priority?: number;
  /** Called with deliveries while the consumer has permits. Must not throw. */
  readonly onDelivery: (deliveries: readonly Delivery[]) => void;
  /** Called when the subscription closes this consumer (deleted, or Exclusive taken over). */
  readonly onClose?: (reason: string) => void;
}

export interface SubscriptionConsumer {
  readonly name: string;
  /** Grants `permits` more messages. */
  flow(permits: number): void;
  /** Individual acks. */
  ack(offsets: readonly number[]): void;
  /** Acks every message at or below `offset` (Pulsar cumulative ack; only for Exclusive/Failover). */
  ackCumulative(offset: number): void;
  /** Redeliver these (after negativeAckDelayMs), counting a delivery. */
  nack(offsets: readonly number[]): void;
  /** Unacked messages of this consumer go back to the subscription for redelivery. */
  close(): void;
}

export interface SubscriptionState {
  readonly topic: string;
  readonly partition: number;
  readonly name: string;
  readonly type: SubscriptionType;
  /** Every offset below this is acknowledged. */
  readonly markDeleteOffset: number;
  /** Messages from markDeleteOffset to the end of the partition not yet acked. */
  readonly backlog: number;
  readonly consumers: number;
}

export interface Subscription {
  readonly topic: string;
  readonly partition: number;
  readonly name: string;
  readonly type: SubscriptionType;
  /** Throws CONSUMER_BUSY for a second consumer on an Exclusive subscription. */
  attach(options: ConsumerOptions): SubscriptionConsumer;
  /** Resets the cursor: everything before `offset` acked, everything after unacked. */
  seek(offset: number): Promise<void>;
  seekToTimestamp(timestampMs: number): Promise<void>;
  state(): SubscriptionState;
  /** Persists cursor state now (also done rate-limited and at close). */
  flush(): Promise<void>;
}

export interface Subscriptions {
  /** Opens (creating durably if missing) the subscription `name` on one partition. */
  open(topic: string, partition: number, name: string, options: SubscriptionOptions): Promise<Subscription>;
  /** Names of the subscriptions on a partition. */
  list(topic: string, partition: number): string[];
  /** Deletes a subscription and its cursor; its consumers are closed. */
  delete(topic: string, partition: number, name: string): Promise<void>;
  /** Lowest mark-delete offset of any subscription on the partition, or null if none (retention uses it). */
  slowestOffset(topic: string, partition: number): number | null;
}

/** Header that delays delivery to subscriptions until this time (ms since epoch, decimal ASCII). */
export const DELIVER_AT_HEADER = 'strata-deliver-at';

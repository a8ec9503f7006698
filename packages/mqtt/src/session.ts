/**
 * One MQTT session (MQTT 5 §4.1): its subscriptions, its inbound QoS 2 state, its will and expiry
 * timers, and, for persistent sessions, the durable core subscriptions that hold its queued messages.
 *
 * Two delivery modes, fixed when the session is created:
 * - 'index': a non-persistent session; its filters live in the broker's in-memory subscription index
 *   and messages come from the shared core tail readers.
 * - 'cursor': a persistent session (3.1.1 cleanSession=0, MQTT 5 session expiry > 0); one durable
 *   Exclusive core subscription per core topic partition its filters overlap, named after the client id.
 *   Messages matched while offline stay in the cursor's backlog and survive restarts.
 * Shared subscriptions ($share/group/filter) use one Shared core subscription per group and filter in
 * both modes, so the core dispatches each message to one member.
 */
import type { SubscriptionConsumer } from '@strata/core';
import type { CoalescedWrite } from './coalesced-write.js';
import type { SharedFilter } from './topic.js';
import type { InDoubtPublish, StoredSubscription } from './session-store.js';
import type { Connection } from './connection.js';
import type { IPublishPacket } from 'mqtt-packet';

export interface SessionSubscription extends StoredSubscription {
  readonly shared: SharedFilter | null;
}

export type DeliveryMode = 'index' | 'cursor';

/** Where a non-persistent session that fell behind the live fan-out resumes reading a partition. */
export interface Lag {
  readonly topic: string;
  readonly partition: number;
  nextOffset: number;
}

/** A durable cursor of a 'cursor' session and the connection its consumer delivers to. */
export interface CursorState {
  readonly topic: string;
  readonly partition: number;
  consumer: SubscriptionConsumer | null;
  owner: Connection | null;
}

export interface Will {
  readonly packet: IPublishPacket;
  readonly delaySeconds: number;
}

export class Session {
  protocolVersion: 3 | 4 | 5;
  /** Seconds after disconnect; 0 = ends with the connection; 0xFFFFFFFF = never. */
  expirySeconds: number;
  connection: Connection | null = null;
  readonly subscriptions = new Map<string, SessionSubscription>();
  /** Durable cursors of a 'cursor' session, by core topic + partition. */
  readonly cursors = new Map<string, CursorState>();
  /** Consumers on Shared core subscriptions, by the full `$share/...` filter. */
  readonly sharedConsumers = new Map<string, SubscriptionConsumer[]>();
  /**
   * Inbound QoS 2 packet ids not yet released by PUBREL: true once the message is stored, false while
   * it is being appended. A re-sent PUBLISH with such an id is not stored twice (3.1.1 §4.3.3 Method B, MQTT 5 §4.3.3).
   * A persistent session also stores the `true` ids (Broker.savePacketIds) before PUBREC and their
   * release before PUBCOMP, so this holds across a server restart.
   */
  readonly inboundQos2 = new Map<number, boolean>();
  /**
   * A persistent session's inbound QoS 2 PUBLISHes being appended: where each may land. Stored before
   * the append starts and dropped with the write that marks the id stored, so a crash between the
   * append and that write is resolved from the log at restart (qos2-recovery.ts).
   */
  readonly inboundQos2InDoubt = new Map<number, InDoubtPublish>();
  /** Partitions ('topic\u0000partition') this 'index' session reads itself after falling behind. */
  readonly lagging = new Map<string, Lag>();
  catchingUp = false;
  /** Outbound QoS 2 packet ids the client PUBREC'd and has not PUBCOMP'd (PUBREL is re-sent on resume; stored for persistent sessions). */
  readonly outboundReleased = new Set<number>();
  /** Writes the packet ids above for a persistent session, one write per turn (created on first use). */
  packetIdWrite: CoalescedWrite | null = null;
  will: Will | null = null;
  willTimer: NodeJS.Timeout | null = null;
  expiryTimer: NodeJS.Timeout | null = null;
  /** Serializes session-level async work (subscribe, attach, destroy). */
  private work: Promise<void> = Promise.resolve();
  destroyed = false;

  constructor(
    readonly clientId: string,
    readonly mode: DeliveryMode,
    protocolVersion: 3 | 4 | 5,
    expirySeconds: number,
  ) {
    this.protocolVersion = protocolVersion;
    this.expirySeconds = expirySeconds;
  }

  get persistent(): boolean {
    return this.expirySeconds > 0;
  }

  /** Runs `task` after every earlier task of this session. */
  serial<T>(task: () => Promise<T>): Promise<T> {
    const run = this.work.then(task);
    this.work = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  clearTimers(): void {
    if (this.willTimer !== null) clearTimeout(this.willTimer);
    if (this.expiryTimer !== null) clearTimeout(this.expiryTimer);
    this.willTimer = null;
    this.expiryTimer = null;
  }
}

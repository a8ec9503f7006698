/**
 * The MQTT broker state shared by all connections: sessions, the in-memory subscription index of
 * non-persistent sessions, the core tail readers, retained messages, and the publish path into the
 * core. Connections (connection.ts) own the wire; this owns what outlives a connection.
 */
import { Acl } from './auth/acl.js';
import {
  decodeRecordBatch,
  isStrataError,
  resolveTopicName,
  type Clock,
  type Core,
  type Delivery,
  type Header,
  type Logger,
  type Message,
  type AppendResult,
  type SubscriptionConsumer,
} from '@strata/core';
import type { IPublishPacket } from 'mqtt-packet';
import { Acker } from './acker.js';
import { CoalescedWrite } from './coalesced-write.js';
import type { MqttConfig } from './config.js';
import type { Connection } from './connection.js';
import { CoreTail, type AppendSink } from './core-tail.js';
import { NO_FAULTS, type MqttFaults } from './faults.js';
import { messageToView, publishToMessage, publishView, TextReuse, type MqttMessageView } from './message-codec.js';
import { RetainedStore } from './retained-store.js';
import { Session, type Lag, type SessionSubscription } from './session.js';
import { findStoredPublishes, type InDoubtLookup } from './qos2-recovery.js';
import { SessionStore, type InDoubtPublish, type StoredSession, type StoredWill } from './session-store.js';
import { SubscriptionIndex } from './subscription-index.js';
import { TopicMapper, type TopicRule } from './topic-mapping.js';
import { parseSharedFilter, topicMatches } from './topic.js';

export const SESSION_EXPIRY_NEVER = 0xffffffff;
/** One catch-up read of a session that fell behind the live fan-out. */
const CATCH_UP_BYTES_MAX = 256 * 1024;
const CATCH_UP_ENTRIES_MAX = 64;
/** setTimeout's largest delay; longer expiries re-arm. */
const TIMER_MS_MAX = 2 ** 31 - 1;

interface IndexEntry {
  readonly session: Session;
  readonly subscription: SessionSubscription;
  /** How a message matched only by this entry is delivered (made once, not per message; never mutated). */
  readonly single: Readonly<Match>;
}

export interface ConnectRequest {
  readonly clientId: string;
  readonly protocolVersion: 3 | 4 | 5;
  readonly cleanStart: boolean;
  readonly expirySeconds: number;
  readonly will: Session['will'];
}

export function cursorName(clientId: string): string {
  return `mqtt.${encodeURIComponent(clientId)}`;
}

export function sharedName(group: string, filter: string): string {
  return `mqtt-share.${encodeURIComponent(group)}.${encodeURIComponent(filter)}`;
}

function partitionKey(topic: string, partition: number): string {
  return `${topic}\u0000${partition}`;
}

export class Broker {
  readonly mapper: TopicMapper;
  /** Topic authorization (auth/acl.ts); `allowsEverything` when nothing is configured. */
  readonly acl: Acl;
  readonly retained: RetainedStore;
  readonly sessions = new Map<string, Session>();
  readonly connections = new Set<Connection>();
  private readonly sessionStore: SessionStore;
  private readonly index = new SubscriptionIndex<IndexEntry>();
  private readonly tail: CoreTail;
  private unsubscribeTopicEvents: (() => void) | null = null;
  private closed = false;
  /** Counters for tests, benchmarks and logs. */
  readonly stats = { droppedRetained: 0, droppedTooLarge: 0, expired: 0, lagged: 0 };

  constructor(
    readonly core: Core,
    readonly config: MqttConfig,
    readonly logger: Logger,
    readonly clock: Clock,
    readonly faults: MqttFaults = NO_FAULTS,
  ) {
    this.mapper = new TopicMapper(config);
    this.acl = new Acl(config.acl, config.aclDefault === 'allow');
    const retainedTopic = resolveTopicName(config.retainedTopic, config.namespace).full;
    this.retained = new RetainedStore(core, retainedTopic, config.retainedMessagesMax, logger);
    this.sessionStore = new SessionStore(core.metadata);
    this.tail = new CoreTail(
      core,
      logger,
      (topic, partition, offset, view) => this.onTailMessage(topic, partition, offset, view),
      (topic, message) => this.view(topic, message),
      () => this.index.size > 0,
    );
  }

  async start(): Promise<void> {
    for (const rule of this.mapper.coreTopics()) await this.ensureTopic(rule);
    this.tail.start();
    this.unsubscribeTopicEvents = this.core.onTopicEvent((event) => {
      const rule = this.mapper.ruleForCoreTopic(event.topic);
      if (rule === undefined) return;
      if (event.type === 'deleted') this.tail.unfollow(event.topic);
      else if (event.type === 'created' || event.type === 'partitions') this.followPartitions(rule, event.partitions);
    });
    await this.retained.load();
    await this.restoreSessions();
  }

  private async ensureTopic(rule: TopicRule): Promise<void> {
    if (!this.core.topics.exists(rule.coreTopic)) {
      try {
        await this.core.topics.create(rule.coreTopic, { partitions: rule.partitions });
      } catch (error) {
        if (!this.core.topics.exists(rule.coreTopic)) throw error;
      }
    }
    this.followPartitions(rule, this.core.topics.describe(rule.coreTopic).partitions);
  }

  private followPartitions(rule: TopicRule, partitions: number): void {
    this.mapper.setPartitionCount(rule.coreTopic, partitions);
    for (let p = 0; p < partitions; p++) this.tail.follow(rule.coreTopic, p);
  }

  /** Stored persistent sessions come back as offline sessions with their expiry timers. */
  private async restoreSessions(): Promise<void> {
    const now = this.clock.now();
    const inDoubt: InDoubtRestore[] = [];
    for (const stored of await this.sessionStore.list()) {
      const session = this.sessionFromStored(stored);
      // A session whose server stopped while it was connected counts as disconnected now.
      const disconnectedAtMs = stored.disconnectedAtMs ?? now;
      if (this.expired(session, disconnectedAtMs, now)) {
        await this.destroySession(session);
        continue;
      }
      this.sessions.set(session.clientId, session);
      // QoS 2 flows that were in the middle when the server stopped continue on reconnect.
      const packetIds = await this.sessionStore.loadPacketIds(session.clientId);
      for (const id of packetIds.inbound) session.inboundQos2.set(id, true);
      for (const id of packetIds.outbound) session.outboundReleased.add(id);
      for (const entry of packetIds.inDoubt ?? []) {
        if (!session.inboundQos2.has(entry.id)) inDoubt.push({ session, entry, clientId: session.clientId, id: entry.id, fromOffset: entry.fromOffset });
      }
      this.armExpiry(session, disconnectedAtMs);
      if (stored.will) {
        // The server stopped while the client was connected (no DISCONNECT seen), or while its will
        // delay ran: publish now, or when the rest of the delay has passed.
        session.will = loadWill(stored.will);
        const dueMs = stored.disconnectedAtMs === null ? 0 : stored.disconnectedAtMs + stored.will.delaySeconds * 1000 - now;
        if (dueMs <= 0) this.publishWill(session);
        else {
          session.willTimer = setTimeout(() => {
            session.willTimer = null;
            if (session.connection === null) this.publishWill(session);
          }, Math.min(dueMs, TIMER_MS_MAX));
          session.willTimer.unref();
        }
      }
    }
    await this.settleInDoubt(inDoubt);
    this.logger.info('mqtt sessions restored', { count: this.sessions.size });
  }

  /**
   * Inbound QoS 2 PUBLISHes a crash cut off between their append and the write that records them
   * (qos2-recovery.ts): the log says whether each was stored. Stored ones are answered with PUBREC
   * when re-sent; the others are stored when re-sent. One scan per partition for all sessions.
   */
  private async settleInDoubt(inDoubt: readonly InDoubtRestore[]): Promise<void> {
    if (inDoubt.length === 0) return;
    const byPartition = new Map<string, InDoubtRestore[]>();
    for (const item of inDoubt) {
      const key = partitionKey(item.entry.topic, item.entry.partition);
      const list = byPartition.get(key);
      if (list === undefined) byPartition.set(key, [item]);
      else list.push(item);
    }
    let stored = 0;
    let unsettled = 0;
    for (const items of byPartition.values()) {
      const { topic, partition } = items[0]!.entry;
      const scan = await findStoredPublishes(this.core, topic, partition, items);
      for (const item of scan.found) item.session.inboundQos2.set(item.id, true);
      stored += scan.found.size;
      if (!scan.complete) {
        unsettled += items.length - scan.found.size;
        this.logger.warn('in-doubt QoS 2 publishes not found within the recovery scan cap; their re-sends are stored again', {
          topic,
          partition,
          count: items.length - scan.found.size,
          scannedBytes: scan.scannedBytes,
        });
      }
    }
    // The in-doubt entries are settled: write each session's record without them (with the ids found).
    const sessions = new Set(inDoubt.map((item) => item.session));
    await Promise.all([...sessions].map((session) => this.savePacketIds(session)));
    this.logger.info('in-doubt QoS 2 publishes settled', { count: inDoubt.length, stored, unsettled });
  }

  /**
   * Step 1 of a persistent session's QoS 2 append (qos2-recovery.ts): records where each QoS 2 PUBLISH
   * of the batch will land (its partition's log end now is a lower bound of its offset, since the append
   * starts later) and resolves once that is durable. The append must not start before.
   */
  markInDoubt(session: Session, packets: readonly IPublishPacket[]): Promise<void> {
    for (const packet of packets) {
      if (packet.qos !== 2) continue;
      const rule = this.mapper.ruleForTopic(packet.topic);
      const partition = this.mapper.partitionFor(rule, packet.topic);
      let fromOffset = 0;
      try {
        fromOffset = this.core.offsets(rule.coreTopic, partition).highWatermark;
      } catch (error) {
        // A deleted rule topic is created again by the append, starting at offset 0.
        if (!isStrataError(error, 'UNKNOWN_TOPIC')) throw error;
      }
      const id = packet.messageId!;
      session.inboundQos2InDoubt.set(id, { id, topic: rule.coreTopic, partition, fromOffset });
    }
    return this.savePacketIds(session);
  }

  private sessionFromStored(stored: StoredSession): Session {
    const session = new Session(stored.clientId, 'cursor', stored.protocolVersion, stored.expirySeconds);
    for (const s of stored.subscriptions) {
      const shared = parseSharedFilter(s.filter);
      session.subscriptions.set(s.filter, { ...s, shared: shared === 'invalid' ? null : shared });
    }
    return session;
  }

  private expired(session: Session, disconnectedAtMs: number, now: number): boolean {
    if (session.expirySeconds === SESSION_EXPIRY_NEVER) return false;
    return disconnectedAtMs + session.expirySeconds * 1000 <= now;
  }

  private armExpiry(session: Session, disconnectedAtMs: number): void {
    if (session.expirySeconds === SESSION_EXPIRY_NEVER) return;
    const dueMs = disconnectedAtMs + session.expirySeconds * 1000 - this.clock.now();
    session.expiryTimer = setTimeout(() => {
      session.expiryTimer = null;
      if (session.connection !== null || session.destroyed) return;
      if (dueMs > TIMER_MS_MAX) return this.armExpiry(session, disconnectedAtMs);
      if (session.will !== null) this.publishWill(session);
      void this.destroySession(session).catch((error: unknown) => this.logger.warn('session expiry failed', { clientId: session.clientId, error }));
    }, Math.max(0, Math.min(dueMs, TIMER_MS_MAX)));
    session.expiryTimer.unref();
  }

  // ---- connect / disconnect ------------------------------------------------------------------

  /** [MQTT-3.1.4-3] takeover, [MQTT-3.1.2-4..6] clean start, [MQTT-3.2.2-2] session present. */
  async connect(connection: Connection, request: ConnectRequest): Promise<{ session: Session; sessionPresent: boolean }> {
    const existing = this.sessions.get(request.clientId);
    if (existing?.connection) await existing.connection.takeover();
    let session = this.sessions.get(request.clientId);
    if (session !== undefined) {
      session.clearTimers(); // a pending will (will delay) or expiry is cancelled by reconnecting
      session.will = null;
    }
    let sessionPresent = false;
    if (session !== undefined && request.cleanStart) {
      await this.destroySession(session);
      session = undefined;
    }
    if (session !== undefined) {
      sessionPresent = true;
      session.protocolVersion = request.protocolVersion;
      session.expirySeconds = request.expirySeconds;
    } else {
      const mode = request.expirySeconds > 0 ? 'cursor' : 'index';
      session = new Session(request.clientId, mode, request.protocolVersion, request.expirySeconds);
      this.sessions.set(session.clientId, session);
    }
    session.will = request.will;
    session.connection = connection;
    const s = session;
    await s.serial(async () => {
      if (s.persistent) await this.saveSession(s, null);
      await this.attach(s, connection);
    });
    return { session: s, sessionPresent };
  }

  /** Re-attaches a resumed session's delivery: index entries, cursor and shared consumers. */
  private async attach(session: Session, connection: Connection): Promise<void> {
    for (const sub of session.subscriptions.values()) {
      if (sub.shared !== null) await this.attachShared(session, connection, sub);
      else if (session.mode === 'index') this.indexAdd(session, sub);
    }
    if (session.mode === 'cursor') await this.ensureCursors(session, connection);
  }

  /** The connection is gone (closed, failed, taken over). `graceful`: a normal DISCONNECT without will. */
  connectionClosed(connection: Connection, session: Session | null, graceful: boolean): void {
    this.connections.delete(connection);
    if (session === null || session.connection !== connection) return;
    session.connection = null;
    this.detach(session);
    if (!graceful && session.will !== null) this.scheduleWill(session);
    else session.will = null;
    if (!session.persistent) {
      void this.destroySession(session).catch((error: unknown) => this.logger.warn('session cleanup failed', { clientId: session.clientId, error }));
      return;
    }
    const now = this.clock.now();
    void session
      .serial(() => this.saveSession(session, now))
      .catch((error: unknown) => this.logger.warn('session save failed', { clientId: session.clientId, error }));
    this.armExpiry(session, now);
  }

  private detach(session: Session): void {
    this.removeIndexEntries(session);
    for (const cursor of session.cursors.values()) {
      cursor.consumer?.close();
      cursor.consumer = null;
      cursor.owner = null;
    }
    for (const consumers of session.sharedConsumers.values()) for (const c of consumers) c.close();
    session.sharedConsumers.clear();
  }

  /** Index entries are keyed by object identity; remove by filter and session. */
  private removeIndexEntries(session: Session): void {
    const entries = this.indexEntries.get(session);
    if (entries === undefined) return;
    for (const [filter, entry] of entries) this.index.remove(filter, entry);
    this.indexEntries.delete(session);
  }

  private readonly indexEntries = new Map<Session, Map<string, IndexEntry>>();

  private indexAdd(session: Session, sub: SessionSubscription): void {
    let entries = this.indexEntries.get(session);
    if (entries === undefined) {
      entries = new Map();
      this.indexEntries.set(session, entries);
    }
    const old = entries.get(sub.filter);
    if (old !== undefined) this.index.remove(sub.filter, old);
    const single: Match = { qos: sub.qos, rap: sub.retainAsPublished, ids: sub.subscriptionId === undefined ? [] : [sub.subscriptionId] };
    const entry: IndexEntry = { session, subscription: sub, single };
    entries.set(sub.filter, entry);
    this.index.add(sub.filter, entry);
  }

  private indexRemove(session: Session, filter: string): void {
    const entries = this.indexEntries.get(session);
    const old = entries?.get(filter);
    if (old === undefined) return;
    this.index.remove(filter, old);
    entries!.delete(filter);
  }

  private scheduleWill(session: Session): void {
    const will = session.will!;
    // MQTT 5 §3.1.3.2.2: published at the earlier of the will delay and the end of the session.
    const delaySeconds = Math.min(will.delaySeconds, session.persistent ? session.expirySeconds : 0);
    if (delaySeconds <= 0) {
      this.publishWill(session);
      return;
    }
    session.willTimer = setTimeout(() => {
      session.willTimer = null;
      if (session.connection === null) this.publishWill(session);
    }, Math.min(delaySeconds * 1000, TIMER_MS_MAX));
    session.willTimer.unref();
  }

  private publishWill(session: Session): void {
    const will = session.will;
    session.will = null;
    if (will === null || this.closed) return;
    void this.append(session.clientId, [will.packet]).then((results) => {
      if (results[0] !== null) this.logger.warn('will publish failed', { clientId: session.clientId, error: results[0] });
    });
  }

  async destroySession(session: Session): Promise<void> {
    session.destroyed = true;
    session.clearTimers();
    if (this.sessions.get(session.clientId) === session) this.sessions.delete(session.clientId);
    this.detach(session);
    await session.serial(async () => {
      if (session.mode !== 'cursor') return;
      const name = cursorName(session.clientId);
      for (const rule of this.mapper.coreTopics()) {
        if (!this.core.topics.exists(rule.coreTopic)) continue;
        const partitions = this.mapper.partitionCount(rule.coreTopic);
        for (let p = 0; p < partitions; p++) {
          if (this.core.subscriptions.list(rule.coreTopic, p).includes(name)) {
            await this.core.subscriptions.delete(rule.coreTopic, p, name);
          }
        }
      }
      session.cursors.clear();
      await this.sessionStore.delete(session.clientId);
    });
    for (const sub of session.subscriptions.values()) if (sub.shared !== null) await this.releaseShared(sub.shared);
  }

  /**
   * Deletes a shared subscription's core subscriptions once no session (online or offline) has it
   * any more, so an abandoned group does not hold back retention.
   */
  private async releaseShared(shared: { group: string; filter: string }): Promise<void> {
    const full = `$share/${shared.group}/${shared.filter}`;
    for (const s of this.sessions.values()) if (s.subscriptions.has(full)) return;
    const name = sharedName(shared.group, shared.filter);
    for (const rule of this.mapper.coreTopicsForFilter(shared.filter)) {
      if (!this.core.topics.exists(rule.coreTopic)) continue;
      const partitions = this.mapper.partitionCount(rule.coreTopic);
      for (let p = 0; p < partitions; p++) {
        if (this.core.subscriptions.list(rule.coreTopic, p).includes(name)) await this.core.subscriptions.delete(rule.coreTopic, p, name);
      }
    }
  }

  /**
   * Makes a persistent session's QoS 2 packet ids durable (session-store.ts StoredPacketIds): resolves
   * once a write covering every change made so far has reached the metadata store. Calls in one turn
   * share one write. Non-persistent sessions keep them in memory only: nothing of theirs survives a restart.
   */
  savePacketIds(session: Session): Promise<void> {
    if (!session.persistent || session.destroyed) return Promise.resolve();
    session.packetIdWrite ??= new CoalescedWrite(async () => {
      // A destroyed session's keys are being deleted (destroySession); writing them again would revive them.
      if (session.destroyed) return;
      const inbound: number[] = [];
      for (const [id, stored] of session.inboundQos2) if (stored) inbound.push(id);
      const inDoubt = [...session.inboundQos2InDoubt.values()];
      await this.sessionStore.savePacketIds(session.clientId, { inbound, outbound: [...session.outboundReleased], inDoubt });
    });
    return session.packetIdWrite.flush();
  }

  private async saveSession(session: Session, disconnectedAtMs: number | null): Promise<void> {
    if (session.destroyed) return;
    const subscriptions = [...session.subscriptions.values()].map(({ shared: _shared, ...stored }) => stored);
    await this.sessionStore.save({
      clientId: session.clientId,
      protocolVersion: session.protocolVersion,
      expirySeconds: session.expirySeconds,
      disconnectedAtMs,
      subscriptions,
      will: session.will === null ? null : storeWill(session.will),
    });
  }

  // ---- subscribe / unsubscribe ---------------------------------------------------------------

  /** Adds (or replaces [MQTT-3.8.4-3]) subscriptions; returns which ones existed before (retain handling 1). */
  async subscribe(session: Session, subs: readonly SessionSubscription[]): Promise<boolean[]> {
    return session.serial(async () => {
      const existed: boolean[] = [];
      const connection = session.connection;
      for (const sub of subs) {
        existed.push(session.subscriptions.has(sub.filter));
        session.subscriptions.set(sub.filter, sub);
        if (sub.shared !== null) {
          if (connection !== null && !session.sharedConsumers.has(sub.filter)) await this.attachShared(session, connection, sub);
        } else if (session.mode === 'index') {
          this.indexAdd(session, sub);
        }
      }
      if (session.mode === 'cursor') await this.ensureCursors(session, connection);
      if (session.persistent) await this.saveSession(session, null);
      return existed;
    });
  }

  /** Returns, per filter, whether a subscription existed. */
  async unsubscribe(session: Session, filters: readonly string[]): Promise<boolean[]> {
    return session.serial(async () => {
      const existed = filters.map((filter) => {
        const sub = session.subscriptions.get(filter);
        if (sub === undefined) return false;
        session.subscriptions.delete(filter);
        if (sub.shared !== null) {
          for (const c of session.sharedConsumers.get(filter) ?? []) c.close();
          session.sharedConsumers.delete(filter);
        } else if (session.mode === 'index') {
          this.indexRemove(session, filter);
        }
        return true;
      });
      for (const filter of filters) {
        const shared = parseSharedFilter(filter);
        if (shared !== null && shared !== 'invalid') await this.releaseShared(shared);
      }
      if (session.persistent) await this.saveSession(session, null);
      return existed;
    });
  }

  /** Opens the session's durable cursors on every core topic partition its filters overlap. */
  private async ensureCursors(session: Session, connection: Connection | null): Promise<void> {
    const topics = new Map<string, TopicRule>();
    for (const sub of session.subscriptions.values()) {
      if (sub.shared !== null) continue;
      for (const rule of this.mapper.coreTopicsForFilter(sub.filter)) topics.set(rule.coreTopic, rule);
    }
    for (const rule of topics.values()) {
      const partitions = this.mapper.partitionCount(rule.coreTopic);
      for (let p = 0; p < partitions; p++) {
        const key = partitionKey(rule.coreTopic, p);
        let cursor = session.cursors.get(key);
        if (cursor === undefined) {
          cursor = { topic: rule.coreTopic, partition: p, consumer: null, owner: null };
          session.cursors.set(key, cursor);
        }
        const subscription = await this.core.subscriptions.open(rule.coreTopic, p, cursorName(session.clientId), {
          type: 'Exclusive',
          initialPosition: 'latest',
        });
        if (connection !== null && cursor.owner !== connection && session.connection === connection) {
          // A consumer left by a connection that was replaced while it was still connecting.
          cursor.consumer?.close();
          cursor.owner = connection;
          let attached: SubscriptionConsumer | null = null;
          const acker = new Acker(() => attached);
          attached = subscription.attach({
            name: session.clientId,
            onDelivery: (deliveries) => this.onCursorDeliveries(session, connection, acker, deliveries, null),
            onClose: () => acker.close(),
          });
          const consumer = attached;
          cursor.consumer = {
            ...bindConsumer(consumer),
            close: () => {
              acker.close();
              consumer.close();
            },
          };
          consumer.flow(this.config.inflightMax);
        }
      }
    }
  }

  private async attachShared(session: Session, connection: Connection, sub: SessionSubscription): Promise<void> {
    const shared = sub.shared!;
    for (const c of session.sharedConsumers.get(sub.filter) ?? []) c.close(); // left by a replaced connection
    session.sharedConsumers.delete(sub.filter);
    const consumers: SubscriptionConsumer[] = [];
    for (const rule of this.mapper.coreTopicsForFilter(shared.filter)) {
      const partitions = this.mapper.partitionCount(rule.coreTopic);
      for (let p = 0; p < partitions; p++) {
        const subscription = await this.core.subscriptions.open(rule.coreTopic, p, sharedName(shared.group, shared.filter), {
          type: 'Shared',
          initialPosition: 'latest',
        });
        if (session.connection !== connection) {
          for (const c of consumers) c.close(); // the connection went away while opening
          return;
        }
        let attached: SubscriptionConsumer | null = null;
        const acker = new Acker(() => attached);
        attached = subscription.attach({
          name: session.clientId,
          onDelivery: (deliveries) => this.onCursorDeliveries(session, connection, acker, deliveries, sub),
          onClose: () => acker.close(),
        });
        const consumer = attached;
        consumers.push({
          ...bindConsumer(consumer),
          close: () => {
            acker.close();
            consumer.close();
          },
        });
        consumer.flow(this.config.inflightMax);
      }
    }
    session.sharedConsumers.set(sub.filter, consumers);
  }

  // ---- delivery ------------------------------------------------------------------------------

  /** Shared by every read path: they all run on this one thread, and each call is synchronous. */
  private readonly viewTopics = new TextReuse();
  private readonly viewPublishers = new TextReuse();

  private view(coreTopic: string, message: Message): MqttMessageView {
    const rule = this.mapper.ruleForCoreTopic(coreTopic);
    return messageToView(message, rule?.localName ?? coreTopic, this.config.foreignMessageQos, this.viewTopics, this.viewPublishers);
  }

  private isExpired(view: MqttMessageView): boolean {
    if (view.expiresAtMs !== null && view.expiresAtMs <= this.clock.now()) {
      this.stats.expired++;
      return true;
    }
    return false;
  }

  /**
   * Fan-out of one core message to non-persistent sessions (index mode). A session whose connection
   * queue is full is not dropped from: it falls behind on this partition and catches up by reading the
   * core itself (catchUp), so QoS 1/2 messages are never discarded and memory stays bounded.
   */
  private onTailMessage(coreTopic: string, partition: number, offset: number, view: MqttMessageView): void {
    if (this.isExpired(view)) return;
    const entries = this.indexEntriesFor(view.topic);
    if (entries.length === 0) return;
    let single: IndexEntry | null = null;
    let many: Map<Session, Match> | null = null;
    for (const entry of entries) {
      const sub = entry.subscription;
      if (sub.noLocal && view.publisher === entry.session.clientId) continue; // [MQTT-3.8.3-3]
      if (single === null && many === null) {
        single = entry;
        continue;
      }
      if (many === null) {
        many = new Map();
        addMatch(many, single!);
      }
      addMatch(many, entry);
    }
    if (many === null && single === null) return;
    const key = this.tailPartitionKey(coreTopic, partition);
    if (many !== null) {
      for (const [session, match] of many as Map<Session, Match>) this.deliverLive(session, key, coreTopic, partition, offset, view, match);
    } else {
      const entry = single! as IndexEntry;
      this.deliverLive(entry.session, key, coreTopic, partition, offset, view, entry.single);
    }
  }

  /**
   * The index entries matching a topic, remembered for the last topic: messages read in a row mostly
   * share their topic (TextReuse even hands out the same string), so the trie is walked once per run
   * of one topic instead of once per message. Any subscribe or unsubscribe invalidates it.
   */
  private matchedTopic: string | null = null;
  private matchedVersion = -1;
  private matchedEntries: IndexEntry[] = [];

  private indexEntriesFor(topic: string): readonly IndexEntry[] {
    if (topic === this.matchedTopic && this.index.version === this.matchedVersion) return this.matchedEntries;
    const entries: IndexEntry[] = [];
    this.index.match(topic, (entry) => entries.push(entry));
    this.matchedTopic = topic;
    this.matchedVersion = this.index.version;
    this.matchedEntries = entries;
    return entries;
  }

  /** partitionKey of the tail's partition, built once per run of messages from one partition. */
  private lastTailTopic: string | null = null;
  private lastTailPartition = -1;
  private lastTailKey = '';

  private tailPartitionKey(coreTopic: string, partition: number): string {
    if (coreTopic !== this.lastTailTopic || partition !== this.lastTailPartition) {
      this.lastTailTopic = coreTopic;
      this.lastTailPartition = partition;
      this.lastTailKey = partitionKey(coreTopic, partition);
    }
    return this.lastTailKey;
  }

  private deliverLive(session: Session, key: string, topic: string, partition: number, offset: number, view: MqttMessageView, match: Readonly<Match>): void {
    const connection = session.connection;
    if (connection === null || session.lagging.has(key)) return; // a lagging session reads this one itself
    const accepted = connection.deliver(view, Math.min(view.qos, match.qos) as 0 | 1 | 2, match.rap && view.retain, match.ids.length > 0 ? match.ids : null, false, null);
    if (!accepted) {
      session.lagging.set(key, { topic, partition, nextOffset: offset });
      this.stats.lagged++;
      this.catchUp(session, connection);
    }
  }

  /**
   * Reads the core for a session that fell behind, from where it fell behind, at the pace its connection
   * drains, until it reaches the tail reader's position and rejoins the live fan-out.
   */
  private catchUp(session: Session, connection: Connection): void {
    if (session.catchingUp) return;
    session.catchingUp = true;
    const run = async (): Promise<void> => {
      // Bounded: each pass advances some lagging partition or waits for the connection to drain; it
      // ends when the session caught up or the connection is gone.
      while (session.lagging.size > 0 && session.connection === connection && !this.closed) {
        await connection.queueRoom();
        if (session.connection !== connection) break;
        for (const [key, lag] of [...session.lagging]) {
          const full = await this.catchUpPartition(session, connection, key, lag);
          if (full) break;
        }
      }
    };
    run()
      .catch((error: unknown) => this.logger.warn('catch-up read failed', { clientId: session.clientId, error }))
      .finally(() => {
        session.catchingUp = false;
        if (session.connection !== connection) session.lagging.clear();
      });
  }

  /** One read for one lagging partition; returns true when the connection queue filled up again. */
  private async catchUpPartition(session: Session, connection: Connection, key: string, lag: Lag): Promise<boolean> {
    const { logStartOffset } = this.core.offsets(lag.topic, lag.partition);
    if (lag.nextOffset < logStartOffset) lag.nextOffset = logStartOffset; // retention removed the rest
    const tailPosition = this.tail.position(lag.topic, lag.partition);
    if (lag.nextOffset < tailPosition) {
      const result = await this.core.read(lag.topic, lag.partition, { offset: lag.nextOffset, maxBytes: CATCH_UP_BYTES_MAX, maxEntries: CATCH_UP_ENTRIES_MAX });
      if (session.connection !== connection) return true;
      // Messages in a row mostly share topic and publisher: match the session's filters once per run
      // (the subscriptions cannot change within this synchronous loop).
      let matchedTopic: string | null = null;
      let matchedPublisher: string | null = null;
      let matched: Match | null = null;
      for (const entry of result.entries) {
        const { header, messages } = decodeRecordBatch(entry.bytes);
        for (const m of header.isControl ? [] : messages) {
          if (m.offset < lag.nextOffset || m.offset >= tailPosition) continue;
          const view = this.view(lag.topic, m);
          if (this.isExpired(view)) {
            lag.nextOffset = m.offset + 1;
            continue;
          }
          if (view.topic !== matchedTopic || view.publisher !== matchedPublisher) {
            matchedTopic = view.topic;
            matchedPublisher = view.publisher;
            matched = this.matchSession(session, view);
          }
          const match = matched;
          if (match !== null) {
            const ok = connection.deliver(view, Math.min(view.qos, match.qos) as 0 | 1 | 2, match.rap && view.retain, match.ids.length > 0 ? match.ids : null, false, null);
            if (!ok) return true;
          }
          lag.nextOffset = m.offset + 1;
        }
        lag.nextOffset = Math.max(lag.nextOffset, Math.min(entry.lastOffset + 1, tailPosition));
      }
    }
    // Caught up with what the tail reader has dispatched: rejoin the live path (synchronously, so no
    // message falls between the two).
    if (lag.nextOffset >= this.tail.position(lag.topic, lag.partition)) session.lagging.delete(key);
    return false;
  }

  /** How a session's own (non-shared) subscriptions match a message, or null. */
  private matchSession(session: Session, view: MqttMessageView): Match | null {
    let match: Match | null = null;
    for (const sub of session.subscriptions.values()) {
      if (sub.shared !== null || !topicMatches(sub.filter, view.topic)) continue;
      if (sub.noLocal && view.publisher === session.clientId) continue;
      match ??= { qos: sub.qos, rap: sub.retainAsPublished, ids: [] };
      match.qos = Math.max(match.qos, sub.qos);
      match.rap ||= sub.retainAsPublished;
      if (sub.subscriptionId !== undefined) match.ids.push(sub.subscriptionId);
    }
    return match;
  }

  /** Deliveries from a durable cursor (persistent session) or a Shared subscription (`shared`). */
  private onCursorDeliveries(
    session: Session,
    connection: Connection,
    acker: Acker,
    deliveries: readonly Delivery[],
    shared: SessionSubscription | null,
  ): void {
    for (const d of deliveries) {
      if (session.connection !== connection) return; // stale consumer: it is being closed, the core redelivers
      const offset = d.message.offset;
      const view = this.view(d.topic, d.message);
      if (this.isExpired(view)) {
        acker.ack(offset);
        continue;
      }
      let match: Match | null = null;
      if (shared !== null) {
        if (topicMatches(shared.shared!.filter, view.topic)) {
          match = { qos: shared.qos, rap: false, ids: shared.subscriptionId === undefined ? [] : [shared.subscriptionId] };
        }
      } else {
        match = this.matchSession(session, view);
      }
      if (match === null) {
        acker.ack(offset);
        continue;
      }
      connection.deliver(
        view,
        Math.min(view.qos, match.qos) as 0 | 1 | 2,
        match.rap && view.retain,
        match.ids.length > 0 ? match.ids : null,
        d.redeliveryCount > 0,
        () => acker.ack(offset),
      );
    }
  }

  // ---- publish -------------------------------------------------------------------------------

  /**
   * Appends publishes to their core topics, grouped per (core topic, partition) into one entry each,
   * in order. Retained ones are also stored. Resolves per packet: null when durable, or the error.
   * The views of what was appended go to the tail reader with their offsets, so the live fan-out
   * does not read back and decode what was just encoded (core-tail.ts).
   * `inDoubt`: a persistent session's in-doubt entries, written by markInDoubt before this call; its
   * QoS 2 messages carry their packet id (`mqtt.packet-id`) and go to the partition their entry names.
   */
  async append(publisher: string, packets: readonly IPublishPacket[], inDoubt: ReadonlyMap<number, InDoubtPublish> | null = null): Promise<(Error | null)[]> {
    const now = this.clock.now();
    const publisherBytes = Buffer.from(publisher);
    const groups = new Map<string, AppendGroup>();
    const messages: Message[] = [];
    // Publishes in one batch mostly go to one topic: encode its name and find its partition once.
    let lastTopic: string | null = null;
    let lastTopicBytes: Buffer | undefined;
    let group: AppendGroup | undefined;
    // Headers of the last PUBLISH without properties, shared by the next ones with the same topic, QoS and retain.
    let lastHeaders: readonly Header[] | undefined;
    let lastQos = -1;
    let lastRetain = false;
    /** Indexes of retained publishes with an in-doubt entry (rare: no array otherwise). */
    let trackedRetained: number[] | null = null;
    for (let i = 0; i < packets.length; i++) {
      const packet = packets[i]!;
      if (packet.topic !== lastTopic) {
        lastTopic = packet.topic;
        lastTopicBytes = Buffer.from(packet.topic);
        lastHeaders = undefined;
        const rule = this.mapper.ruleForTopic(packet.topic);
        const partition = this.mapper.partitionFor(rule, packet.topic);
        group = this.appendGroupFor(groups, rule, partition);
      }
      const entry = inDoubt !== null && packet.qos === 2 ? inDoubt.get(packet.messageId!) : undefined;
      let target = group!;
      if (entry !== undefined && entry.partition !== target.partition && entry.topic === target.rule.coreTopic) {
        // Partitions were added since the in-doubt entry was written: the message goes where the entry
        // says, so that a restart's scan looks in the right partition.
        target = this.appendGroupFor(groups, target.rule, entry.partition);
      }
      const tracked = entry?.id;
      if (tracked !== undefined && packet.retain) (trackedRetained ??= []).push(i);
      const plain = packet.properties === undefined && tracked === undefined;
      const same = plain && packet.qos === lastQos && packet.retain === lastRetain ? lastHeaders : undefined;
      const message = publishToMessage(packet, publisherBytes, now, lastTopicBytes, same, tracked);
      lastHeaders = plain ? message.headers : undefined;
      lastQos = packet.qos;
      lastRetain = packet.retain;
      messages.push(message);
      target.indexes.push(i);
      target.messages.push(message);
      if (target.sink !== null) target.views.push(publishView(packet, message, publisher));
    }
    const results: (Error | null)[] = new Array<Error | null>(packets.length).fill(null);
    const putRetained = (i: number): Promise<void> =>
      this.retained.put(packets[i]!.topic, messages[i]!).then(
        () => undefined,
        (error: Error) => {
          results[i] = error;
        },
      );
    if (trackedRetained !== null) {
      // A tracked retained QoS 2 PUBLISH is retained before it is appended: if a crash leaves it in the
      // log (found at restart, its re-send not stored again), its retained copy is there too.
      await Promise.all(trackedRetained.map(putRetained));
    }
    const work: Promise<void>[] = [];
    for (const g of groups.values()) {
      work.push(
        this.appendGroup(g).then(
          () => undefined,
          (error: Error) => {
            for (const i of g.indexes) results[i] = error;
          },
        ),
      );
    }
    for (let i = 0; i < packets.length; i++) {
      if (packets[i]!.retain && !(trackedRetained?.includes(i) ?? false)) work.push(putRetained(i));
    }
    await Promise.all(work);
    return results;
  }

  private appendGroupFor(groups: Map<string, AppendGroup>, rule: TopicRule, partition: number): AppendGroup {
    const key = partitionKey(rule.coreTopic, partition);
    let group = groups.get(key);
    if (group === undefined) {
      group = { rule, partition, indexes: [], messages: [], views: [], sink: this.tail.sink(rule.coreTopic, partition) };
      groups.set(key, group);
    }
    return group;
  }

  private async appendGroup(group: AppendGroup): Promise<void> {
    const { rule, partition, messages } = group;
    let result: AppendResult;
    try {
      result = await this.core.append(rule.coreTopic, partition, { kind: 'messages', messages });
    } catch (error) {
      // The core topic was deleted under us: recreate it once (the rule still names it).
      if (!isStrataError(error, 'UNKNOWN_TOPIC')) throw error;
      await this.ensureTopic(rule);
      // The old sink belongs to the deleted topic's tail: the new tail reads this append back instead.
      group.sink = null;
      result = await this.core.append(rule.coreTopic, partition, { kind: 'messages', messages });
    }
    this.tail.appended(group.sink, result, group.views);
  }

  /** Retained messages for a new subscription, as views. */
  retainedFor(filter: string): MqttMessageView[] {
    const out: MqttMessageView[] = [];
    for (const m of this.retained.match(filter)) {
      const view = messageToView(m, m.key?.toString() ?? '', this.config.foreignMessageQos);
      if (!this.isExpired(view)) out.push(view);
    }
    return out;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.unsubscribeTopicEvents?.();
    this.tail.close();
    for (const connection of [...this.connections]) connection.close('server shutting down', 0x8b);
    for (const session of this.sessions.values()) {
      session.clearTimers();
      this.detach(session);
    }
    // Let queued session writes (disconnect times) reach the metadata store before the core closes.
    await Promise.allSettled([...this.sessions.values()].map((session) => session.serial(async () => {})));
  }
}

function storeWill(will: NonNullable<Session['will']>): StoredWill {
  const p = will.packet;
  const payload = typeof p.payload === 'string' ? Buffer.from(p.payload) : p.payload;
  let properties: Record<string, unknown> | undefined;
  if (p.properties !== undefined) {
    properties = { ...p.properties };
    if (p.properties.correlationData !== undefined) properties['correlationData'] = p.properties.correlationData.toString('base64');
  }
  return {
    topic: p.topic,
    payloadBase64: payload.toString('base64'),
    qos: p.qos,
    retain: p.retain,
    delaySeconds: will.delaySeconds,
    ...(properties !== undefined ? { properties } : {}),
  };
}

function loadWill(stored: StoredWill): NonNullable<Session['will']> {
  const packet: IPublishPacket = {
    cmd: 'publish',
    topic: stored.topic,
    payload: Buffer.from(stored.payloadBase64, 'base64'),
    qos: stored.qos,
    retain: stored.retain,
    dup: false,
  };
  if (stored.properties !== undefined) {
    const properties = { ...stored.properties } as NonNullable<IPublishPacket['properties']> & { correlationData?: unknown };
    if (typeof properties.correlationData === 'string') properties.correlationData = Buffer.from(properties.correlationData, 'base64');
    packet.properties = properties as IPublishPacket['properties'];
  }
  return { packet, delaySeconds: stored.delaySeconds };
}

/** An in-doubt QoS 2 PUBLISH found in a stored session at start. */
interface InDoubtRestore extends InDoubtLookup {
  readonly session: Session;
  readonly entry: InDoubtPublish;
}

/** The publishes of one append call that go to one core topic partition. */
interface AppendGroup {
  readonly rule: TopicRule;
  readonly partition: number;
  /** Their positions in the append call's packets. */
  readonly indexes: number[];
  readonly messages: Message[];
  /** Their views for the tail reader; empty when `sink` is null (nobody subscribed). */
  readonly views: MqttMessageView[];
  sink: AppendSink;
}

interface Match {
  qos: number;
  rap: boolean;
  ids: number[];
}

function addMatch(many: Map<Session, Match>, entry: IndexEntry): void {
  const sub = entry.subscription;
  let agg = many.get(entry.session);
  if (agg === undefined) {
    agg = { qos: sub.qos, rap: sub.retainAsPublished, ids: [] };
    many.set(entry.session, agg);
  } else {
    agg.qos = Math.max(agg.qos, sub.qos); // [MQTT-3.3.5-1] one copy at the highest QoS
    agg.rap ||= sub.retainAsPublished;
  }
  if (sub.subscriptionId !== undefined) agg.ids.push(sub.subscriptionId);
}


function bindConsumer(c: SubscriptionConsumer): SubscriptionConsumer {
  return {
    name: c.name,
    flow: (n) => c.flow(n),
    ack: (o) => c.ack(o),
    ackCumulative: (o) => c.ackCumulative(o),
    nack: (o) => c.nack(o),
    close: () => c.close(),
  };
}

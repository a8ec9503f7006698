/**
 * One MQTT network connection: framing and parsing (mqtt-packet), the packet dispatch to
 * handlers/*.ts, keep-alive, packet identifiers and the outbound in-flight window, and writes with
 * backpressure. Session state that outlives the connection lives in Session/Broker.
 *
 * Inbound ordering: packets are handled in arrival order; PUBLISHes are batched per socket read and
 * appended without waiting, and their PUBACK/PUBREC go out in arrival order once durable. A
 * SUBSCRIBE/UNSUBSCRIBE/CONNECT is awaited before the packets after it, so a publish that follows a
 * SUBSCRIBE on the same connection is matched by it.
 */
import type { AclOperation } from './auth/acl.js';
import type { Duplex } from 'node:stream';
import * as mqttPacket from 'mqtt-packet';
import type { ConnectionInfo, Logger } from '@strata/core';
import type { Broker } from './broker.js';
import { decodePubackV4, decodePublishV4, encodePublishV4 } from './fast-path.js';
import { FrameReader } from './framing.js';
import { TextReuse, type MqttMessageView } from './message-codec.js';
import { reasonForAppendError } from './errors.js';
import { RC } from './reason-codes.js';
import type { Session } from './session.js';
import { handleConnect, unsupportedProtocolLevel } from './handlers/connect.js';
import { handlePublish } from './handlers/publish.js';
import { handleSubscribe } from './handlers/subscribe.js';
import { handleUnsubscribe } from './handlers/unsubscribe.js';
import { handlePuback, handlePubcomp, handlePubrec, handlePubrel } from './handlers/acks.js';
import { handleDisconnect } from './handlers/disconnect.js';

type State = 'awaiting-connect' | 'connecting' | 'connected' | 'closed';

/** A message waiting for the outbound window. */
interface PendingDelivery {
  readonly view: MqttMessageView;
  readonly qos: 0 | 1 | 2;
  readonly retain: boolean;
  readonly subscriptionIds: number[] | null;
  readonly dup: boolean;
  readonly onDone: (() => void) | null;
}

interface InflightDelivery {
  readonly qos: 1 | 2;
  /** QoS 2: PUBREC received, PUBREL sent, waiting for PUBCOMP. */
  released: boolean;
  readonly onDone: (() => void) | null;
}

/** Packets written in one tick are copied into one buffer up to this size; larger ones are written as they are. */
const OUT_COPY_BYTES_MAX = 64 * 1024;

/** Topics whose ACL decision a connection keeps, per operation; past it the cache starts again. */
const ACL_DECISIONS_MAX = 1024;

/** Time given to a closing connection to flush its last packet (e.g. DISCONNECT) before it is destroyed. */
const CLOSE_FLUSH_MS = 1000;

export class Connection {
  state: State = 'awaiting-connect';
  protocolVersion: 3 | 4 | 5 = 4;
  session: Session | null = null;
  clientId = '';
  /** The user name the client logged in with (CONNECT), or null: the ACL's %u. */
  username: string | null = null;
  /** ACL decisions of this connection by topic (read, write), made on first use; bounded. */
  private aclDecisions: { read: Map<string, boolean>; write: Map<string, boolean> } | null = null;
  readonly logger: Logger;

  // limits the client asked for (MQTT 5 CONNECT properties)
  sendQuota: number;
  clientPacketBytesMax = Number.POSITIVE_INFINITY;
  clientTopicAliasMax = 0;
  keepAliveSeconds = 0;

  /** Client → server topic aliases (MQTT 5 §3.3.2.3.4). */
  readonly inboundAliases = new Map<number, string>();
  /** Server → client topic aliases we assigned. */
  private readonly outboundAliases = new Map<string, number>();

  private readonly parser = mqttPacket.parser({ protocolVersion: 4 });
  /** The last inbound PUBLISH topic that passed validation (handlers/publish.ts). */
  lastValidTopic: string | null = null;
  /** The last outbound PUBLISH topic and its UTF-8 bytes. */
  private outboundTopic: string | null = null;
  private outboundTopicBytes: Buffer | null = null;
  /** Inbound PUBLISH topic strings reused while the bytes repeat (made on the first PUBLISH: idle connections do not pay for it). */
  private inboundTopics: TextReuse | null = null;
  private readonly frames: FrameReader;
  private parsed: mqttPacket.Packet | null = null;
  private parseError: Error | null = null;

  private readonly inflight = new Map<number, InflightDelivery>();
  private readonly pending: PendingDelivery[] = [];
  private pendingHead = 0;
  private nextPacketId = 1;

  /** Inbound QoS 1/2 publishes being appended (MQTT 5 Receive Maximum counts them). */
  inboundAppending = 0;
  private publishBatch: mqttPacket.IPublishPacket[] = [];
  private appendBytes = 0;
  private ackChain: Promise<void> = Promise.resolve();

  private busy = false;
  private readonly backlog: mqttPacket.Packet[] = [];
  private pausedForAppends = false;
  private pausedForWork = false;
  private keepaliveTimer: NodeJS.Timeout | null = null;
  private connectTimer: NodeJS.Timeout | null;
  private gracefulClose = false;

  constructor(
    readonly stream: Duplex,
    readonly broker: Broker,
    readonly info: ConnectionInfo,
    logger: Logger,
  ) {
    this.logger = logger.child({ remote: `${info.remoteAddress}:${info.remotePort}`, listener: info.listenerId });
    this.sendQuota = broker.config.inflightMax;
    this.frames = new FrameReader(broker.config.packetBytesMax);
    this.parser.on('packet', (packet: mqttPacket.Packet) => {
      this.parsed = packet;
    });
    this.parser.on('error', (error: Error) => {
      this.parseError = error;
    });
    stream.on('data', (chunk: Buffer) => this.onData(chunk));
    stream.on('error', (error: Error) => {
      this.logger.debug('connection error', { error: error.message });
      this.finish();
    });
    stream.on('close', () => this.finish());
    stream.on('end', () => this.finish());
    stream.on('drain', () => this.drainPending());
    this.connectTimer = setTimeout(() => {
      if (this.state === 'awaiting-connect') this.close('no CONNECT in time');
    }, broker.config.connectTimeoutMs);
    this.connectTimer.unref();
  }

  get closed(): boolean {
    return this.state === 'closed';
  }

  // ---- inbound -------------------------------------------------------------------------------

  private onData(chunk: Buffer): void {
    if (this.closed) return;
    this.keepaliveTimer?.refresh();
    if (this.state === 'awaiting-connect' && this.frames.bufferedBytes === 0 && unsupportedProtocolLevel(chunk)) {
      // [MQTT-3.1.2-2]: answer an unknown protocol level with CONNACK 0x01 and close.
      this.stream.write(Buffer.from([0x20, 0x02, 0x00, 0x01]));
      this.close('unsupported protocol level');
      return;
    }
    const error = this.frames.push(chunk, (frame) => this.onFrame(frame));
    if (error === 'too-large') this.close('packet too large', RC.packetTooLarge);
    else if (error === 'malformed') this.close('malformed packet', RC.malformedPacket);
    if (!this.busy) this.flushPublishes();
  }

  private onFrame(frame: Buffer): boolean {
    if (this.closed) return false;
    let packet: mqttPacket.Packet | null = null;
    if (this.protocolVersion < 5 && this.state === 'connected') {
      const type = frame[0]! >> 4;
      if (type === 3) packet = decodePublishV4(frame, (this.inboundTopics ??= new TextReuse()));
      else if (type === 4) packet = decodePubackV4(frame);
    }
    if (packet === null) {
      this.parsed = null;
      this.parseError = null;
      this.parser.parse(frame);
      const parseError = this.parseError as Error | null;
      packet = this.parsed as mqttPacket.Packet | null;
      if (parseError !== null || packet === null) {
        this.close(`malformed packet: ${parseError?.message ?? 'incomplete'}`, RC.malformedPacket);
        return false;
      }
    }
    if (this.busy) {
      this.backlog.push(packet);
      if (!this.pausedForWork) {
        this.pausedForWork = true;
        this.stream.pause();
      }
      return true;
    }
    this.dispatch(packet);
    return !this.closed;
  }

  private dispatch(packet: mqttPacket.Packet): void {
    if (this.state === 'awaiting-connect') {
      if (packet.cmd !== 'connect') return this.close('first packet is not CONNECT'); // [MQTT-3.1.0-1]
      if (this.connectTimer !== null) clearTimeout(this.connectTimer);
      this.connectTimer = null;
      this.state = 'connecting';
      return this.runAsync(handleConnect(this, packet));
    }
    if (packet.cmd === 'publish') return handlePublish(this, packet);
    this.flushPublishes();
    switch (packet.cmd) {
      case 'connect':
        return this.close('second CONNECT', RC.protocolError); // [MQTT-3.1.0-2]
      case 'puback':
        return handlePuback(this, packet);
      case 'pubrec':
        return handlePubrec(this, packet);
      case 'pubrel':
        return handlePubrel(this, packet);
      case 'pubcomp':
        return handlePubcomp(this, packet);
      case 'subscribe':
        return this.runAsync(handleSubscribe(this, packet));
      case 'unsubscribe':
        return this.runAsync(handleUnsubscribe(this, packet));
      case 'pingreq':
        return this.send({ cmd: 'pingresp' });
      case 'disconnect':
        return handleDisconnect(this, packet);
      default:
        // CONNACK, SUBACK, AUTH (no enhanced authentication) ... from a client: a protocol error.
        return this.close(`unexpected ${packet.cmd}`, RC.protocolError);
    }
  }

  private runAsync(work: Promise<void>): void {
    this.busy = true;
    work
      .catch((error: unknown) => {
        this.logger.warn('packet handling failed', { error });
        this.close('internal error', RC.unspecifiedError);
      })
      .finally(() => {
        this.busy = false;
        // Bounded: the backlog holds what was parsed from the chunks read before the pause.
        while (!this.busy && !this.closed && this.backlog.length > this.backlogHead) {
          const packet = this.backlog[this.backlogHead++]!;
          this.dispatch(packet);
        }
        if (!this.busy) {
          this.backlog.length = 0;
          this.backlogHead = 0;
          this.flushPublishes();
          if (this.pausedForWork) {
            this.pausedForWork = false;
            this.maybeResume();
          }
        }
      });
  }

  private backlogHead = 0;

  private maybeResume(): void {
    if (!this.pausedForWork && !this.pausedForAppends && !this.closed) this.stream.resume();
  }

  /** Queues a validated PUBLISH for the next batched append. */
  queuePublish(packet: mqttPacket.IPublishPacket): void {
    this.publishBatch.push(packet);
  }

  /**
   * Appends the publishes read so far as one batch and sends their acknowledgements, in arrival
   * order, once the core has made them durable (PUBACK/PUBREC only after `core.append` resolves).
   */
  flushPublishes(): void {
    if (this.publishBatch.length === 0 || this.closed) return;
    const batch = this.publishBatch;
    this.publishBatch = [];
    let bytes = 0;
    let acked = 0;
    for (const p of batch) {
      bytes += p.payload.length + p.topic.length;
      if (p.qos > 0) acked++;
    }
    this.appendBytes += bytes;
    this.inboundAppending += acked;
    if (this.appendBytes > this.broker.config.appendBytesInflightMax && !this.pausedForAppends) {
      this.pausedForAppends = true;
      this.stream.pause();
    }
    const appended = this.appendBatch(batch);
    this.ackChain = this.ackChain
      .then(() => appended)
      .then(
        (results) => this.acknowledgePublishes(batch, results),
        (error: unknown) => this.acknowledgePublishes(batch, batch.map(() => error as Error)),
      )
      .finally(() => {
        this.appendBytes -= bytes;
        this.inboundAppending -= acked;
        if (this.pausedForAppends && this.appendBytes <= this.broker.config.appendBytesInflightMax / 2) {
          this.pausedForAppends = false;
          this.maybeResume();
        }
      });
  }

  /**
   * Appends a batch. With QoS 2 PUBLISHes of a persistent session in it, their in-doubt entries are
   * made durable first and the messages carry their packet ids, so a crash between the append and the
   * id's write is settled from the log at restart (qos2-recovery.ts). The whole batch waits for that
   * write: appending the rest first would change the order of the log.
   */
  private appendBatch(batch: mqttPacket.IPublishPacket[]): Promise<(Error | null)[]> {
    const session = this.session;
    if (session === null || !session.persistent || !batch.some((p) => p.qos === 2)) return this.broker.append(this.clientId, batch);
    let marked: Promise<void>;
    try {
      marked = this.broker.markInDoubt(session, batch);
    } catch (error) {
      marked = Promise.reject(error as Error); // e.g. the core is closing: the batch fails like an append
    }
    return marked.then(
      () => {
        this.broker.faults.beforeQos2Append?.();
        return this.broker.append(this.clientId, batch, session.inboundQos2InDoubt);
      },
      (error: unknown) => batch.map(() => error as Error),
    );
  }

  /**
   * Records stored QoS 2 ids, then sends the batch's PUBACK/PUBREC. For a persistent session the ids
   * are made durable first ([MQTT-4.3.3-2] Method B: the id is stored before PUBREC), so a PUBLISH
   * re-sent with DUP after a server restart is recognised and not stored twice. The same write drops
   * their in-doubt entries (appendBatch).
   */
  private acknowledgePublishes(batch: mqttPacket.IPublishPacket[], results: (Error | null)[]): void | Promise<void> {
    const session = this.session;
    let storedQos2 = false;
    let settledInDoubt = false;
    for (let i = 0; i < batch.length; i++) {
      const packet = batch[i]!;
      if (packet.qos !== 2 || session === null) continue;
      if (session.inboundQos2InDoubt.delete(packet.messageId!)) settledInDoubt = true;
      if ((results[i] ?? null) === null) {
        session.inboundQos2.set(packet.messageId!, true);
        storedQos2 = true;
      } else {
        session.inboundQos2.delete(packet.messageId!);
      }
    }
    if ((!storedQos2 && !settledInDoubt) || session === null || !session.persistent) return this.sendPublishAcks(batch, results);
    if (storedQos2) this.broker.faults.afterQos2Append?.();
    return this.broker.savePacketIds(session).then(
      () => this.sendPublishAcks(batch, results),
      (error: unknown) => {
        // The messages are stored but their ids are not: no PUBREC, so the client re-sends, and the
        // ids still known in memory keep those re-sends from being stored again.
        this.logger.warn('QoS 2 packet ids could not be stored', { clientId: this.clientId, error });
        this.close('session state could not be stored', RC.unspecifiedError);
      },
    );
  }

  private sendPublishAcks(batch: mqttPacket.IPublishPacket[], results: (Error | null)[]): void {
    for (let i = 0; i < batch.length; i++) {
      const packet = batch[i]!;
      const error = results[i] ?? null;
      if (this.closed) continue;
      if (error !== null) {
        this.logger.warn('publish append failed', { topic: packet.topic, error });
        if (this.protocolVersion < 5) {
          // 3.1.1 has no negative acknowledgement: close so the client retries.
          if (packet.qos > 0) this.close('publish could not be stored');
          continue;
        }
      }
      if (packet.qos === 0) continue;
      const reasonCode = error === null ? RC.success : reasonForAppendError(error);
      this.sendAck(packet.qos === 1 ? 'puback' : 'pubrec', packet.messageId!, reasonCode);
    }
  }

  // ---- outbound ------------------------------------------------------------------------------

  /**
   * PUBREC for a re-sent QoS 2 PUBLISH whose message is already stored. It follows the
   * acknowledgements still waiting for their appends (and, for a persistent session, for the id's
   * write), so it is never sent before the id is durable, and acknowledgements keep arrival order.
   */
  acknowledgeStoredQos2(messageId: number): void {
    this.ackChain = this.ackChain.then(() => this.sendAck('pubrec', messageId));
  }

  /** PUBCOMP once the released id is durably forgotten (persistent sessions), so the client can reuse it safely. */
  completeInboundQos2(messageId: number): void {
    const session = this.session;
    if (session === null || !session.persistent) return this.sendAck('pubcomp', messageId);
    this.broker.savePacketIds(session).then(
      () => this.sendAck('pubcomp', messageId),
      (error: unknown) => {
        this.logger.warn('QoS 2 packet ids could not be stored', { clientId: this.clientId, error });
        this.close('session state could not be stored', RC.unspecifiedError);
      },
    );
  }

  /** Writes one packet (written with the rest of this tick's packets, see `write`). */
  send(packet: mqttPacket.Packet): void {
    if (this.closed) return;
    this.write(mqttPacket.generate(packet, { protocolVersion: this.protocolVersion }));
  }

  /**
   * May this client read (receive) or write (publish) `topic` (auth/acl.ts)? Decisions are kept per
   * topic for the connection's life, up to ACL_DECISIONS_MAX topics per operation.
   */
  mayAccess(topic: string, operation: AclOperation): boolean {
    const decisions = (this.aclDecisions ??= { read: new Map(), write: new Map() })[operation];
    const known = decisions.get(topic);
    if (known !== undefined) return known;
    const allowed = this.broker.acl.allows({ user: this.username, clientId: this.clientId }, topic, operation);
    if (decisions.size >= ACL_DECISIONS_MAX) decisions.clear();
    decisions.set(topic, allowed);
    return allowed;
  }

  /**
   * A PUBLISH the ACL refuses (handlers/publish.ts): nothing is stored. MQTT 5 answers QoS 1/2 with
   * reason 0x87 (not authorized); 3.1.1 has no refusal, so the PUBLISH is acknowledged as usual and
   * dropped [MQTT-3.3.5-2], as mosquitto does. In order with the acknowledgements of earlier publishes.
   */
  refusePublish(packet: mqttPacket.IPublishPacket): void {
    if (packet.qos === 0) return;
    const messageId = packet.messageId!;
    if (this.protocolVersion === 5) {
      this.ackChain = this.ackChain.then(() => this.sendAck(packet.qos === 1 ? 'puback' : 'pubrec', messageId, RC.notAuthorized));
      return;
    }
    if (packet.qos === 1) {
      this.ackChain = this.ackChain.then(() => this.sendAck('puback', messageId));
      return;
    }
    // QoS 2 on 3.1.1: PUBREC now, PUBCOMP at PUBREL (the id is held like a stored one's).
    this.session!.inboundQos2.set(messageId, true);
    this.acknowledgeStoredQos2(messageId);
  }

  /**
   * PUBACK, PUBREC, PUBREL, PUBCOMP written directly: the 4-byte form when the reason is success (MQTT 5
   * §3.4.2.1 allows omitting reason and properties; some clients, e.g. paho 1.6, only parse that form),
   * else 5 bytes with the MQTT 5 reason code.
   */
  sendAck(cmd: 'puback' | 'pubrec' | 'pubrel' | 'pubcomp', messageId: number, reasonCode = 0): void {
    if (this.closed) return;
    const type = ACK_TYPE_BYTE[cmd];
    const withReason = reasonCode !== 0 && this.protocolVersion === 5;
    const bytes = Buffer.allocUnsafe(withReason ? 5 : 4);
    bytes[0] = type;
    bytes[1] = withReason ? 3 : 2;
    bytes.writeUInt16BE(messageId, 2);
    if (withReason) bytes[4] = reasonCode;
    this.write(bytes);
  }

  /**
   * Queues packet bytes; everything written in one tick goes out as one socket write (small packets
   * copied into one buffer: one write request instead of one per packet), started on process.nextTick.
   */
  write(bytes: Buffer): void {
    if (this.outChunks.length === 0) process.nextTick(this.flushOut);
    this.outChunks.push(bytes);
    this.outBytes += bytes.length;
  }

  /** Packets queued by `write` in this tick, and their bytes (counted against outboundBytesMax). */
  private outChunks: Buffer[] = [];
  private outBytes = 0;

  private readonly flushOut = (): void => {
    const chunks = this.outChunks;
    if (chunks.length === 0) return;
    const total = this.outBytes;
    this.outChunks = [];
    this.outBytes = 0;
    const stream = this.stream;
    if (stream.destroyed || stream.writableEnded) return;
    if (chunks.length === 1) {
      stream.write(chunks[0]!);
      return;
    }
    if (total <= OUT_COPY_BYTES_MAX) {
      stream.write(Buffer.concat(chunks, total));
      return;
    }
    // Large payloads are not copied: runs of small packets are joined, large ones written as they are.
    stream.cork();
    let runStart = 0;
    let runBytes = 0;
    for (let i = 0; i < chunks.length; i++) {
      const chunk = chunks[i]!;
      if (chunk.length < OUT_COPY_BYTES_MAX) {
        runBytes += chunk.length;
        continue;
      }
      if (runBytes > 0) stream.write(i - runStart === 1 ? chunks[runStart]! : Buffer.concat(chunks.slice(runStart, i), runBytes));
      stream.write(chunk);
      runStart = i + 1;
      runBytes = 0;
    }
    if (runBytes > 0) stream.write(chunks.length - runStart === 1 ? chunks[runStart]! : Buffer.concat(chunks.slice(runStart), runBytes));
    stream.uncork();
  };

  /**
   * Delivers a message to this client. It is sent now when the socket buffer is below
   * `outboundBytesMax` and, for QoS 1/2, the in-flight window (the client's Receive Maximum) has room;
   * otherwise it is queued. Past `queuedMessagesMax` queued, a message without `onDone` (a
   * non-persistent session's) is refused (returns false) and the caller leaves it in the core; one with
   * `onDone` (from a core cursor) is always queued, bounded by the permits the cursor was granted.
   * `onDone` runs when the client has acknowledged it (or it was dropped for good, e.g. too large).
   */
  deliver(
    view: MqttMessageView,
    qos: 0 | 1 | 2,
    retain: boolean,
    subscriptionIds: number[] | null,
    dup: boolean,
    onDone: (() => void) | null,
  ): boolean {
    if (this.closed) return true;
    if (!this.broker.acl.allowsEverything && !this.mayAccess(view.topic, 'read')) {
      // Not for this client (a rule denies part of its wildcard): skipped as if delivered.
      onDone?.();
      return true;
    }
    if (this.state === 'connected' && this.pending.length === this.pendingHead && this.canSend(qos)) {
      this.sendPublish(view, qos, retain, subscriptionIds, dup, onDone);
      return true;
    }
    if (onDone === null && this.pending.length - this.pendingHead >= this.broker.config.queuedMessagesMax) {
      // Full: the caller keeps the message in the core (a lagging session catches up from there).
      return false;
    }
    this.pending.push({ view, qos, retain, subscriptionIds, dup, onDone });
    return true;
  }

  /** Resolves when the queue has room again (at most half full), or at once if it has. */
  queueRoom(): Promise<void> {
    if (this.closed || this.pending.length - this.pendingHead <= this.broker.config.queuedMessagesMax / 2) return Promise.resolve();
    return new Promise((resolve) => this.roomWaiters.push(resolve));
  }

  private roomWaiters: (() => void)[] = [];

  private notifyRoom(): void {
    if (this.roomWaiters.length === 0) return;
    if (!this.closed && this.pending.length - this.pendingHead > this.broker.config.queuedMessagesMax / 2) return;
    const waiters = this.roomWaiters;
    this.roomWaiters = [];
    for (const w of waiters) w();
  }

  /** Room in the socket buffer, and for QoS 1/2 in the in-flight window. */
  private canSend(qos: 0 | 1 | 2): boolean {
    if (this.stream.writableLength + this.outBytes > this.broker.config.outboundBytesMax) return false;
    return qos === 0 || this.inflight.size < this.sendQuota;
  }

  /** Sends queued deliveries while the window has room. */
  drainPending(): void {
    if (this.state !== 'connected') return;
    while (this.pendingHead < this.pending.length) {
      const item = this.pending[this.pendingHead]!;
      if (!this.canSend(item.qos)) break;
      this.pendingHead++;
      this.sendPublish(item.view, item.qos, item.retain, item.subscriptionIds, item.dup, item.onDone);
    }
    if (this.pendingHead === this.pending.length) {
      this.pending.length = 0;
      this.pendingHead = 0;
    } else if (this.pendingHead > 1024) {
      this.pending.splice(0, this.pendingHead);
      this.pendingHead = 0;
    }
    this.notifyRoom();
  }

  private allocatePacketId(): number {
    // Bounded: at most sendQuota (<= 65535) ids are in use.
    for (;;) {
      const id = this.nextPacketId;
      this.nextPacketId = id === 65535 ? 1 : id + 1;
      if (!this.inflight.has(id)) return id;
    }
  }

  private sendPublish(
    view: MqttMessageView,
    qos: 0 | 1 | 2,
    retain: boolean,
    subscriptionIds: number[] | null,
    dup: boolean,
    onDone: (() => void) | null,
  ): void {
    if (this.protocolVersion < 5) {
      // 3.1/3.1.1: no properties, so no packet object on this path.
      const messageId = qos > 0 ? this.allocatePacketId() : 0;
      let bytes: Buffer;
      try {
        if (view.topic !== this.outboundTopic) {
          // Deliveries in a row mostly share their topic (the fan-out even hands out the same string).
          this.outboundTopic = view.topic;
          this.outboundTopicBytes = Buffer.from(view.topic);
        }
        bytes = encodePublishV4(view.topic, view.payload, qos, retain, dup && qos > 0, messageId, this.outboundTopicBytes!);
      } catch (error) {
        // e.g. a topic from another protocol's header longer than a PUBLISH can carry
        this.logger.warn('cannot encode outgoing publish', { topic: view.topic.slice(0, 200), error });
        onDone?.();
        return;
      }
      this.writePublish(bytes, view, qos, messageId, onDone, false);
      return;
    }
    const packet: mqttPacket.IPublishPacket = {
      cmd: 'publish',
      topic: view.topic,
      payload: view.payload,
      qos,
      retain,
      dup: dup && qos > 0,
    };
    const properties: NonNullable<mqttPacket.IPublishPacket['properties']> = { ...view.properties };
    if (view.expiresAtMs !== null) {
      properties.messageExpiryInterval = Math.max(1, Math.ceil((view.expiresAtMs - Date.now()) / 1000));
    }
    if (subscriptionIds !== null && subscriptionIds.length > 0) {
      properties.subscriptionIdentifier = subscriptionIds.length === 1 ? subscriptionIds[0]! : subscriptionIds;
    }
    if (this.clientTopicAliasMax > 0) {
      const alias = this.outboundAliases.get(view.topic);
      if (alias !== undefined) {
        properties.topicAlias = alias;
        packet.topic = '';
      } else if (this.outboundAliases.size < this.clientTopicAliasMax) {
        const next = this.outboundAliases.size + 1;
        this.outboundAliases.set(view.topic, next);
        properties.topicAlias = next;
      }
    }
    if (Object.keys(properties).length > 0) packet.properties = properties;
    if (qos > 0) packet.messageId = this.allocatePacketId();
    let bytes: Buffer;
    try {
      bytes = mqttPacket.generate(packet, { protocolVersion: this.protocolVersion });
    } catch (error) {
      this.logger.warn('cannot encode outgoing publish', { topic: view.topic, error });
      onDone?.();
      return;
    }
    this.writePublish(bytes, view, qos, packet.messageId ?? 0, onDone, packet.properties?.topicAlias !== undefined && packet.topic !== '');
  }

  /** `newAlias`: the packet set up a topic alias, to be forgotten if the packet is not sent. */
  private writePublish(bytes: Buffer, view: MqttMessageView, qos: 0 | 1 | 2, messageId: number, onDone: (() => void) | null, newAlias: boolean): void {
    if (bytes.length > this.clientPacketBytesMax) {
      // [MQTT-3.1.2-25]: never send a packet larger than the client's Maximum Packet Size; discard it.
      if (newAlias) this.outboundAliases.delete(view.topic);
      this.broker.stats.droppedTooLarge++;
      onDone?.();
      return;
    }
    if (qos > 0) this.inflight.set(messageId, { qos: qos as 1 | 2, released: false, onDone });
    this.write(bytes);
    if (qos === 0) onDone?.();
  }

  /** PUBACK (QoS 1) or PUBCOMP (QoS 2) or a failing PUBREC: the delivery is over. */
  completeDelivery(messageId: number, qos: 1 | 2): boolean {
    const entry = this.inflight.get(messageId);
    if (entry === undefined || entry.qos !== qos) return false;
    this.inflight.delete(messageId);
    if (this.session?.outboundReleased.delete(messageId)) this.saveOutboundPacketIds();
    entry.onDone?.();
    this.drainPending();
    return true;
  }

  /**
   * PUBREC for a QoS 2 delivery: the client has the message now, so it is acknowledged to the core at
   * once (a reconnect must not redeliver it as a new PUBLISH), and the packet id is kept in the session
   * until PUBCOMP so PUBREL is re-sent after a reconnect [MQTT-4.4.0-1]. Returns whether it was in flight.
   */
  releaseDelivery(messageId: number): boolean {
    const entry = this.inflight.get(messageId);
    if (entry === undefined || entry.qos !== 2) return false;
    if (!entry.released) {
      entry.released = true;
      this.session?.outboundReleased.add(messageId);
      this.saveOutboundPacketIds();
      const done = entry.onDone;
      this.inflight.set(messageId, { qos: 2, released: true, onDone: null });
      done?.();
    }
    return true;
  }

  /**
   * Outbound QoS 2 ids awaiting PUBCOMP are stored too (persistent sessions), so PUBREL is re-sent after
   * a server restart [MQTT-4.4.0-1]. Best effort: the core message is acked at PUBREC without waiting,
   * since a delivery the client has must not come back as a new PUBLISH if this connection drops first.
   */
  private saveOutboundPacketIds(): void {
    const session = this.session;
    if (session === null || !session.persistent) return;
    this.broker.savePacketIds(session).catch((error: unknown) => this.logger.warn('QoS 2 packet ids could not be stored', { clientId: this.clientId, error }));
  }

  /** After CONNACK: starts keep-alive and sends what queued up during CONNECT. */
  connected(): void {
    this.state = 'connected';
    // Resumed session: re-send PUBREL for QoS 2 deliveries the client had received [MQTT-4.4.0-1].
    for (const id of this.session?.outboundReleased ?? []) {
      this.inflight.set(id, { qos: 2, released: true, onDone: null });
      this.sendAck('pubrel', id);
    }
    if (this.keepAliveSeconds > 0) {
      // [MQTT-3.1.2-24]: one and a half times the keep-alive without a packet closes the connection.
      this.keepaliveTimer = setTimeout(() => this.close('keep-alive timeout', RC.keepAliveTimeout), this.keepAliveSeconds * 1500);
      this.keepaliveTimer.unref();
    }
    this.drainPending();
  }

  // ---- closing -------------------------------------------------------------------------------

  /** Session takeover by a new connection with the same client id [MQTT-3.1.4-3]. */
  async takeover(): Promise<void> {
    this.close('session taken over', RC.sessionTakenOver);
  }

  /** A DISCONNECT from the client: no will unless MQTT 5 reason 0x04 [MQTT-3.14.4-3]. */
  disconnectedByClient(withWill: boolean): void {
    this.gracefulClose = !withWill;
    this.close('client disconnected');
  }

  /**
   * Closes the connection; an MQTT 5 client that completed CONNECT gets a DISCONNECT with the reason
   * first. Cleanup is synchronous; the socket gets a moment to flush.
   */
  close(reason: string, reasonCode?: number): void {
    if (this.closed) return;
    if (reasonCode !== undefined && this.protocolVersion === 5 && this.state === 'connected') {
      try {
        this.send({ cmd: 'disconnect', reasonCode });
      } catch {
        // the reason code is best effort
      }
    }
    this.logger.debug('closing connection', { reason, clientId: this.clientId });
    this.finish();
    this.flushOut(); // what was written before the close (e.g. the DISCONNECT) goes out first
    this.stream.end();
    const timer = setTimeout(() => this.stream.destroy(), CLOSE_FLUSH_MS);
    timer.unref();
  }

  private finish(): void {
    if (this.state === 'closed') return;
    const wasConnecting = this.state === 'connecting';
    this.state = 'closed';
    if (this.connectTimer !== null) clearTimeout(this.connectTimer);
    if (this.keepaliveTimer !== null) clearTimeout(this.keepaliveTimer);
    this.connectTimer = null;
    this.keepaliveTimer = null;
    this.inflight.clear();
    this.pending.length = 0;
    this.pendingHead = 0;
    this.backlog.length = 0;
    this.notifyRoom();
    this.broker.connections.delete(this);
    // While CONNECT is being handled, handleConnect finishes the session side once broker.connect returns.
    if (!wasConnecting) this.broker.connectionClosed(this, this.session, this.gracefulClose);
  }
}

/** First byte of the acknowledgement packets; PUBREL has the reserved flags 0b0010 [MQTT-3.6.1-1]. */
const ACK_TYPE_BYTE = { puback: 0x40, pubrec: 0x50, pubrel: 0x62, pubcomp: 0x70 } as const;


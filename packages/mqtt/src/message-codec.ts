/**
 * MQTT PUBLISH ↔ core message (design brief §6, docs/headers.md). The payload is the value, the MQTT
 * topic is the key (so Kafka partitioning and compaction see it) and the `mqtt.topic` header; MQTT 5
 * properties become `mqtt.*` headers and user properties keep their own names.
 */
import { HEADER, type Header, type Message } from '@strata/core';
import type { IPublishPacket } from 'mqtt-packet';

const RESERVED_PREFIX = 'mqtt.';
const QOS_TEXT = [Buffer.from('0'), Buffer.from('1'), Buffer.from('2')] as const;
const ONE = Buffer.from('1');

type UserProperties = Record<string, string | string[]>;

/**
 * `publisher` is the client id as bytes (one Buffer per connection, shared by its messages).
 * `topicBytes`, when given, is `packet.topic` already encoded (the caller reuses it across a batch
 * of publishes to one topic); the encoder copies it, so sharing it between messages is safe.
 * `sameHeaders`: the headers of a message built here before for a PUBLISH without properties with
 * the same topic bytes, QoS, retain flag and publisher; they are shared (headers are read-only),
 * which saves four objects per message while a batch's messages wait for their append.
 * `trackedPacketId`: a persistent session's inbound QoS 2 packet id, written as `mqtt.packet-id` so a
 * restart can tell whether the append happened (qos2-recovery.ts); such a message never shares headers.
 */
export function publishToMessage(
  packet: IPublishPacket,
  publisher: Buffer,
  nowMs: number,
  topicBytes?: Buffer,
  sameHeaders?: readonly Header[],
  trackedPacketId?: number,
): Message {
  const topic = topicBytes ?? Buffer.from(packet.topic);
  if (sameHeaders !== undefined && trackedPacketId === undefined) {
    const payload = typeof packet.payload === 'string' ? Buffer.from(packet.payload) : packet.payload;
    return { key: topic, value: payload, headers: sameHeaders, timestamp: nowMs };
  }
  const headers: Header[] = [
    { key: HEADER.mqttTopic, value: topic },
    { key: HEADER.mqttQos, value: QOS_TEXT[packet.qos] },
    { key: HEADER.mqttPublisher, value: publisher },
  ];
  if (packet.retain) headers.push({ key: HEADER.mqttRetain, value: ONE });
  if (trackedPacketId !== undefined) headers.push({ key: HEADER.mqttPacketId, value: Buffer.from(String(trackedPacketId)) });
  const p = packet.properties;
  if (p !== undefined) {
    if (p.contentType !== undefined) headers.push({ key: HEADER.mqttContentType, value: Buffer.from(p.contentType) });
    if (p.responseTopic !== undefined) headers.push({ key: HEADER.mqttResponseTopic, value: Buffer.from(p.responseTopic) });
    if (p.correlationData !== undefined) headers.push({ key: HEADER.mqttCorrelationData, value: p.correlationData });
    if (p.payloadFormatIndicator !== undefined) {
      headers.push({ key: HEADER.mqttPayloadFormat, value: Buffer.from(p.payloadFormatIndicator ? '1' : '0') });
    }
    if (p.messageExpiryInterval !== undefined) {
      headers.push({ key: HEADER.mqttExpiresAtMs, value: Buffer.from(String(nowMs + p.messageExpiryInterval * 1000)) });
    }
    const user = p.userProperties as UserProperties | undefined;
    if (user !== undefined) {
      for (const [key, value] of Object.entries(user)) {
        if (Array.isArray(value)) for (const v of value) headers.push({ key, value: Buffer.from(String(v)) });
        else headers.push({ key, value: Buffer.from(String(value)) });
      }
    }
  }
  const payload = typeof packet.payload === 'string' ? Buffer.from(packet.payload) : packet.payload;
  return { key: topic, value: payload, headers, timestamp: nowMs };
}

/** What a subscriber needs of a stored message, whatever protocol produced it. */
export interface MqttMessageView {
  readonly topic: string;
  readonly payload: Buffer;
  readonly qos: 0 | 1 | 2;
  readonly retain: boolean;
  readonly publisher: string | null;
  /** Absolute ms, or null when the message does not expire. */
  readonly expiresAtMs: number | null;
  readonly properties: IPublishPacket['properties'];
}

const EMPTY = Buffer.alloc(0);

/** Header values longer than this are decoded each time: comparing them would cost about as much. */
const REUSED_TEXT_BYTES_MAX = 256;

/**
 * Decodes header values to strings, reusing the previous string when the bytes are the same. Messages
 * read in a row mostly share their topic and publisher, so this saves a UTF-8 decode and a string
 * per header per message on the fan-out path. One per reader (it remembers only the last value).
 */
export class TextReuse {
  /** A copy of the last value's bytes (the read buffers they came from are not ours to keep). */
  private readonly lastBytes = Buffer.allocUnsafe(REUSED_TEXT_BYTES_MAX);
  private lastLength = -1;
  private lastText = '';

  text(bytes: Buffer): string {
    return this.textAt(bytes, 0, bytes.length);
  }

  /** The UTF-8 text of `buf[start, end)`. */
  textAt(buf: Buffer, start: number, end: number): string {
    const length = end - start;
    if (length === this.lastLength) {
      const last = this.lastBytes;
      let same = true;
      for (let i = 0; i < length; i++) {
        if (last[i] !== buf[start + i]) {
          same = false;
          break;
        }
      }
      if (same) return this.lastText;
    }
    const text = buf.toString('utf8', start, end);
    if (length <= REUSED_TEXT_BYTES_MAX) {
      buf.copy(this.lastBytes, 0, start, end);
      this.lastLength = length;
      this.lastText = text;
    }
    return text;
  }
}

/**
 * The view of a message this handler is appending, for the live fan-out (core-tail.ts): the same as
 * `messageToView` of it read back from the core, without the decode. A PUBLISH without properties
 * (every 3.1/3.1.1 one) is built directly from the packet; one with properties goes through
 * `messageToView` of the message built from it, so the header round trip (user property names and
 * multiple values) is exactly what a reader of the core would see.
 */
export function publishView(packet: IPublishPacket, message: Message, publisher: string): MqttMessageView {
  if (packet.properties !== undefined) return messageToView(message, packet.topic, packet.qos);
  return {
    topic: packet.topic,
    payload: message.value ?? EMPTY,
    qos: packet.qos,
    retain: packet.retain,
    publisher,
    expiresAtMs: null,
    properties: undefined,
  };
}

/**
 * Restores the MQTT view of a core message. `fallbackTopic` is used for messages from other
 * protocols, which carry no `mqtt.topic` header (the mapping rule decides it, docs/protocols/mqtt.md).
 */
export function messageToView(
  message: Message,
  fallbackTopic: string,
  foreignQos: 0 | 1 | 2,
  topics?: TextReuse,
  publishers?: TextReuse,
): MqttMessageView {
  let topic: string | null = null;
  let qos: 0 | 1 | 2 = foreignQos;
  let retain = false;
  let publisher: string | null = null;
  let expiresAtMs: number | null = null;
  let properties: NonNullable<IPublishPacket['properties']> | undefined;
  let user: Record<string, string | string[]> | undefined;
  const props = (): NonNullable<IPublishPacket['properties']> => (properties ??= {});
  for (const h of message.headers) {
    const key = h.key;
    const value = h.value;
    if (key.startsWith(RESERVED_PREFIX)) {
      if (value === null) continue;
      switch (key) {
        case HEADER.mqttTopic:
          topic = topics === undefined ? value.toString() : topics.text(value);
          break;
        case HEADER.mqttQos: {
          const q = value[0]! - 0x30;
          if (q === 0 || q === 1 || q === 2) qos = q;
          break;
        }
        case HEADER.mqttRetain:
          retain = value[0] === 0x31;
          break;
        case HEADER.mqttPublisher:
          publisher = publishers === undefined ? value.toString() : publishers.text(value);
          break;
        case HEADER.mqttContentType:
          props().contentType = value.toString();
          break;
        case HEADER.mqttResponseTopic:
          props().responseTopic = value.toString();
          break;
        case HEADER.mqttCorrelationData:
          props().correlationData = value;
          break;
        case HEADER.mqttPayloadFormat:
          props().payloadFormatIndicator = value[0] === 0x31;
          break;
        case HEADER.mqttExpiresAtMs: {
          const at = Number(value.toString());
          if (Number.isFinite(at)) expiresAtMs = at;
          break;
        }
        default:
          break; // an mqtt.* name we do not know: not a user property
      }
      continue;
    }
    const text = value === null ? '' : value.toString();
    user ??= {};
    const existing = user[key];
    if (existing === undefined) user[key] = text;
    else if (Array.isArray(existing)) existing.push(text);
    else user[key] = [existing, text];
  }
  if (user !== undefined) props().userProperties = user;
  return {
    topic: topic ?? fallbackTopic,
    payload: message.value ?? EMPTY,
    qos,
    retain,
    publisher,
    expiresAtMs,
    properties,
  };
}

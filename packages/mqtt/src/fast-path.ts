/**
 * Hand-written encode/decode for the packets on the hot path of MQTT 3.1/3.1.1 connections: PUBLISH
 * both ways and PUBACK inbound (3.1.1 §3.3, §3.4). Everything else, and every MQTT 5 packet (which
 * carries properties), goes through mqtt-packet. Pure functions over Buffers.
 */
import type { IPubackPacket, IPublishPacket } from 'mqtt-packet';
import type { TextReuse } from './message-codec.js';

/** Decodes a whole 3.1.1 PUBLISH frame; null when it is not well formed (the caller falls back). */
export function decodePublishV4(frame: Buffer, topics?: TextReuse): IPublishPacket | null {
  const first = frame[0]!;
  const qos = (first >> 1) & 0x03;
  if (qos === 3) return null; // [MQTT-3.3.1-4]
  let pos = 1;
  while (pos < frame.length && (frame[pos]! & 0x80) !== 0) pos++;
  pos++; // past the last remaining-length byte
  if (pos + 2 > frame.length) return null;
  const topicLength = frame.readUInt16BE(pos);
  pos += 2;
  if (pos + topicLength > frame.length) return null;
  // A publisher mostly repeats its topic: `topics` hands out the previous string when the bytes match.
  const topic = topics === undefined ? frame.toString('utf8', pos, pos + topicLength) : topics.textAt(frame, pos, pos + topicLength);
  pos += topicLength;
  let messageId: number | undefined;
  if (qos > 0) {
    if (pos + 2 > frame.length) return null;
    messageId = frame.readUInt16BE(pos);
    if (messageId === 0) return null; // [MQTT-2.3.1-1]
    pos += 2;
  }
  const packet: IPublishPacket = {
    cmd: 'publish',
    topic,
    payload: frame.subarray(pos),
    qos: qos as 0 | 1 | 2,
    dup: (first & 0x08) !== 0,
    retain: (first & 0x01) !== 0,
  };
  if (messageId !== undefined) packet.messageId = messageId;
  return packet;
}

/** A 3.1.1 PUBACK is exactly 0x40 0x02 id. */
export function decodePubackV4(frame: Buffer): IPubackPacket | null {
  if (frame.length !== 4 || frame[0] !== 0x40 || frame[1] !== 0x02) return null;
  return { cmd: 'puback', messageId: frame.readUInt16BE(2) };
}

/** Encodes a PUBLISH without properties (MQTT 3.1/3.1.1). `topicBytes`, when given, is `topic` already encoded. */
export function encodePublishV4(topic: string, payload: Buffer, qos: 0 | 1 | 2, retain: boolean, dup: boolean, messageId: number, topicBytes?: Buffer): Buffer {
  const topicLength = topicBytes === undefined ? Buffer.byteLength(topic) : topicBytes.length;
  // e.g. a topic from another protocol's header: a PUBLISH carries at most 65,535 bytes of it (3.1.1 §1.5.3)
  if (topicLength > 0xffff) throw new RangeError(`topic of ${topicLength} bytes does not fit a PUBLISH`);
  const remaining = 2 + topicLength + (qos > 0 ? 2 : 0) + payload.length;
  let lengthBytes = 1;
  for (let n = remaining; n >= 128; n = Math.floor(n / 128)) lengthBytes++;
  const out = Buffer.allocUnsafe(1 + lengthBytes + remaining);
  out[0] = 0x30 | (dup ? 0x08 : 0) | (qos << 1) | (retain ? 0x01 : 0);
  let pos = 1;
  let n = remaining;
  do {
    let byte = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) byte |= 0x80;
    out[pos++] = byte;
  } while (n > 0);
  out[pos++] = topicLength >> 8;
  out[pos++] = topicLength & 0xff;
  // TypedArray set: a plain memcpy, cheaper than Buffer#copy's argument handling for small fields.
  if (topicBytes === undefined) out.write(topic, pos, 'utf8');
  else out.set(topicBytes, pos);
  pos += topicLength;
  if (qos > 0) {
    out[pos++] = messageId >> 8;
    out[pos++] = messageId & 0xff;
  }
  out.set(payload, pos);
  return out;
}

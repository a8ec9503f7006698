import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as mqttPacket from 'mqtt-packet';
import { seededRandom } from '@strata/core';
import { decodePubackV4, decodePublishV4, encodePublishV4 } from '../src/fast-path.js';
import { TextReuse } from '../src/message-codec.js';

test('fast path PUBLISH encode/decode agrees with mqtt-packet byte for byte (3.1.1)', () => {
  const topics = ['a', 'a/b/c', 'ünïcødé/topic', 'x'.repeat(300)];
  const payloads = [Buffer.alloc(0), Buffer.from('hello'), Buffer.alloc(200), Buffer.alloc(20_000, 7)];
  for (const topic of topics) {
    for (const payload of payloads) {
      for (const qos of [0, 1, 2] as const) {
        for (const flags of [[false, false], [true, true]] as const) {
          const [retain, dup] = flags;
          const messageId = qos > 0 ? 4242 : 0;
          const packet: mqttPacket.IPublishPacket = { cmd: 'publish', topic, payload, qos, retain, dup: qos > 0 && dup, ...(qos > 0 ? { messageId } : {}) };
          const expected = mqttPacket.generate(packet, { protocolVersion: 4 });
          const ours = encodePublishV4(topic, payload, qos, retain, qos > 0 && dup, messageId);
          assert.deepEqual(ours, expected);
          assert.deepEqual(encodePublishV4(topic, payload, qos, retain, qos > 0 && dup, messageId, Buffer.from(topic)), expected);
          const decoded = decodePublishV4(expected)!;
          assert.equal(decoded.topic, topic);
          assert.deepEqual(Buffer.from(decoded.payload as Buffer), payload);
          assert.equal(decoded.qos, qos);
          assert.equal(decoded.retain, retain);
          assert.equal(decoded.messageId, qos > 0 ? messageId : undefined);
        }
      }
    }
  }
});

test('fast path PUBLISH encode refuses a topic longer than 65,535 bytes (the caller drops that delivery)', () => {
  assert.throws(() => encodePublishV4('t'.repeat(65_536), Buffer.alloc(1), 0, false, false, 0), RangeError);
  assert.throws(() => encodePublishV4('', Buffer.alloc(1), 0, false, false, 0, Buffer.alloc(65_536)), RangeError);
  assert.equal(encodePublishV4('t'.repeat(65_535), Buffer.alloc(1), 0, false, false, 0).readUInt16BE(4), 65_535); // after 1 + 3 header bytes
});

test('fast path rejects malformed PUBLISH and PUBACK frames (the caller falls back to mqtt-packet)', () => {
  assert.equal(decodePublishV4(Buffer.from([0x36, 0x03, 0x00, 0x01, 0x61])), null); // QoS 3
  assert.equal(decodePublishV4(Buffer.from([0x30, 0x03, 0x00, 0x05, 0x61])), null); // topic past the end
  assert.equal(decodePublishV4(Buffer.from([0x32, 0x05, 0x00, 0x01, 0x61, 0x00, 0x00])), null); // packet id 0
  assert.equal(decodePubackV4(Buffer.from([0x40, 0x03, 0x00, 0x01, 0x00])), null);
  assert.deepEqual(decodePubackV4(Buffer.from([0x40, 0x02, 0x01, 0x02])), { cmd: 'puback', messageId: 258 });
});

test('decoding with a reused topic string gives the topic of each frame (same length, different bytes; long; multi-byte)', () => {
  const random = seededRandom(4);
  const pool = ['a/b', 'a/c', 'b/b', 'a/b', 'ü/b', 'x'.repeat(300), 'x'.repeat(299) + 'y', 'a/b', '', 'é'];
  const topics = new TextReuse();
  // Bounded: 500 frames.
  for (let i = 0; i < 500; i++) {
    const topic = pool[Math.floor(random() * pool.length)]!;
    const frame = encodePublishV4(topic, Buffer.from([i & 0xff]), 0, false, false, 0);
    // the frame sits inside a larger buffer, as it does in a socket chunk
    const chunk = Buffer.concat([Buffer.alloc(i % 7, 0x61), frame, Buffer.alloc(3, 0x62)]);
    const decoded = decodePublishV4(chunk.subarray(i % 7, (i % 7) + frame.length), topics)!;
    assert.equal(decoded.topic, topic);
  }
});

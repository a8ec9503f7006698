/**
 * The publish → fan-out hot path end to end: publishes from one socket chunk (mixed QoS, small and
 * large payloads) are acknowledged in arrival order once durable and reach subscribers in the core's
 * offset order, also when another protocol appends to the same core topic at the same time; the
 * outbound packets of one tick go out together without reordering or splitting packets.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as mqttPacket from 'mqtt-packet';
import { decodeRecordBatch, HEADER } from '@strata/core';
import { startBroker } from './harness.js';
import { connectPacket, rawConnect, type RawClient } from './raw-client.js';

const MQTT_TOPIC = 'persistent://public/default/mqtt';

async function connected(port: number, clientId: string): Promise<RawClient> {
  const c = await rawConnect(port);
  c.send(connectPacket(clientId));
  await c.next('connack');
  return c;
}

async function waitFor(check: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!check()) {
    assert.ok(Date.now() < deadline, `timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

function publishes(c: RawClient): mqttPacket.IPublishPacket[] {
  return c.packets.filter((p): p is mqttPacket.IPublishPacket => p.cmd === 'publish');
}

test('one chunk of mixed-QoS publishes (small and > 64 KiB payloads): acks in order, delivered in order, bytes intact', async () => {
  const broker = await startBroker();
  try {
    const sub = await connected(broker.port, 'hp-sub');
    sub.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'hp/#', qos: 2 }] });
    await sub.next('suback');
    const pub = await connected(broker.port, 'hp-pub');
    const sent: { topic: string; payload: Buffer; qos: 0 | 1 | 2; retain: boolean }[] = [];
    const frames: Buffer[] = [];
    let messageId = 1;
    for (let i = 0; i < 60; i++) {
      const qos = (Math.floor(i / 2) % 3) as 0 | 1 | 2;
      // a few large payloads among small ones: written without the copy, between copied runs
      const size = i % 20 === 7 ? 100 * 1024 + i : 10 + i;
      const payload = Buffer.alloc(size, i);
      const topic = `hp/${Math.floor(i / 6) % 4}`;
      // retain on some: consecutive messages with the same topic share headers only when QoS and retain match
      const retain = i % 5 === 0;
      sent.push({ topic, payload, qos, retain });
      frames.push(mqttPacket.generate({ cmd: 'publish', topic, payload, qos, retain, dup: false, ...(qos > 0 ? { messageId: messageId++ } : {}) }));
    }
    pub.write(Buffer.concat(frames));
    await waitFor(() => publishes(sub).length === sent.length, 'deliveries');
    const got = publishes(sub);
    assert.deepEqual(
      got.map((p) => `${p.topic} ${p.qos} ${Buffer.from(p.payload).toString('hex')}`),
      sent.map((s) => `${s.topic} ${s.qos} ${s.payload.toString('hex')}`),
    );
    // What the core stored: each message with its own topic, QoS and retain headers.
    const read = await broker.core.read(MQTT_TOPIC, 0, { offset: 0, maxBytes: 1 << 22 });
    const stored = read.entries.flatMap((e) => decodeRecordBatch(e.bytes).messages);
    const header = (m: (typeof stored)[number], key: string): string | undefined => m.headers.find((h) => h.key === key)?.value?.toString();
    assert.deepEqual(
      stored.map((m) => `${header(m, HEADER.mqttTopic)} ${header(m, HEADER.mqttQos)} ${header(m, HEADER.mqttRetain) ?? '-'} ${m.value!.length}`),
      sent.map((s) => `${s.topic} ${s.qos} ${s.retain ? '1' : '-'} ${s.payload.length}`),
    );
    await waitFor(() => pub.packets.filter((p) => p.cmd === 'puback' || p.cmd === 'pubrec').length === 40, 'acks');
    const acks = pub.packets.filter((p) => p.cmd === 'puback' || p.cmd === 'pubrec') as mqttPacket.IPubackPacket[];
    assert.deepEqual(acks.map((p) => p.messageId), Array.from({ length: 40 }, (_, i) => i + 1), 'acks in arrival order');
    assert.deepEqual(acks.map((p) => p.cmd), sent.filter((s) => s.qos > 0).map((s) => (s.qos === 1 ? 'puback' : 'pubrec')));
    sub.end();
    pub.end();
  } finally {
    await broker.close();
  }
});

test('MQTT publishes and another protocol\'s appends to the same core topic: subscribers get the core\'s offset order', async () => {
  const broker = await startBroker();
  try {
    const sub = await connected(broker.port, 'mix-sub');
    sub.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'mix/#', qos: 1 }] });
    await sub.next('suback');
    const pub = await connected(broker.port, 'mix-pub');
    const foreign: Promise<unknown>[] = [];
    let messageId = 1;
    // Bounded: 20 rounds; each writes MQTT publishes and appends foreign messages in the same tick.
    for (let round = 0; round < 20; round++) {
      const frames: Buffer[] = [];
      for (let i = 0; i < 5; i++) {
        frames.push(mqttPacket.generate({ cmd: 'publish', topic: 'mix/mqtt', payload: Buffer.from(`m${round}.${i}`), qos: 1, retain: false, dup: false, messageId: messageId++ }));
      }
      pub.write(Buffer.concat(frames));
      foreign.push(
        broker.core.append(MQTT_TOPIC, 0, {
          kind: 'messages',
          messages: [0, 1].map((i) => ({ key: null, value: Buffer.from(`k${round}.${i}`), headers: [{ key: HEADER.mqttTopic, value: Buffer.from('mix/kafka') }], timestamp: Date.now() })),
        }),
      );
      await new Promise((r) => setImmediate(r));
    }
    await Promise.all(foreign);
    const total = 20 * 7;
    await waitFor(() => publishes(sub).length === total, 'deliveries');
    const read = await broker.core.read(MQTT_TOPIC, 0, { offset: 0, maxBytes: 1 << 20 });
    const stored = read.entries.flatMap((e) => decodeRecordBatch(e.bytes).messages).map((m) => m.value!.toString());
    assert.equal(stored.length, total);
    assert.deepEqual(publishes(sub).map((p) => Buffer.from(p.payload).toString()), stored);
    sub.end();
    pub.end();
  } finally {
    await broker.close();
  }
});

test('an append that fails sends no PUBACK (3.1.1 closes the connection) and delivers nothing', async () => {
  const broker = await startBroker();
  try {
    const sub = await connected(broker.port, 'fail-sub');
    sub.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'fail/#', qos: 1 }] });
    await sub.next('suback');
    await broker.core.topics.updatePolicies(MQTT_TOPIC, { entryBytesMax: 4096 });
    const pub = await connected(broker.port, 'fail-pub');
    pub.send({ cmd: 'publish', topic: 'fail/ok', payload: Buffer.from('small'), qos: 1, retain: false, dup: false, messageId: 1 });
    assert.equal(((await pub.next('puback')) as mqttPacket.IPubackPacket).messageId, 1);
    pub.send({ cmd: 'publish', topic: 'fail/big', payload: Buffer.alloc(8192, 1), qos: 1, retain: false, dup: false, messageId: 2 });
    await pub.closed;
    assert.deepEqual(pub.packets.filter((p) => p.cmd === 'puback').map((p) => (p as mqttPacket.IPubackPacket).messageId), [1]);
    await waitFor(() => publishes(sub).length === 1, 'the first delivery');
    await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(publishes(sub).map((p) => p.topic), ['fail/ok']);
    sub.end();
  } finally {
    await broker.close();
  }
});

test('topic validation is remembered for the last valid topic only: a wildcard topic after valid ones still closes', async () => {
  const broker = await startBroker();
  try {
    const pub = await connected(broker.port, 'valid-pub');
    const frames = [1, 2].map((messageId) => mqttPacket.generate({ cmd: 'publish', topic: 'v/a', payload: Buffer.from('ok'), qos: 1, retain: false, dup: false, messageId }));
    pub.write(Buffer.concat(frames));
    await pub.next('puback');
    await pub.next('puback');
    // mqtt-packet refuses to encode a wildcard topic name, so by hand: PUBLISH QoS 0, topic "v/+"
    pub.write(Buffer.from([0x30, 0x07, 0x00, 0x03, 0x76, 0x2f, 0x2b, 0x6f, 0x6b]));
    const closed = await Promise.race([pub.closed.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 3000))]);
    assert.ok(closed, 'the connection is closed [MQTT-3.3.2-2]');
    const read = await broker.core.read(MQTT_TOPIC, 0, { offset: 0, maxBytes: 1 << 20 });
    const topics = read.entries.flatMap((e) => decodeRecordBatch(e.bytes).messages).map((m) => m.key!.toString());
    assert.deepEqual(topics, ['v/a', 'v/a']);
  } finally {
    await broker.close();
  }
});

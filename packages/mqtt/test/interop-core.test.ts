/**
 * One message, many protocols (design brief §6) at the core level: what another protocol appends to a
 * mapped core topic reaches MQTT subscribers (through core.onAppend, not an MQTT fan-out), and MQTT
 * messages are record batches with the documented headers. Plus MQTT over WebSocket, topic rules and
 * a slow subscriber.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WebSocket } from 'ws';
import { CONTROL_TYPE_ABORT, CONTROL_TYPE_COMMIT, decodeRecordBatch, encodeRecordBatch, encodeTransactionMarker, HEADER } from '@strata/core';
import { collect, connect, endClient, sleep, startBroker } from './harness.js';
import { connectPacket, rawConnect } from './raw-client.js';

const MQTT_TOPIC = 'persistent://public/default/mqtt';

test('a message appended by another protocol reaches MQTT subscribers (topic from the mqtt.topic header, or the rule)', async () => {
  const broker = await startBroker({ config: { topicRules: [{ filter: 'orders/#', topic: 'orders' }] } });
  try {
    const sub = await connect(broker.url, { clientId: 'k-sub', protocolVersion: 5 });
    const got = collect(sub);
    await sub.subscribeAsync(['orders/#', 'orders', 'devices/+/state'], { qos: 1 });
    // as a Kafka producer would: plain key/value/headers on the mapped core topic, no mqtt.* headers
    await broker.core.append('persistent://public/default/orders', 0, {
      kind: 'messages',
      messages: [{ key: Buffer.from('k1'), value: Buffer.from('from kafka'), headers: [{ key: 'trace', value: Buffer.from('abc') }], timestamp: Date.now() }],
    });
    // a producer that sets the MQTT topic itself
    await broker.core.append(MQTT_TOPIC, 0, {
      kind: 'messages',
      messages: [{ key: null, value: Buffer.from('on'), headers: [{ key: HEADER.mqttTopic, value: Buffer.from('devices/7/state') }], timestamp: Date.now() }],
    });
    const messages = await got.wait(2);
    const byTopic = Object.fromEntries(messages.map((m) => [m.topic, m]));
    assert.equal(byTopic['orders']!.payload.toString(), 'from kafka');
    assert.equal(byTopic['orders']!.packet.qos, 1); // foreignMessageQos
    assert.equal({ ...byTopic['orders']!.packet.properties?.userProperties }['trace'], 'abc');
    assert.equal(byTopic['devices/7/state']!.payload.toString(), 'on');
    await endClient(sub);
  } finally {
    await broker.close();
  }
});

test('topic rules: MQTT publishes land in the rule topic, partitioned by MQTT topic, and read back with headers', async () => {
  const broker = await startBroker({ config: { topicRules: [{ filter: 'sensors/#', topic: 'sensors', partitions: 4 }] } });
  try {
    const pub = await connect(broker.url, { clientId: 'sensor-pub', protocolVersion: 5 });
    for (let i = 0; i < 8; i++) {
      await pub.publishAsync(`sensors/${i}/t`, String(i), { qos: 1, retain: i === 0, properties: { contentType: 'text/plain' } });
    }
    await pub.publishAsync('elsewhere', 'x', { qos: 1 });
    const seen: string[] = [];
    for (let p = 0; p < 4; p++) {
      const { highWatermark } = broker.core.offsets('persistent://public/default/sensors', p);
      if (highWatermark === 0) continue;
      const read = await broker.core.read('persistent://public/default/sensors', p, { offset: 0, maxBytes: 1 << 20 });
      for (const e of read.entries) {
        for (const m of decodeRecordBatch(e.bytes).messages) {
          const h = Object.fromEntries(m.headers.map((x) => [x.key, x.value?.toString()]));
          assert.equal(h[HEADER.mqttContentType], 'text/plain');
          assert.equal(h[HEADER.mqttPublisher], 'sensor-pub');
          seen.push(h[HEADER.mqttTopic]!);
        }
      }
    }
    assert.equal(seen.length, 8);
    assert.equal(broker.core.offsets(MQTT_TOPIC, 0).highWatermark, 1);
    // the retained copy lives in the compacted retained topic, keyed by MQTT topic
    const retained = await broker.core.read('persistent://public/default/mqtt-retained', 0, { offset: 0, maxBytes: 1 << 20 });
    assert.equal(decodeRecordBatch(retained.entries[0]!.bytes).messages[0]!.key!.toString(), 'sensors/0/t');
    await endClient(pub);
  } finally {
    await broker.close();
  }
});

test('MQTT over WebSocket on /mqtt, interoperating with a TCP client', async () => {
  const broker = await startBroker();
  try {
    const wsClient = await connect(`ws://127.0.0.1:${broker.wsPort}/mqtt`, { clientId: 'ws-client', protocolVersion: 5 });
    const got = collect(wsClient);
    await wsClient.subscribeAsync('ws/#', { qos: 1 });
    const tcp = await connect(broker.url, { clientId: 'tcp-client' });
    await tcp.publishAsync('ws/hello', 'over ws', { qos: 1 });
    const [m] = await got.wait(1);
    assert.equal(m!.payload.toString(), 'over ws');
    await wsClient.publishAsync('ws/back', 'from ws', { qos: 2 });
    await got.wait(2);
    await Promise.all([endClient(wsClient), endClient(tcp)]);
    // a wrong path is refused with 404
    const status = await new Promise<number>((resolve) => {
      const socket = new WebSocket(`ws://127.0.0.1:${broker.wsPort}/other`, 'mqtt');
      socket.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      socket.on('error', () => resolve(-1));
    });
    assert.equal(status, 404);
  } finally {
    await broker.close();
  }
});

test('a slow subscriber neither stalls others nor grows memory without bound; it catches up from the core later', async () => {
  const broker = await startBroker({ config: { queuedMessagesMax: 100, outboundBytesMax: 256 * 1024 } });
  try {
    // a raw QoS 1 subscriber that stops reading its socket
    const slow = await rawConnect(broker.port, 4);
    slow.send(connectPacket('slow'));
    await slow.next('connack');
    slow.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'load/#', qos: 1 }] });
    await slow.next('suback');
    slow.socket.pause();
    const fast = await connect(broker.url, { clientId: 'fast' });
    const got = collect(fast);
    await fast.subscribeAsync('load/#', { qos: 1 });
    const pub = await connect(broker.url, { clientId: 'loader' });
    const payload = Buffer.alloc(8192);
    const waves = 20;
    const perWave = 50;
    const total = waves * (perWave + 1);
    for (let w = 0; w < waves; w++) {
      for (let i = 0; i < perWave; i++) pub.publish('load/x', payload, { qos: 1 });
      await pub.publishAsync('load/x', 'wave', { qos: 1 });
      await got.wait((w + 1) * (perWave + 1), 10_000);
    }
    assert.ok(broker.handler.stats!.lagged > 0, 'the slow subscriber fell behind and was left in the core');
    // the slow one reads again: it gets every QoS 1 message, in order, from the core
    slow.socket.resume();
    const deadline = Date.now() + 15_000;
    while (slow.packets.filter((p) => p.cmd === 'publish').length < total && Date.now() < deadline) await sleep(20);
    assert.equal(slow.packets.filter((p) => p.cmd === 'publish').length, total);
    slow.end();
    await Promise.all([endClient(fast), endClient(pub)]);
  } finally {
    await broker.close();
  }
});

test('persistent session cursor: QoS 1 messages beyond the window stay in the core and arrive later, in order', async () => {
  const broker = await startBroker({ config: { inflightMax: 5 } });
  try {
    const opts = { clientId: 'windowed', clean: false, protocolVersion: 4 as const };
    const c = await connect(broker.url, opts);
    await c.subscribeAsync('win/#', { qos: 1 });
    await endClient(c);
    const pub = await connect(broker.url, { clientId: 'win-pub' });
    for (let i = 0; i < 100; i++) pub.publish('win/x', String(i), { qos: 1 });
    await pub.publishAsync('win/x', 'end', { qos: 1 });
    const back = await connect(broker.url, opts);
    const got = collect(back);
    await got.wait(101, 10_000);
    assert.deepEqual(got.messages.slice(0, 100).map((m) => Number(m.payload.toString())), Array.from({ length: 100 }, (_, i) => i));
    await sleep(50);
    await Promise.all([endClient(back), endClient(pub)]);
  } finally {
    await broker.close();
  }
});

test('Kafka transactions reach MQTT as read_committed: nothing past an open transaction, aborted records never, markers skipped', async () => {
  const broker = await startBroker({ config: { topicRules: [{ filter: 'orders/#', topic: 'orders' }] } });
  const ORDERS = 'persistent://public/default/orders';
  const record = (value: string) => ({ key: null, value: Buffer.from(value), headers: [], timestamp: Date.now() });
  const transactional = (producerId: number, value: string) =>
    encodeRecordBatch([record(value)], { isTransactional: true, producer: { producerId, producerEpoch: 0, baseSequence: 0 } });
  try {
    // A live (clean) subscriber reads the core tail; a persistent session reads through its core cursor.
    const live = await connect(broker.url, { clientId: 'txn-live', protocolVersion: 5 });
    const durableOptions = { clientId: 'txn-durable', clean: false, protocolVersion: 4 as const };
    const durable = await connect(broker.url, durableOptions);
    const gotLive = collect(live);
    const gotDurable = collect(durable);
    await live.subscribeAsync('orders/#', { qos: 1 });
    await durable.subscribeAsync('orders/#', { qos: 1 });

    await broker.core.append(ORDERS, 0, { kind: 'batches', data: transactional(1, 'aborted') }); // offset 0, open
    await broker.core.append(ORDERS, 0, { kind: 'messages', messages: [record('after-open')] }); // 1: held back
    await sleep(300);
    assert.deepEqual([gotLive.messages.length, gotDurable.messages.length], [0, 0], 'nothing past an open transaction');
    await broker.core.append(ORDERS, 0, { kind: 'batches', data: encodeTransactionMarker(1, 0, CONTROL_TYPE_ABORT, 0, Date.now()) }); // 2
    await broker.core.append(ORDERS, 0, { kind: 'batches', data: transactional(2, 'committed') }); // 3
    await broker.core.append(ORDERS, 0, { kind: 'batches', data: encodeTransactionMarker(2, 0, CONTROL_TYPE_COMMIT, 0, Date.now()) }); // 4
    await broker.core.append(ORDERS, 0, { kind: 'messages', messages: [record('last')] }); // 5
    for (const got of [gotLive, gotDurable]) {
      await got.wait(3);
      await sleep(100);
      assert.deepEqual(got.messages.map((m) => m.payload.toString()), ['after-open', 'committed', 'last']);
    }
    // The cursor passed over the aborted record and both markers: every offset is acknowledged.
    const deadline = Date.now() + 5_000;
    while ((broker.core.subscriptions.slowestOffset(ORDERS, 0) ?? 0) < 6 && Date.now() < deadline) await sleep(20);
    assert.equal(broker.core.subscriptions.slowestOffset(ORDERS, 0), 6);
    await Promise.all([endClient(live), endClient(durable)]);
  } finally {
    await broker.close();
  }
});

/**
 * Inbound QoS 2 in-doubt entries (src/qos2-recovery.ts): the log scan on its own (found, not found,
 * an earlier flow with the same id, another client, the byte cap), what a persistent session writes
 * around its append, and the restart that settles a crash state written by hand. The crash itself,
 * with a killed server process and mqtt.js, is test/qos2-crash.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type * as mqttPacket from 'mqtt-packet';
import { decodeRecordBatch, HEADER, type Core, type Header, type Message } from '@strata/core';
import type { Broker } from '../src/broker.js';
import { findStoredPublishes } from '../src/qos2-recovery.js';
import { packetIdsKey, SessionStore, type StoredPacketIds } from '../src/session-store.js';
import { collect, connect, endClient, startBroker } from './harness.js';
import { connectPacket, rawConnect, type RawClient } from './raw-client.js';
import { openTestCore } from './test-core.js';

const TOPIC = 'persistent://public/default/scan';
const MQTT_TOPIC = 'persistent://public/default/mqtt';

function message(value: string, publisher?: string, packetId?: number, topic = 't'): Message {
  const headers: Header[] = [{ key: HEADER.mqttTopic, value: Buffer.from(topic) }];
  if (publisher !== undefined) headers.push({ key: HEADER.mqttPublisher, value: Buffer.from(publisher) });
  if (packetId !== undefined) headers.push({ key: HEADER.mqttPacketId, value: Buffer.from(String(packetId)) });
  return { key: Buffer.from(topic), value: Buffer.from(value), headers, timestamp: Date.now() };
}

async function withCore(run: (core: Core) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'strata-mqtt-scan-'));
  const core = await openTestCore(dir);
  try {
    await core.topics.create(TOPIC, { partitions: 1 });
    await run(core);
  } finally {
    await core.close();
    await rm(dir, { recursive: true, force: true });
  }
}

async function append(core: Core, messages: Message[]): Promise<number> {
  return (await core.append(TOPIC, 0, { kind: 'messages', messages })).baseOffset;
}

test('scan: finds an in-doubt publish by client id and packet id at or after its offset', async () => {
  await withCore(async (core) => {
    await append(core, [message('before'), message('other client', 'b', 7)]);
    const fromOffset = core.offsets(TOPIC, 0).highWatermark;
    await append(core, [message('foreign'), message('x', 'a', 6)]);
    await append(core, [message('the one', 'a', 7), message('after')]);
    const wanted = [
      { clientId: 'a', id: 7, fromOffset },
      { clientId: 'a', id: 9, fromOffset },
      { clientId: 'b', id: 7, fromOffset }, // b's message with id 7 is below this offset
    ];
    const scan = await findStoredPublishes(core, TOPIC, 0, wanted);
    assert.deepEqual([...scan.found], [wanted[0]]);
    assert.equal(scan.complete, true);
    assert.ok(scan.scannedBytes > 0);
  });
});

test('scan: an earlier, finished flow with the same packet id below fromOffset does not count', async () => {
  await withCore(async (core) => {
    await append(core, [message('first flow', 'a', 3)]);
    const fromOffset = core.offsets(TOPIC, 0).highWatermark;
    await append(core, [message('unrelated', 'c', 3)]);
    const scan = await findStoredPublishes(core, TOPIC, 0, [{ clientId: 'a', id: 3, fromOffset }]);
    assert.equal(scan.found.size, 0);
    assert.equal(scan.complete, true);
  });
});

test('scan: nothing to read when the entry points at the log end, or the topic is gone', async () => {
  await withCore(async (core) => {
    await append(core, [message('x', 'a', 1)]);
    const end = core.offsets(TOPIC, 0).highWatermark;
    const atEnd = await findStoredPublishes(core, TOPIC, 0, [{ clientId: 'a', id: 1, fromOffset: end }]);
    assert.deepEqual({ found: atEnd.found.size, complete: atEnd.complete, bytes: atEnd.scannedBytes }, { found: 0, complete: true, bytes: 0 });
    // An entry past the log end (its append was not durable when the process died): nothing there.
    const past = await findStoredPublishes(core, TOPIC, 0, [{ clientId: 'a', id: 1, fromOffset: end + 5 }]);
    assert.equal(past.found.size, 0);
    assert.equal(past.complete, true);
    const gone = await findStoredPublishes(core, 'persistent://public/default/no-such-topic', 0, [{ clientId: 'a', id: 1, fromOffset: 0 }]);
    assert.equal(gone.found.size, 0);
    assert.equal(gone.complete, true);
  });
});

test('scan: stops at the byte cap; what lies past it is not found and the scan says it is incomplete', async () => {
  await withCore(async (core) => {
    const fromOffset = core.offsets(TOPIC, 0).highWatermark;
    const filler = 'f'.repeat(1000);
    for (let i = 0; i < 40; i++) await append(core, [message(filler, 'other', 1 + (i % 5))]);
    await append(core, [message('late', 'a', 4)]);
    const wanted = [{ clientId: 'a', id: 4, fromOffset }];
    const started = Date.now();
    const capped = await findStoredPublishes(core, TOPIC, 0, wanted, 8 * 1024);
    assert.equal(capped.found.size, 0);
    assert.equal(capped.complete, false);
    assert.ok(capped.scannedBytes >= 8 * 1024 && capped.scannedBytes < 8 * 1024 + 2 * 1200, `scanned ${capped.scannedBytes} bytes`);
    assert.ok(Date.now() - started < 2000, 'bounded in time');
    // With room enough it is found.
    const full = await findStoredPublishes(core, TOPIC, 0, wanted, 1024 * 1024);
    assert.equal(full.found.size, 1);
    assert.equal(full.complete, true);
  });
});

async function rawSession(port: number, clientId: string, protocolVersion: 4 | 5 = 4): Promise<RawClient> {
  const client = await rawConnect(port, protocolVersion);
  const extra: Partial<mqttPacket.IConnectPacket> = { clean: false };
  if (protocolVersion === 5) extra.properties = { sessionExpiryInterval: 3600 };
  client.send(connectPacket(clientId, protocolVersion, extra));
  await client.next('connack');
  return client;
}

function publish(messageId: number, payload: string, dup = false): mqttPacket.IPublishPacket {
  return { cmd: 'publish', topic: 'q2/x', payload: Buffer.from(payload), qos: 2, retain: false, dup, messageId };
}

/** Messages in the catch-all core topic, in log order. */
async function stored(core: Core): Promise<Message[]> {
  const out: Message[] = [];
  const read = await core.read(MQTT_TOPIC, 0, { offset: 0, maxBytes: 1 << 20 });
  for (const entry of read.entries) out.push(...decodeRecordBatch(entry.bytes).messages);
  return out;
}

function header(m: Message, key: string): string | undefined {
  return m.headers.find((h) => h.key === key)?.value?.toString();
}

async function packetIds(core: Core, clientId: string): Promise<StoredPacketIds | null> {
  const value = await core.metadata.get(packetIdsKey(clientId));
  return value === null ? null : (JSON.parse(value.value.toString()) as StoredPacketIds);
}

test('a persistent session writes the in-doubt entry before its QoS 2 append and drops it with the stored id; a clean one writes neither', async () => {
  const seen: Promise<StoredPacketIds | null>[] = [];
  let core: Core | null = null;
  const broker = await startBroker({
    faults: {
      // Both run synchronously at their point; the metadata store answers from what it has applied.
      beforeQos2Append: () => seen.push(packetIds(core!, 'q2-mark')),
      afterQos2Append: () => seen.push(packetIds(core!, 'q2-mark')),
    },
  });
  core = broker.core;
  try {
    const endBefore = core.offsets(MQTT_TOPIC, 0).highWatermark;
    const client = await rawSession(broker.port, 'q2-mark');
    client.send(publish(11, 'tracked'));
    await client.next('pubrec');
    const [before, after] = await Promise.all(seen);
    const inDoubt = [{ id: 11, topic: MQTT_TOPIC, partition: 0, fromOffset: endBefore }];
    assert.deepEqual(before, { inbound: [], outbound: [], inDoubt }, 'in doubt before the append');
    assert.deepEqual(after, { inbound: [], outbound: [], inDoubt }, 'still in doubt right after it');
    assert.deepEqual(await packetIds(core, 'q2-mark'), { inbound: [11], outbound: [], inDoubt: [] }, 'stored, not in doubt, at PUBREC');
    client.send({ cmd: 'pubrel', messageId: 11 });
    await client.next('pubcomp');
    client.end();

    const clean = await connect(broker.url, { clientId: 'q2-clean-pub', clean: true });
    await clean.publishAsync('q2/x', 'untracked', { qos: 2 });
    await endClient(clean);
    assert.equal(seen.length, 2, 'no in-doubt write for a clean session');

    const messages = await stored(core);
    assert.deepEqual(messages.map((m) => m.value?.toString()), ['tracked', 'untracked']);
    assert.equal(header(messages[0]!, HEADER.mqttPacketId), '11');
    assert.equal(header(messages[0]!, HEADER.mqttPublisher), 'q2-mark');
    assert.equal(header(messages[1]!, HEADER.mqttPacketId), undefined, 'a clean session has nothing to settle after a crash');
  } finally {
    await broker.close();
  }
});

for (const inLog of [true, false]) {
  test(`restart with an in-doubt QoS 2 publish ${inLog ? 'in the log: the re-send is acknowledged, not stored again' : 'not in the log: the re-send is stored once'}`, async () => {
    let broker = await startBroker();
    const { dataDir } = broker;
    try {
      (await rawSession(broker.port, 'q2-doubt')).end();
      await broker.stop();
      // The state a crash leaves between the append and the id's write, written by hand.
      const core = await openTestCore(dataDir);
      const fromOffset = core.offsets(MQTT_TOPIC, 0).highWatermark;
      await new SessionStore(core.metadata).savePacketIds('q2-doubt', {
        inbound: [],
        outbound: [],
        inDoubt: [{ id: 5, topic: MQTT_TOPIC, partition: 0, fromOffset }],
      });
      if (inLog) {
        await core.append(MQTT_TOPIC, 0, { kind: 'messages', messages: [message('cut off', 'q2-doubt', 5, 'q2/x')] });
      }
      await core.close();

      broker = await startBroker({ dataDir });
      assert.deepEqual(await packetIds(broker.core, 'q2-doubt'), inLog ? { inbound: [5], outbound: [], inDoubt: [] } : null, 'settled at start');
      const client = await rawSession(broker.port, 'q2-doubt');
      client.send(publish(5, 'cut off', true));
      assert.equal(((await client.next('pubrec')) as mqttPacket.IPubrecPacket).messageId, 5);
      client.send({ cmd: 'pubrel', messageId: 5 });
      assert.equal(((await client.next('pubcomp')) as mqttPacket.IPubcompPacket).reasonCode ?? 0, 0);
      client.end();
      assert.deepEqual((await stored(broker.core)).map((m) => m.value?.toString()), ['cut off'], 'stored exactly once');
    } finally {
      await broker.stop();
      await rm(dataDir, { recursive: true, force: true });
    }
  });
}

test('a stored packet-id record with malformed in-doubt entries loads without them', async () => {
  await withCore(async (core) => {
    const store = new SessionStore(core.metadata);
    const good = { id: 3, topic: MQTT_TOPIC, partition: 0, fromOffset: 12 };
    const bad = [null, 7, 'x', { id: 0, topic: MQTT_TOPIC, partition: 0, fromOffset: 0 }, { id: 70000, topic: 't', partition: 0, fromOffset: 0 }, { id: 4, topic: 5, partition: 0, fromOffset: 0 }, { id: 4, topic: 't', partition: -1, fromOffset: 0 }, { id: 4, topic: 't', partition: 0, fromOffset: 1.5 }, { id: 4, topic: 't', partition: 0 }];
    await core.metadata.put(packetIdsKey('garbled'), Buffer.from(JSON.stringify({ inbound: [1, 'two'], outbound: [], inDoubt: [...bad, good] })));
    assert.deepEqual(await store.loadPacketIds('garbled'), { inbound: [1], outbound: [], inDoubt: [good] });
    await core.metadata.put(packetIdsKey('garbled'), Buffer.from(JSON.stringify({ inbound: [], outbound: [], inDoubt: { id: 1 } })));
    assert.deepEqual((await store.loadPacketIds('garbled')).inDoubt, []);
    await core.metadata.put(packetIdsKey('garbled'), Buffer.from('{"inDoubt": [{"id": 1, "topic": "t", "partit'));
    assert.deepEqual(await store.loadPacketIds('garbled'), { inbound: [], outbound: [], inDoubt: [] });
  });
});

test('partitions added between the in-doubt write and the append: the message goes where the entry says', async () => {
  const coreTopic = 'persistent://public/default/parts';
  let onMarked = (): void => {};
  const broker = await startBroker({
    config: { topicRules: [{ filter: 'parts/#', topic: 'parts', partitions: 1 }] },
    faults: { beforeQos2Append: () => onMarked() },
  });
  try {
    const mapper = (broker.handler as unknown as { broker: Broker }).broker.mapper;
    const rule = mapper.ruleForTopic('parts/x');
    await broker.core.topics.setPartitionCount(coreTopic, 4);
    mapper.setPartitionCount(coreTopic, 4);
    const topic = ['parts/a', 'parts/b', 'parts/c', 'parts/d', 'parts/e'].find((t) => mapper.partitionFor(rule, t) !== 0)!;
    assert.ok(topic !== undefined);
    // The in-doubt entry is written while the handler still counts one partition; the topic event
    // for the new ones arrives during that write (simulated at the exact point).
    mapper.setPartitionCount(coreTopic, 1);
    onMarked = () => mapper.setPartitionCount(coreTopic, 4);
    const client = await rawSession(broker.port, 'q2-parts');
    client.send({ cmd: 'publish', topic, payload: Buffer.from('moved'), qos: 2, retain: false, dup: false, messageId: 21 });
    await client.next('pubrec');
    client.end();
    const read = await broker.core.read(coreTopic, 0, { offset: 0, maxBytes: 1 << 20 });
    const messages = read.entries.flatMap((e) => decodeRecordBatch(e.bytes).messages);
    assert.deepEqual(messages.map((m) => [m.value?.toString(), header(m, HEADER.mqttPacketId)]), [['moved', '21']]);
  } finally {
    await broker.close();
  }
});

test('a persistent session\'s retained QoS 2 PUBLISH is retained before it is appended (a crash between leaves both or the retained copy only)', async () => {
  const broker = await startBroker();
  const order: string[] = [];
  const stop = broker.core.onAppend((event) => order.push(event.topic));
  try {
    const client = await rawSession(broker.port, 'q2-retain');
    client.send({ cmd: 'publish', topic: 'q2/kept', payload: Buffer.from('kept'), qos: 2, retain: true, dup: false, messageId: 8 });
    await client.next('pubrec');
    client.end();
    assert.deepEqual(order, ['persistent://public/default/mqtt-retained', MQTT_TOPIC]);
    const fresh = await connect(broker.url, { clientId: 'q2-retain-reader' });
    const got = collect(fresh);
    await fresh.subscribeAsync('q2/kept', { qos: 2 });
    await got.wait(1);
    assert.equal(got.messages[0]!.payload.toString(), 'kept');
    await endClient(fresh);
  } finally {
    stop();
    await broker.close();
  }
});

/**
 * CoreTail: own appends are delivered from the views the broker hands over (not read back), anything
 * else at the tail is read from the core, and either way every message arrives once, in offset order,
 * with its own offset.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeRecordBatch, encodeRecordBatch, silentLogger, type AppendResult, type Core, type Message } from '@strata/core';
import type { IPublishPacket } from 'mqtt-packet';
import { CoreTail } from '../src/core-tail.js';
import { messageToView, publishToMessage, publishView, type MqttMessageView } from '../src/message-codec.js';
import { openTestCore } from './test-core.js';

const TOPIC = 'persistent://public/default/tail-test';

interface Delivered {
  readonly offset: number;
  readonly topic: string;
  readonly payload: string;
}

async function withTail(
  run: (ctx: { core: Core; tail: CoreTail; delivered: Delivered[]; subscribers: { on: boolean } }) => Promise<void>,
  localBytesMax?: number,
): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'strata-mqtt-tail-'));
  const core = await openTestCore(dir);
  const delivered: Delivered[] = [];
  const subscribers = { on: true };
  const tail = new CoreTail(
    core,
    silentLogger,
    (_topic, _partition, offset, view) => delivered.push({ offset, topic: view.topic, payload: view.payload.toString() }),
    (topic, message) => messageToView(message, topic, 0),
    () => subscribers.on,
    localBytesMax,
  );
  try {
    await core.topics.create(TOPIC, { partitions: 1 });
    tail.start();
    tail.follow(TOPIC, 0);
    await run({ core, tail, delivered, subscribers });
  } finally {
    tail.close();
    await core.close();
    await rm(dir, { recursive: true, force: true });
  }
}

function publish(topic: string, payload: string, qos: 0 | 1 | 2 = 0): IPublishPacket {
  return { cmd: 'publish', topic, payload: Buffer.from(payload), qos, dup: false, retain: false, ...(qos > 0 ? { messageId: 1 } : {}) };
}

/** An append as the broker does it: sink first, then the append, then the views with the result. */
async function ownAppend(core: Core, tail: CoreTail, packets: IPublishPacket[]): Promise<AppendResult> {
  const sink = tail.sink(TOPIC, 0);
  const messages = packets.map((p) => publishToMessage(p, Buffer.from('me'), Date.now()));
  const result = await core.append(TOPIC, 0, { kind: 'messages', messages });
  tail.appended(sink, result, packets.map((p, i) => publishView(p, messages[i]!, 'me')));
  return result;
}

/** A message from another protocol: no mqtt.* headers, the key is the MQTT topic. */
function foreign(topic: string, payload: string): Message {
  return { key: Buffer.from(topic), value: Buffer.from(payload), headers: [{ key: 'mqtt.topic', value: Buffer.from(topic) }], timestamp: Date.now() };
}

async function until(check: () => boolean): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!check()) {
    assert.ok(Date.now() < deadline, 'timed out');
    await new Promise((r) => setTimeout(r, 5));
  }
}

test('own appends are delivered from their views, with their offsets, without reading the core', async () => {
  await withTail(async ({ core, tail, delivered }) => {
    await ownAppend(core, tail, [publish('a/b', 'one'), publish('a/b', 'two', 1), publish('a/c', 'three', 2)]);
    await ownAppend(core, tail, [publish('a/b', 'four')]);
    await until(() => delivered.length === 4);
    assert.deepEqual(delivered, [
      { offset: 0, topic: 'a/b', payload: 'one' },
      { offset: 1, topic: 'a/b', payload: 'two' },
      { offset: 2, topic: 'a/c', payload: 'three' },
      { offset: 3, topic: 'a/b', payload: 'four' },
    ]);
    assert.deepEqual(tail.stats, { local: 4, read: 0 });
    assert.equal(tail.position(TOPIC, 0), 4);
  });
});

test('appends of one commit interleaved with another protocol: every message once, in offset order', async () => {
  await withTail(async ({ core, tail, delivered }) => {
    // Started in the same turn, so they share group commits; the foreign ones are read back.
    const work: Promise<unknown>[] = [];
    let expected = 0;
    for (let i = 0; i < 20; i++) {
      if (i % 3 === 1) {
        work.push(core.append(TOPIC, 0, { kind: 'messages', messages: [foreign('x/y', `f${i}`), foreign('x/y', `g${i}`)] }));
        expected += 2;
      } else {
        work.push(ownAppend(core, tail, [publish('a/b', `o${i}`), publish('a/b', `p${i}`, 1)]));
        expected += 2;
      }
    }
    await Promise.all(work);
    await until(() => delivered.length === expected);
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(delivered.length, expected, 'no message twice');
    assert.deepEqual(delivered.map((d) => d.offset), Array.from({ length: expected }, (_, i) => i));
    // Check against what the core stored at each offset.
    const read = await core.read(TOPIC, 0, { offset: 0, maxBytes: 1 << 20 });
    const stored = read.entries.flatMap((e) => decodeRecordBatch(e.bytes).messages).map((m) => m.value!.toString());
    assert.deepEqual(delivered.map((d) => d.payload), stored);
    assert.equal(tail.stats.read, 14);
    assert.equal(tail.stats.local, expected - 14);
  });
});

test('a failed append hands nothing over; the tail goes on with what follows', async () => {
  await withTail(async ({ core, tail, delivered }) => {
    const sink = tail.sink(TOPIC, 0);
    await core.topics.updatePolicies(TOPIC, { entryBytesMax: 1024 });
    const tooLarge = publish('a/b', 'x'.repeat(2048));
    await assert.rejects(core.append(TOPIC, 0, { kind: 'messages', messages: [publishToMessage(tooLarge, Buffer.from('me'), Date.now())] }));
    assert.ok(sink !== null);
    await ownAppend(core, tail, [publish('a/b', 'after')]);
    await until(() => delivered.length === 1);
    assert.deepEqual(delivered, [{ offset: 0, topic: 'a/b', payload: 'after' }]);
  });
});

test('results that do not fit (count mismatch, duplicate, out of order, already passed) are read back instead', async () => {
  await withTail(async ({ core, tail, delivered }) => {
    const sink = tail.sink(TOPIC, 0);
    const messages = [foreign('a/b', 'm0'), foreign('a/b', 'm1')];
    const result = await core.append(TOPIC, 0, { kind: 'messages', messages });
    // One view for two messages: offsets would be misplaced, so it is ignored.
    tail.appended(sink, result, [publishView(publish('a/b', 'wrong'), messages[0]!, 'me')]);
    const dup = await core.append(TOPIC, 0, { kind: 'messages', messages: [foreign('a/b', 'm2')] });
    tail.appended(sink, { ...dup, duplicate: true }, [publishView(publish('a/b', 'wrong'), messages[0]!, 'me')]);
    await until(() => delivered.length === 3);
    // Already delivered: a late hand-over of offset 0 is ignored.
    tail.appended(sink, result, messages.map((m) => publishView(publish('a/b', 'wrong'), m, 'me')));
    await ownAppend(core, tail, [publish('a/b', 'm3')]);
    await until(() => delivered.length === 4);
    assert.deepEqual(delivered.map((d) => `${d.offset}:${d.payload}`), ['0:m0', '1:m1', '2:m2', '3:m3']);
    assert.deepEqual(tail.stats, { local: 1, read: 3 });
  });
});

test('own appends past the local byte bound are read back from the core instead, in order', async () => {
  await withTail(async ({ core, tail, delivered }) => {
    await ownAppend(core, tail, [publish('a/b', 'x'.repeat(60)), publish('a/b', 'y'.repeat(60))]); // 120 bytes: over
    await ownAppend(core, tail, [publish('a/b', 'small')]);
    await until(() => delivered.length === 3);
    assert.deepEqual(delivered.map((d) => `${d.offset}:${d.payload.slice(0, 5)}`), ['0:xxxxx', '1:yyyyy', '2:small']);
    assert.deepEqual(tail.stats, { local: 1, read: 2 });
  }, 100);
});

test('no subscribers: no sink, nothing kept, the tail skips to the end', async () => {
  await withTail(async ({ core, tail, delivered, subscribers }) => {
    subscribers.on = false;
    assert.equal(tail.sink(TOPIC, 0), null);
    await ownAppend(core, tail, [publish('a/b', 'unseen')]);
    await until(() => tail.position(TOPIC, 0) === 1);
    subscribers.on = true;
    await ownAppend(core, tail, [publish('a/b', 'seen')]);
    await until(() => delivered.length === 1);
    assert.deepEqual(delivered, [{ offset: 1, topic: 'a/b', payload: 'seen' }]);
  });
});

test('a result that arrives after its topic was deleted and re-created is not used for the new topic', async () => {
  await withTail(async ({ core, tail, delivered }) => {
    const oldSink = tail.sink(TOPIC, 0);
    const messages = [publishToMessage(publish('a/b', 'old'), Buffer.from('me'), Date.now())];
    const oldResult = await core.append(TOPIC, 0, { kind: 'messages', messages });
    await until(() => delivered.length === 1);
    await core.topics.delete(TOPIC);
    tail.unfollow(TOPIC);
    await core.topics.create(TOPIC, { partitions: 1 });
    tail.follow(TOPIC, 0);
    // The stale hand-over names offset 0, which in the new topic is another message.
    tail.appended(oldSink, { ...oldResult }, [publishView(publish('a/b', 'stale'), messages[0]!, 'me')]);
    await core.append(TOPIC, 0, { kind: 'messages', messages: [foreign('a/b', 'new')] });
    await until(() => delivered.length === 2);
    assert.deepEqual(delivered.map((d) => `${d.offset}:${d.payload}`), ['0:old', '0:new']);
  });
});

test('publishView equals the view of the same message read back from the core (properties, user properties, expiry)', () => {
  const now = 1_700_000_000_000;
  const packets: IPublishPacket[] = [
    publish('a/b', 'plain'),
    { ...publish('a/b', 'retained', 1), retain: true },
    { ...publish('a/b', '', 2) },
    {
      ...publish('x/y', 'props', 1),
      properties: {
        contentType: 'text/plain',
        responseTopic: 'reply/here',
        correlationData: Buffer.from([1, 2, 3]),
        payloadFormatIndicator: true,
        messageExpiryInterval: 30,
        userProperties: { one: 'a', many: ['b', 'c'], single: ['d'], 'mqtt.reserved': 'dropped' } as unknown as Record<string, string>,
      },
    },
    { ...publish('x/y', 'empty-props'), properties: {} },
  ];
  for (const packet of packets) {
    const message = publishToMessage(packet, Buffer.from('pub-1'), now);
    const local = publishView(packet, message, 'pub-1');
    const [stored] = decodeRecordBatch(encodeRecordBatch([message])).messages;
    const readBack = messageToView(stored!, 'fallback', 0);
    assert.deepEqual(normalise(local), normalise(readBack), packet.payload.toString());
  }
});

function normalise(view: MqttMessageView): unknown {
  return { ...view, payload: Buffer.from(view.payload), properties: view.properties === undefined ? undefined : JSON.parse(JSON.stringify(view.properties)) };
}

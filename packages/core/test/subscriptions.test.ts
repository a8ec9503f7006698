import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { isStrataError } from '../src/errors.js';
import { systemClock } from '../src/handler.js';
import { silentLogger } from '../src/logger.js';
import type { Message } from '../src/message.js';
import { openEmbeddedMetadataStore } from '../src/metadata/embedded-metadata-store.js';
import type { MetadataStore } from '../src/metadata/metadata-store.js';
import { subscriptionKey } from '../src/subscription/cursor-state.js';
import { createSubscriptions, type SubscriptionsService } from '../src/subscription/subscriptions.js';
import type { SubscriptionLimits } from '../src/subscription/subscription-limits.js';
import { DELIVER_AT_HEADER, type Delivery, type SubscriptionConsumer } from '../src/subscription/types.js';
import { allMessages, FakeCore } from './support/fake-core.js';

const TOPIC = 'persistent://public/default/orders';

interface Harness {
  core: FakeCore;
  metadata: MetadataStore;
  subscriptions: SubscriptionsService;
  dir: string;
}

async function harness(t: { after(fn: () => Promise<void>): void }, limits: Partial<SubscriptionLimits> = {}): Promise<Harness> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'strata-subs-'));
  const metadata = await openEmbeddedMetadataStore({ dir });
  const core = new FakeCore(metadata);
  await core.topics.create(TOPIC, { partitions: 2 });
  const subscriptions = await createSubscriptions({ core, metadata, clock: systemClock, logger: silentLogger, limits });
  t.after(async () => {
    await subscriptions.close();
    await metadata.close();
    await fs.rm(dir, { recursive: true, force: true });
  });
  return { core, metadata, subscriptions, dir };
}

function msg(key: string | null, value: string, headers: Record<string, string> = {}, timestamp = 1000): Message {
  return {
    key: key === null ? null : Buffer.from(key),
    value: Buffer.from(value),
    headers: Object.entries(headers).map(([k, v]) => ({ key: k, value: Buffer.from(v) })),
    timestamp,
  };
}

async function produce(core: FakeCore, count: number, options: { partition?: number; keyOf?: (i: number) => string | null; perBatch?: number; start?: number } = {}) {
  const perBatch = options.perBatch ?? 1;
  const start = options.start ?? 0;
  for (let i = start; i < start + count; i += perBatch) {
    const messages: Message[] = [];
    for (let j = i; j < Math.min(start + count, i + perBatch); j++) messages.push(msg(options.keyOf?.(j) ?? `k${j}`, `v${j}`, {}, 1000 + j));
    await core.append(TOPIC, options.partition ?? 0, { kind: 'messages', messages, compression: perBatch > 1 ? 'lz4' : 'none' });
  }
}

class Collector {
  readonly deliveries: Delivery[] = [];
  consumer!: SubscriptionConsumer;
  closedWith: string | null = null;
  readonly onDelivery = (deliveries: readonly Delivery[]) => void this.deliveries.push(...deliveries);
  readonly onClose = (reason: string) => void (this.closedWith = reason);
  offsets(): number[] {
    return this.deliveries.map((d) => d.message.offset);
  }
}

async function waitFor(condition: () => boolean, what: string, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

const settle = () => new Promise((resolve) => setTimeout(resolve, 30));

test('exclusive: permits bound deliveries, second consumer is refused, cumulative ack moves the cursor', async (t) => {
  const { core, subscriptions } = await harness(t);
  await produce(core, 10, { perBatch: 3 });
  const subscription = await subscriptions.open(TOPIC, 0, 'ex', { type: 'Exclusive', initialPosition: 'earliest' });
  const collector = new Collector();
  collector.consumer = subscription.attach({ name: 'c1', onDelivery: collector.onDelivery });
  assert.throws(() => subscription.attach({ name: 'c2', onDelivery: () => {} }), (e) => isStrataError(e, 'CONSUMER_BUSY'));
  collector.consumer.flow(4);
  await waitFor(() => collector.deliveries.length === 4, '4 deliveries');
  await settle();
  assert.deepEqual(collector.offsets(), [0, 1, 2, 3]);
  assert.equal(collector.deliveries[2]!.message.value!.toString(), 'v2');
  collector.consumer.flow(100);
  await waitFor(() => collector.deliveries.length === 10, 'all 10');
  assert.deepEqual(collector.offsets(), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  collector.consumer.ackCumulative(6);
  assert.equal(subscription.state().markDeleteOffset, 7);
  assert.equal(subscription.state().backlog, 3);
  assert.equal(subscriptions.slowestOffset(TOPIC, 0), 7);
  // Tailing: a new append wakes the dispatcher.
  await produce(core, 2, { start: 10 });
  await waitFor(() => collector.deliveries.length === 12, 'appended messages');
  assert.deepEqual(collector.offsets().slice(10), [10, 11]);
});

test('latest initial position skips existing messages; unknown topics are refused', async (t) => {
  const { core, subscriptions } = await harness(t);
  await produce(core, 5);
  const subscription = await subscriptions.open(TOPIC, 0, 'late', { type: 'Exclusive' });
  assert.equal(subscription.state().markDeleteOffset, 5);
  const collector = new Collector();
  collector.consumer = subscription.attach({ name: 'c', onDelivery: collector.onDelivery });
  collector.consumer.flow(10);
  await produce(core, 1, { start: 5 });
  await waitFor(() => collector.deliveries.length === 1, 'one delivery');
  assert.deepEqual(collector.offsets(), [5]);
  await assert.rejects(subscriptions.open('persistent://public/default/nope', 0, 's', { type: 'Shared' }), (e) => isStrataError(e, 'UNKNOWN_TOPIC'));
});

test('shared: round-robin over consumers with permits, each message once', async (t) => {
  const { core, subscriptions } = await harness(t);
  await produce(core, 30, { perBatch: 5 });
  const subscription = await subscriptions.open(TOPIC, 0, 'sh', { type: 'Shared', initialPosition: 'earliest' });
  const a = new Collector();
  const b = new Collector();
  a.consumer = subscription.attach({ name: 'a', onDelivery: a.onDelivery });
  b.consumer = subscription.attach({ name: 'b', onDelivery: b.onDelivery });
  a.consumer.flow(100);
  b.consumer.flow(100);
  await waitFor(() => a.deliveries.length + b.deliveries.length === 30, 'all delivered');
  assert.ok(a.deliveries.length >= 10 && b.deliveries.length >= 10, `balanced: ${a.deliveries.length}/${b.deliveries.length}`);
  assert.deepEqual([...a.offsets(), ...b.offsets()].sort((x, y) => x - y), Array.from({ length: 30 }, (_, i) => i));
  a.consumer.ack(a.offsets());
  b.consumer.ack(b.offsets());
  assert.equal(subscription.state().markDeleteOffset, 30);
  assert.throws(() => a.consumer.ackCumulative(3), (e) => isStrataError(e, 'INVALID_ARGUMENT'));
});

test('key_shared: every key goes to one consumer, in order', async (t) => {
  const { core, subscriptions } = await harness(t);
  const keys = ['alpha', 'beta', 'gamma', 'delta', 'epsilon', 'zeta', 'eta', 'theta'];
  await produce(core, 80, { perBatch: 8, keyOf: (i) => keys[i % keys.length]! });
  const subscription = await subscriptions.open(TOPIC, 0, 'ks', { type: 'Key_Shared', initialPosition: 'earliest' });
  const consumers = [new Collector(), new Collector(), new Collector()];
  for (const [i, c] of consumers.entries()) {
    c.consumer = subscription.attach({ name: `c${i}`, onDelivery: c.onDelivery });
    c.consumer.flow(5); // small permits: exercises keys blocked behind a consumer without permits
  }
  const total = () => consumers.reduce((sum, c) => sum + c.deliveries.length, 0);
  for (let round = 0; round < 40 && total() < 80; round++) {
    await settle();
    for (const c of consumers) {
      c.consumer.ack(c.offsets());
      c.consumer.flow(5);
    }
  }
  await waitFor(() => total() === 80, 'all keyed deliveries');
  const owner = new Map<string, number>();
  for (const [i, c] of consumers.entries()) {
    const perKey = new Map<string, number[]>();
    for (const d of c.deliveries) {
      const key = d.message.key!.toString();
      assert.equal(owner.get(key) ?? i, i, `key ${key} went to one consumer`);
      owner.set(key, i);
      perKey.set(key, [...(perKey.get(key) ?? []), d.message.offset]);
    }
    for (const offsets of perKey.values()) assert.deepEqual(offsets, [...offsets].sort((x, y) => x - y));
  }
  assert.ok(new Set(owner.values()).size >= 2, 'keys spread over consumers');
});

test('failover: lowest priority wins, then attach order; closing it fails over with its unacked messages', async (t) => {
  const { core, subscriptions } = await harness(t);
  await produce(core, 6);
  const subscription = await subscriptions.open(TOPIC, 0, 'fo', { type: 'Failover', initialPosition: 'earliest' });
  const first = new Collector();
  const second = new Collector();
  const standby = new Collector();
  first.consumer = subscription.attach({ name: 'first', priority: 1, onDelivery: first.onDelivery });
  second.consumer = subscription.attach({ name: 'second', priority: 0, onDelivery: second.onDelivery });
  standby.consumer = subscription.attach({ name: 'standby', priority: 0, onDelivery: standby.onDelivery });
  for (const c of [first, second, standby]) c.consumer.flow(100);
  await waitFor(() => second.deliveries.length === 6, 'active consumer gets all');
  assert.equal(first.deliveries.length + standby.deliveries.length, 0);
  second.consumer.ack([0, 1, 2]);
  second.consumer.close();
  await waitFor(() => standby.deliveries.length === 3, 'failover redelivery');
  assert.deepEqual(standby.offsets(), [3, 4, 5]);
  assert.ok(standby.deliveries.every((d) => d.redeliveryCount === 1));
  assert.equal(first.deliveries.length, 0);
});

test('nack redelivers after negativeAckDelayMs with a redelivery count', async (t) => {
  const { core, subscriptions } = await harness(t);
  await produce(core, 3);
  const subscription = await subscriptions.open(TOPIC, 0, 'nk', { type: 'Shared', initialPosition: 'earliest', negativeAckDelayMs: 80 });
  const c = new Collector();
  c.consumer = subscription.attach({ name: 'c', onDelivery: c.onDelivery });
  c.consumer.flow(100);
  await waitFor(() => c.deliveries.length === 3, 'first deliveries');
  const nackedAt = Date.now();
  c.consumer.nack([1]);
  c.consumer.ack([0, 2]);
  await waitFor(() => c.deliveries.length === 4, 'redelivery');
  assert.ok(Date.now() - nackedAt >= 70, 'waited for the nack delay');
  assert.equal(c.deliveries[3]!.message.offset, 1);
  assert.equal(c.deliveries[3]!.redeliveryCount, 1);
  c.consumer.ack([1]);
  assert.equal(subscription.state().markDeleteOffset, 3);
});

test('ack timeout redelivers unacked messages', async (t) => {
  const { core, subscriptions } = await harness(t);
  await produce(core, 2);
  const subscription = await subscriptions.open(TOPIC, 0, 'to', { type: 'Exclusive', initialPosition: 'earliest', ackTimeoutMs: 60 });
  const c = new Collector();
  c.consumer = subscription.attach({ name: 'c', onDelivery: c.onDelivery });
  c.consumer.flow(100);
  await waitFor(() => c.deliveries.length === 2, 'deliveries');
  c.consumer.ack([0]);
  await waitFor(() => c.deliveries.length === 3, 'timeout redelivery');
  assert.equal(c.deliveries[2]!.message.offset, 1);
  assert.equal(c.deliveries[2]!.redeliveryCount, 1);
});

test('dead-letter topic after maxDeliveries: appended there with origin headers, acked here', async (t) => {
  const { core, subscriptions } = await harness(t);
  await produce(core, 2);
  const subscription = await subscriptions.open(TOPIC, 0, 'dl', { type: 'Shared', initialPosition: 'earliest', maxDeliveries: 3 });
  const c = new Collector();
  c.consumer = subscription.attach({ name: 'c', onDelivery: c.onDelivery });
  c.consumer.flow(100);
  await waitFor(() => c.deliveries.length === 2, 'deliveries');
  c.consumer.ack([0]);
  core.appendFailures = 1; // the first dead-letter append fails and is retried
  for (let delivery = 1; delivery <= 3; delivery++) {
    await waitFor(() => c.deliveries.filter((d) => d.message.offset === 1).length === delivery, `delivery ${delivery}`);
    c.consumer.nack([1]);
  }
  const dlq = `${TOPIC}-dl-DLQ`;
  await waitFor(() => core.topics.exists(dlq) && allMessages(core, dlq).length === 1, 'dead-lettered', 5000);
  const [dead] = allMessages(core, dlq);
  assert.equal(dead!.value!.toString(), 'v1');
  const headers = Object.fromEntries(dead!.headers.map((h) => [h.key, h.value?.toString()]));
  assert.equal(headers['strata-dlq-origin-topic'], TOPIC);
  assert.equal(headers['strata-dlq-origin-offset'], '1');
  await waitFor(() => subscription.state().markDeleteOffset === 2, 'acked after dead-lettering');
  assert.equal(c.deliveries.filter((d) => d.message.offset === 1).length, 3);
});

test('delayed delivery: the deliver-at header holds a message until its time', async (t) => {
  const { core, subscriptions } = await harness(t);
  const subscription = await subscriptions.open(TOPIC, 0, 'dd', { type: 'Shared', initialPosition: 'earliest' });
  const c = new Collector();
  c.consumer = subscription.attach({ name: 'c', onDelivery: c.onDelivery });
  c.consumer.flow(100);
  const deliverAt = Date.now() + 150;
  await core.append(TOPIC, 0, { kind: 'messages', messages: [msg('k', 'later', { [DELIVER_AT_HEADER]: String(deliverAt) }), msg('k', 'now')] });
  await waitFor(() => c.deliveries.length === 1, 'the undelayed message');
  assert.equal(c.deliveries[0]!.message.value!.toString(), 'now');
  await waitFor(() => c.deliveries.length === 2, 'the delayed message');
  assert.ok(Date.now() >= deliverAt);
  assert.equal(c.deliveries[1]!.message.value!.toString(), 'later');
});

test('seek and seekToTimestamp reset the cursor (into the middle of a batch)', async (t) => {
  const { core, subscriptions } = await harness(t);
  await produce(core, 20, { perBatch: 10 });
  const subscription = await subscriptions.open(TOPIC, 0, 'sk', { type: 'Exclusive', initialPosition: 'earliest' });
  const c = new Collector();
  c.consumer = subscription.attach({ name: 'c', onDelivery: c.onDelivery });
  c.consumer.flow(100);
  await waitFor(() => c.deliveries.length === 20, 'all');
  c.consumer.ackCumulative(19);
  await subscription.seek(13);
  assert.equal(subscription.state().markDeleteOffset, 13);
  c.consumer.flow(100);
  await waitFor(() => c.deliveries.length === 27, 'after seek');
  assert.deepEqual(c.offsets().slice(20), [13, 14, 15, 16, 17, 18, 19]);
  await subscription.seekToTimestamp(1005); // message i has timestamp 1000 + i
  await waitFor(() => c.deliveries.length === 42, 'after seekToTimestamp');
  assert.equal(c.deliveries[27]!.message.offset, 5);
  await subscription.seek(1_000_000); // clamped to the end
  assert.equal(subscription.state().markDeleteOffset, 20);
});

test('persistence: cursors survive restart, rate-limited; unacked messages are redelivered, acked ones not', async (t) => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'strata-subs-persist-'));
  t.after(() => fs.rm(dir, { recursive: true, force: true }));
  let metadata = await openEmbeddedMetadataStore({ dir });
  let puts = 0;
  const counting: MetadataStore = Object.assign(Object.create(metadata) as MetadataStore, {
    put: (...args: Parameters<MetadataStore['put']>) => {
      puts++;
      return metadata.put(...args);
    },
  });
  const core = new FakeCore(metadata);
  await core.topics.create(TOPIC);
  await produce(core, 200, { perBatch: 20 });
  let subscriptions = await createSubscriptions({ core, metadata: counting, clock: systemClock, logger: silentLogger, limits: { persistIntervalMs: 50 } });
  let subscription = await subscriptions.open(TOPIC, 0, 'p', { type: 'Shared', initialPosition: 'earliest' });
  const c = new Collector();
  c.consumer = subscription.attach({ name: 'c', onDelivery: c.onDelivery });
  c.consumer.flow(1000);
  await waitFor(() => c.deliveries.length === 200, 'all delivered');
  const putsBefore = puts;
  for (let offset = 0; offset < 200; offset++) if (offset !== 50 && offset !== 120) c.consumer.ack([offset]);
  await settle();
  await waitFor(() => puts > putsBefore, 'a rate-limited write');
  assert.ok(puts - putsBefore <= 3, `198 acks cost ${puts - putsBefore} writes`);
  await subscription.flush();
  // "Crash": drop the subscriptions without close, reopen everything from disk.
  await metadata.close();
  metadata = await openEmbeddedMetadataStore({ dir });
  subscriptions = await createSubscriptions({ core, metadata, clock: systemClock, logger: silentLogger });
  t.after(async () => {
    await subscriptions.close();
    await metadata.close();
  });
  assert.deepEqual(subscriptions.list(TOPIC, 0), ['p']);
  assert.equal(subscriptions.slowestOffset(TOPIC, 0), 50);
  subscription = await subscriptions.open(TOPIC, 0, 'p', { type: 'Shared' });
  assert.equal(subscription.state().markDeleteOffset, 50);
  assert.equal(subscription.state().backlog, 2);
  const after = new Collector();
  after.consumer = subscription.attach({ name: 'c2', onDelivery: after.onDelivery });
  after.consumer.flow(1000);
  await waitFor(() => after.deliveries.length === 2, 'the two unacked');
  await settle();
  assert.deepEqual(after.offsets(), [50, 120]);
});

test('delete closes consumers and removes the cursor; list and slowestOffset follow; topic deletion drops subscriptions', async (t) => {
  const { core, subscriptions, metadata } = await harness(t);
  await produce(core, 3);
  const one = await subscriptions.open(TOPIC, 0, 'one', { type: 'Exclusive', initialPosition: 'earliest' });
  await subscriptions.open(TOPIC, 0, 'two', { type: 'Shared' });
  await subscriptions.open(TOPIC, 1, 'other-partition', { type: 'Shared' });
  assert.deepEqual(subscriptions.list(TOPIC, 0), ['one', 'two']);
  assert.equal(subscriptions.slowestOffset(TOPIC, 0), 0);
  assert.equal(subscriptions.slowestOffset(TOPIC, 1), 0);
  assert.equal(subscriptions.slowestOffset('persistent://public/default/none', 0), null);
  const c = new Collector();
  c.consumer = one.attach({ name: 'c', onDelivery: c.onDelivery, onClose: c.onClose });
  await subscriptions.delete(TOPIC, 0, 'one');
  assert.equal(c.closedWith, 'subscription deleted');
  assert.equal(await metadata.get(subscriptionKey(TOPIC, 0, 'one')), null);
  assert.deepEqual(subscriptions.list(TOPIC, 0), ['two']);
  assert.equal(subscriptions.slowestOffset(TOPIC, 0), 3);
  await assert.rejects(subscriptions.delete(TOPIC, 0, 'one'), (e) => isStrataError(e, 'UNKNOWN_SUBSCRIPTION'));
  assert.throws(() => one.attach({ name: 'late', onDelivery: () => {} }), (e) => isStrataError(e, 'UNKNOWN_SUBSCRIPTION'));
  await core.topics.delete(TOPIC);
  await waitFor(() => subscriptions.list(TOPIC, 0).length === 0 && subscriptions.list(TOPIC, 1).length === 0, 'topic subscriptions dropped');
  await waitFor(() => true, 'metadata');
  await settle();
  assert.deepEqual(await metadata.children('/strata/subscriptions'), []);
});

test('bounded: dispatch pauses at unackedMessagesMax and resumes on ack', async (t) => {
  const { core, subscriptions } = await harness(t, { unackedMessagesMax: 5, readAheadMessagesMax: 5 });
  await produce(core, 20, { perBatch: 4 });
  const subscription = await subscriptions.open(TOPIC, 0, 'b', { type: 'Shared', initialPosition: 'earliest' });
  const c = new Collector();
  c.consumer = subscription.attach({ name: 'c', onDelivery: c.onDelivery });
  c.consumer.flow(1000);
  await waitFor(() => c.deliveries.length === 5, 'first five');
  await settle();
  assert.equal(c.deliveries.length, 5);
  c.consumer.ack(c.offsets());
  await waitFor(() => c.deliveries.length === 10, 'next five');
});

test('opening an existing subscription with another type is refused while consumers are attached', async (t) => {
  const { subscriptions } = await harness(t);
  const subscription = await subscriptions.open(TOPIC, 0, 'typed', { type: 'Shared' });
  const consumer = subscription.attach({ name: 'c', onDelivery: () => {} });
  await assert.rejects(subscriptions.open(TOPIC, 0, 'typed', { type: 'Exclusive' }), (e) => isStrataError(e, 'CONSUMER_BUSY'));
  consumer.close();
  const again = await subscriptions.open(TOPIC, 0, 'typed', { type: 'Exclusive' });
  assert.equal(again.type, 'Exclusive');
  // Concurrent opens of a new name create it once.
  const [x, y] = await Promise.all([
    subscriptions.open(TOPIC, 0, 'racy', { type: 'Shared' }),
    subscriptions.open(TOPIC, 0, 'racy', { type: 'Shared' }),
  ]);
  assert.equal(x, y);
});

test('message TTL: expired messages are acknowledged, not delivered', async (t) => {
  const { core, subscriptions } = await harness(t);
  core.ttlMs = 60_000;
  await produce(core, 3); // timestamps around 1000 ms since the epoch: long expired
  await core.append(TOPIC, 0, { kind: 'messages', messages: [msg('fresh', 'now', {}, Date.now())] });
  const subscription = await subscriptions.open(TOPIC, 0, 'ttl', { type: 'Shared', initialPosition: 'earliest' });
  const c = new Collector();
  c.consumer = subscription.attach({ name: 'c', onDelivery: c.onDelivery });
  c.consumer.flow(10);
  await waitFor(() => c.deliveries.length === 1, 'the fresh message');
  assert.deepEqual(c.offsets(), [3]);
  assert.equal(subscription.state().markDeleteOffset, 3);
});

test('key_shared: a consumer without permits does not stall the other keys', async (t) => {
  const { core, subscriptions } = await harness(t, { readAheadMessagesMax: 50 });
  const subscription = await subscriptions.open(TOPIC, 0, 'ks2', { type: 'Key_Shared', initialPosition: 'earliest' });
  const idle = new Collector();
  const busy = new Collector();
  idle.consumer = subscription.attach({ name: 'idle', onDelivery: idle.onDelivery });
  busy.consumer = subscription.attach({ name: 'busy', onDelivery: busy.onDelivery });
  busy.consumer.flow(1000);
  await produce(core, 200, { perBatch: 10, keyOf: (i) => `key-${i % 20}` });
  await waitFor(() => busy.deliveries.length > 0, 'busy consumer gets its keys');
  await settle();
  const busyKeys = new Set(busy.deliveries.map((d) => d.message.key!.toString()));
  assert.ok(busyKeys.size > 0 && busyKeys.size < 20);
  // Its keys' messages all arrived even though the idle consumer's keys fill the read-ahead.
  const expected = Array.from({ length: 200 }, (_, i) => i).filter((i) => busyKeys.has(`key-${i % 20}`));
  await waitFor(() => busy.deliveries.length === expected.length, 'all of the busy consumer keys');
  idle.consumer.flow(1000);
  await waitFor(() => idle.deliveries.length === 200 - expected.length, 'idle consumer catches up');
});

test('randomised: consumers come and go, ack, nack, time out; every message is delivered and finally acked', async (t) => {
  const { core, subscriptions } = await harness(t, { readAheadMessagesMax: 20, unackedMessagesMax: 40 });
  let seed = 1234;
  const random = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
  for (const type of ['Shared', 'Key_Shared', 'Failover'] as const) {
    const name = `model-${type}`;
    const start = core.offsets(TOPIC, 0).highWatermark;
    const subscription = await subscriptions.open(TOPIC, 0, name, { type, initialPosition: 'latest', ackTimeoutMs: 40 });
    interface Live { collector: Collector; granted: number; handled: number }
    const live: Live[] = [];
    const delivered = new Set<number>();
    const attach = () => {
      const collector = new Collector();
      collector.consumer = subscription.attach({ name: `c${live.length}`, onDelivery: collector.onDelivery });
      live.push({ collector, granted: 0, handled: 0 });
    };
    attach();
    attach();
    let produced = 0;
    for (let step = 0; step < 150; step++) {
      const action = random();
      const consumer = live[Math.floor(random() * live.length)]!;
      if (action < 0.2 && produced < 200) {
        const count = 1 + Math.floor(random() * 10);
        await produce(core, count, { start: start + produced, perBatch: 1 + Math.floor(random() * 4), keyOf: (i) => `key-${i % 7}` });
        produced += count;
      } else if (action < 0.45) {
        const permits = 1 + Math.floor(random() * 8);
        consumer.granted += permits;
        consumer.collector.consumer.flow(permits);
      } else if (action < 0.75) {
        const fresh = consumer.collector.deliveries.slice(consumer.handled);
        consumer.handled = consumer.collector.deliveries.length;
        for (const d of fresh) delivered.add(d.message.offset);
        const acked = fresh.filter(() => random() < 0.8).map((d) => d.message.offset);
        consumer.collector.consumer.ack(acked);
        if (type !== 'Failover') consumer.collector.consumer.nack(fresh.map((d) => d.message.offset).filter((o) => !acked.includes(o)));
      } else if (action < 0.8 && live.length > 1) {
        consumer.collector.consumer.close();
        live.splice(live.indexOf(consumer), 1);
        attach();
      }
      if (step % 10 === 0) await new Promise((resolve) => setTimeout(resolve, 2));
    }
    // Permits were never exceeded.
    for (const l of live) assert.ok(l.collector.deliveries.length <= l.granted, `${type}: ${l.collector.deliveries.length} deliveries for ${l.granted} permits`);
    // Drain: everyone acks everything with plenty of permits until the cursor reaches the end.
    const end = start + produced;
    for (let round = 0; round < 400 && subscription.state().markDeleteOffset < end; round++) {
      for (const l of live) {
        l.collector.consumer.flow(50);
        for (const d of l.collector.deliveries.slice(l.handled)) delivered.add(d.message.offset);
        l.collector.consumer.ack(l.collector.deliveries.slice(l.handled).map((d) => d.message.offset));
        l.handled = l.collector.deliveries.length;
      }
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    assert.equal(subscription.state().markDeleteOffset, end, `${type}: everything acked`);
    for (let offset = start; offset < end; offset++) assert.ok(delivered.has(offset), `${type}: offset ${offset} was delivered`);
    for (const l of live) l.collector.consumer.close();
  }
});

test('key_shared: a consumer that joins gets nothing new until the older messages are acked (per-key order)', async (t) => {
  const { core, subscriptions } = await harness(t);
  const subscription = await subscriptions.open(TOPIC, 0, 'join', { type: 'Key_Shared', initialPosition: 'earliest' });
  const first = new Collector();
  first.consumer = subscription.attach({ name: 'first', onDelivery: first.onDelivery });
  first.consumer.flow(1000);
  const keys = Array.from({ length: 16 }, (_, i) => `key-${i}`);
  await produce(core, 32, { keyOf: (i) => keys[i % 16]! });
  await waitFor(() => first.deliveries.length === 32, 'first consumer owns every key');
  // A second consumer joins while all 32 are unacked; then more messages arrive.
  const second = new Collector();
  second.consumer = subscription.attach({ name: 'second', onDelivery: second.onDelivery });
  second.consumer.flow(1000);
  await produce(core, 32, { start: 32, keyOf: (i) => keys[i % 16]! });
  await settle();
  assert.equal(second.deliveries.length, 0, 'nothing for the newcomer while older messages are unacked');
  first.consumer.ack(first.offsets());
  await waitFor(() => first.deliveries.length + second.deliveries.length === 64, 'everything delivered');
  assert.ok(second.deliveries.length > 0, 'the newcomer got its keys after the acks');
  assert.ok(second.deliveries.every((d) => d.message.offset >= 32));
});

test('restart: cursors of a topic deleted before the crash are dropped, never inherited', async (t) => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'strata-subs-orphan-'));
  const metadata = await openEmbeddedMetadataStore({ dir });
  t.after(async () => {
    await metadata.close();
    await fs.rm(dir, { recursive: true, force: true });
  });
  const core = new FakeCore(metadata);
  await core.topics.create(TOPIC);
  await produce(core, 10);
  const first = await createSubscriptions({ core, metadata, clock: systemClock, logger: silentLogger });
  const subscription = await first.open(TOPIC, 0, 'orphan', { type: 'Exclusive', initialPosition: 'latest' });
  assert.equal(subscription.state().markDeleteOffset, 10);
  // The topic disappears and comes back empty while nobody listens (a crash in between).
  core.partitions.delete(TOPIC);
  await core.topics.create(TOPIC);
  await first.close();
  const fresh = new FakeCore(metadata);
  await fresh.topics.create('persistent://public/default/other');
  const second = await createSubscriptions({ core: fresh, metadata, clock: systemClock, logger: silentLogger });
  t.after(() => second.close());
  assert.deepEqual(second.list(TOPIC, 0), []);
  assert.equal(await metadata.get(subscriptionKey(TOPIC, 0, 'orphan')), null);
});

test('deliveries are never made from inside the consumer call that caused them', async (t) => {
  const { core, subscriptions } = await harness(t);
  await produce(core, 3);
  const subscription = await subscriptions.open(TOPIC, 0, 'async', { type: 'Shared', initialPosition: 'earliest' });
  let insideCall = false;
  let reentered = false;
  let received = 0;
  const consumer = subscription.attach({
    name: 'c',
    onDelivery: (deliveries) => {
      if (insideCall) reentered = true;
      received += deliveries.length;
    },
  });
  insideCall = true;
  consumer.flow(10);
  insideCall = false;
  await waitFor(() => received === 3, 'deliveries');
  assert.equal(reentered, false);
});

test('seek cancels pending nack redeliveries (no duplicate from before the seek)', async (t) => {
  const { core, subscriptions } = await harness(t);
  await produce(core, 2);
  const subscription = await subscriptions.open(TOPIC, 0, 'seeknack', { type: 'Exclusive', initialPosition: 'earliest', negativeAckDelayMs: 60 });
  const c = new Collector();
  c.consumer = subscription.attach({ name: 'c', onDelivery: c.onDelivery });
  c.consumer.flow(100);
  await waitFor(() => c.deliveries.length === 2, 'first deliveries');
  c.consumer.nack([0]);
  await subscription.seek(0);
  await waitFor(() => c.deliveries.length === 4, 're-read after seek');
  await new Promise((resolve) => setTimeout(resolve, 150));
  assert.deepEqual(c.offsets(), [0, 1, 0, 1]);
  assert.ok(c.deliveries.slice(2).every((d) => d.redeliveryCount === 0));
});

test('failover: a higher-priority consumer that attaches takes over, with the unacked messages', async (t) => {
  const { core, subscriptions } = await harness(t);
  await produce(core, 3);
  const subscription = await subscriptions.open(TOPIC, 0, 'takeover', { type: 'Failover', initialPosition: 'earliest' });
  const low = new Collector();
  low.consumer = subscription.attach({ name: 'low', priority: 5, onDelivery: low.onDelivery });
  low.consumer.flow(100);
  await waitFor(() => low.deliveries.length === 3, 'low gets the backlog');
  low.consumer.ack([0]);
  const high = new Collector();
  high.consumer = subscription.attach({ name: 'high', priority: 1, onDelivery: high.onDelivery });
  high.consumer.flow(100);
  await produce(core, 1, { start: 3 });
  await waitFor(() => high.deliveries.length === 3, 'high takes over');
  assert.deepEqual(high.offsets(), [1, 2, 3]);
  assert.equal(low.deliveries.length, 3);
});

test('key_shared: read-ahead messages not yet sent stay behind for a joining consumer (PIP-282)', async (t) => {
  const { core, subscriptions } = await harness(t);
  const subscription = await subscriptions.open(TOPIC, 0, 'pip282', { type: 'Key_Shared', initialPosition: 'earliest' });
  const first = new Collector();
  first.consumer = subscription.attach({ name: 'first', onDelivery: first.onDelivery });
  const keys = Array.from({ length: 16 }, (_, i) => `key-${i}`);
  await produce(core, 32, { keyOf: (i) => keys[i % 16]! });
  first.consumer.flow(16); // the other 16 are read ahead but not sent
  await waitFor(() => first.deliveries.length === 16, 'first 16');
  await settle();
  const second = new Collector();
  second.consumer = subscription.attach({ name: 'second', onDelivery: second.onDelivery });
  second.consumer.flow(1000);
  await settle();
  assert.equal(second.deliveries.length, 0, 'nothing past the last sent offset while older messages are unacked');
  first.consumer.ack(first.offsets());
  first.consumer.flow(1000);
  await waitFor(() => first.deliveries.length + second.deliveries.length === 32, 'all delivered');
  assert.ok(second.deliveries.every((d) => d.message.offset >= 16));
});

test('stale acks from before a seek do not acknowledge what the seek will deliver again', async (t) => {
  const { core, subscriptions } = await harness(t);
  await produce(core, 6);
  const subscription = await subscriptions.open(TOPIC, 0, 'stale', { type: 'Exclusive', initialPosition: 'earliest' });
  const c = new Collector();
  c.consumer = subscription.attach({ name: 'c', onDelivery: c.onDelivery });
  c.consumer.flow(3);
  await waitFor(() => c.deliveries.length === 3, 'three');
  await subscription.seek(0);
  c.consumer.ack([1, 2]); // acks for deliveries made before the seek
  c.consumer.ackCumulative(5); // and a cumulative ack past anything sent
  assert.equal(subscription.state().markDeleteOffset, 0);
  c.consumer.flow(100);
  await waitFor(() => c.deliveries.length === 3 + 6, 'everything again');
  assert.deepEqual(c.offsets().slice(3), [0, 1, 2, 3, 4, 5]);
});

test('an unusable dead-letter topic keeps the message deliverable instead of stuck', async (t) => {
  const { core, subscriptions } = await harness(t);
  await produce(core, 1);
  const subscription = await subscriptions.open(TOPIC, 0, 'baddlq', {
    type: 'Shared',
    initialPosition: 'earliest',
    maxDeliveries: 1,
    deadLetterTopic: 'not a valid topic name',
  });
  const c = new Collector();
  c.consumer = subscription.attach({ name: 'c', onDelivery: c.onDelivery });
  c.consumer.flow(10);
  await waitFor(() => c.deliveries.length === 1, 'first delivery');
  core.topics.create = async (name: string) => {
    throw new (await import('../src/errors.js')).StrataError('INVALID_NAME', name);
  };
  c.consumer.nack([0]);
  await waitFor(() => c.deliveries.length === 2, 'delivered again');
  assert.equal(c.deliveries[1]!.message.offset, 0);
});

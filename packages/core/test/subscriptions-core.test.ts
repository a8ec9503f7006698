// Subscriptions on the real core (openCore): dispatch from disk and tail, wake-up on append,
// dead-letter topic creation, cursor persistence across a restart.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Core } from '../src/core.js';
import { isStrataError } from '../src/errors.js';
import { openCore } from '../src/open-core.js';
import { decodeRecordBatch } from '../src/record-batch/index.js';
import type { Delivery } from '../src/subscription/types.js';
import { removeDir, tempDir } from './log-helpers.js';

const TOPIC = 'persistent://public/default/subs-real';

async function waitFor(condition: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

async function produce(core: Core, from: number, count: number, batch = 1): Promise<void> {
  for (let i = from; i < from + count; i += batch) {
    const messages = Array.from({ length: Math.min(batch, from + count - i) }, (_, j) => ({
      key: Buffer.from(`k${(i + j) % 3}`),
      value: Buffer.from(`v${i + j}`),
      headers: [],
      timestamp: 1_000 + i + j,
    }));
    await core.append(TOPIC, 0, { kind: 'messages', messages, compression: batch > 1 ? 'gzip' : 'none' });
  }
}

test('subscriptions on openCore: shared dispatch, tailing, DLQ, restart keeps the cursor', async (t) => {
  const dir = tempDir('strata-subs-core-');
  let core = await openCore({ dataDir: dir });
  t.after(async () => {
    await core.close();
    removeDir(dir);
  });
  await core.topics.create(TOPIC);
  await produce(core, 0, 40, 8);

  const subscription = await core.subscriptions.open(TOPIC, 0, 'workers', { type: 'Shared', initialPosition: 'earliest', maxDeliveries: 2 });
  const received: Delivery[] = [];
  const consumer = subscription.attach({ name: 'w1', onDelivery: (deliveries) => void received.push(...deliveries) });
  consumer.flow(1000);
  await waitFor(() => received.length === 40, 'backlog');
  assert.deepEqual(received.map((d) => d.message.value!.toString()), Array.from({ length: 40 }, (_, i) => `v${i}`));
  await produce(core, 40, 5);
  await waitFor(() => received.length === 45, 'tailing appends');

  // Everything acked except offset 7, which is nacked twice: on to the dead-letter topic.
  consumer.ack(received.map((d) => d.message.offset).filter((offset) => offset !== 7));
  consumer.nack([7]);
  await waitFor(() => received.length === 46, 'redelivery of 7');
  assert.equal(received[45]!.redeliveryCount, 1);
  consumer.nack([7]);
  const dlq = `${TOPIC}-workers-DLQ`;
  await waitFor(() => core.topics.exists(dlq) && core.offsets(dlq, 0).highWatermark === 1, 'dead letter');
  const { entries } = await core.read(dlq, 0, { offset: 0, maxBytes: 1 << 20 });
  assert.equal(decodeRecordBatch(entries[0]!.bytes).messages[0]!.value!.toString(), 'v7');
  await waitFor(() => subscription.state().markDeleteOffset === 45, 'all acked');
  assert.equal(core.subscriptions.slowestOffset(TOPIC, 0), 45);

  await produce(core, 45, 3);
  await waitFor(() => received.length === 49, 'three more');
  consumer.ack([45]);
  await core.close();

  core = await openCore({ dataDir: dir });
  assert.deepEqual(core.subscriptions.list(TOPIC, 0), ['workers']);
  assert.equal(core.subscriptions.slowestOffset(TOPIC, 0), 46);
  const reopened = await core.subscriptions.open(TOPIC, 0, 'workers', { type: 'Shared' });
  const after: Delivery[] = [];
  reopened.attach({ name: 'w2', onDelivery: (deliveries) => void after.push(...deliveries) }).flow(100);
  await waitFor(() => after.length === 2, 'unacked after restart');
  assert.deepEqual(after.map((d) => d.message.offset), [46, 47]);

  await core.topics.delete(TOPIC);
  await waitFor(() => core.subscriptions.list(TOPIC, 0).length === 0, 'subscriptions dropped with the topic');
  await assert.rejects(core.subscriptions.open(TOPIC, 0, 'x', { type: 'Shared' }), (e) => isStrataError(e, 'UNKNOWN_TOPIC'));
});

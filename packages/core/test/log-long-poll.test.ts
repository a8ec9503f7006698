import assert from 'node:assert/strict';
import { test } from 'node:test';
import { openCoreImpl } from '../src/open-core.js';
import { message, removeDir, tempDir, TOPIC } from './log-helpers.js';

test('long-poll read is woken by an append, not by its timeout', async () => {
  const dir = tempDir();
  try {
    const core = await openCoreImpl({ dataDir: dir });
    await core.topics.create(TOPIC, { partitions: 3 });
    const started = Date.now();
    const pending = core.read(TOPIC, 0, { offset: 0, maxBytes: 1 << 20, waitMs: 10_000 });
    setTimeout(() => void core.append(TOPIC, 0, { kind: 'messages', messages: [message('wake')] }), 50);
    const result = await pending;
    assert.equal(result.entries.length, 1);
    assert.ok(Date.now() - started < 5_000, 'woken well before the timeout');

    const empty = await core.read(TOPIC, 0, { offset: 1, maxBytes: 100, waitMs: 30 });
    assert.equal(empty.entries.length, 0);

    const controller = new AbortController();
    const aborted = core.read(TOPIC, 0, { offset: 1, maxBytes: 100, waitMs: 10_000, signal: controller.signal });
    setTimeout(() => controller.abort(), 20);
    assert.equal((await aborted).entries.length, 0);

    const positions = [
      { topic: TOPIC, partition: 1, offset: 0 },
      { topic: TOPIC, partition: 2, offset: 0 },
    ];
    assert.equal(await core.waitForData(positions, 20), false);
    const waiting = core.waitForData(positions, 10_000);
    setTimeout(() => void core.append(TOPIC, 2, { kind: 'messages', messages: [message('x')] }), 30);
    assert.equal(await waiting, true);
    assert.equal(await core.waitForData([{ topic: TOPIC, partition: 0, offset: 0 }], 10_000), true, 'data already there');
    await core.close();
  } finally {
    removeDir(dir);
  }
});

test('onAppend and onTopicEvent listeners', async () => {
  const dir = tempDir();
  try {
    const core = await openCoreImpl({ dataDir: dir });
    const events: string[] = [];
    const offTopic = core.onTopicEvent((event) => events.push(`${event.type}:${event.topic}`));
    const appends: string[] = [];
    const offAppend = core.onAppend((event) => appends.push(`${event.partition}:${event.baseOffset}-${event.lastOffset}`));
    await core.topics.create(TOPIC, { partitions: 1 });
    await core.append(TOPIC, 0, { kind: 'messages', messages: [message('a'), message('b')] });
    await core.topics.setPartitionCount(TOPIC, 2);
    await core.append(TOPIC, 1, { kind: 'messages', messages: [message('c')] });
    await core.topics.updatePolicies(TOPIC, { retentionMs: 1000 });
    await core.topics.delete(TOPIC);
    offTopic();
    offAppend();
    await core.topics.create(TOPIC);
    assert.deepEqual(appends, ['0:0-1', '1:0-0']);
    assert.deepEqual(events, [`created:${TOPIC}`, `partitions:${TOPIC}`, `policies:${TOPIC}`, `deleted:${TOPIC}`]);
    await core.close();
  } finally {
    removeDir(dir);
  }
});

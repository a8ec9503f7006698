import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isStrataError } from '../src/errors.js';
import { openCoreImpl } from '../src/open-core.js';
import { encodeRecordBatch } from '../src/record-batch/index.js';
import { message, removeDir, tempDir, TOPIC } from './log-helpers.js';

function producerBatch(producerId: number, producerEpoch: number, baseSequence: number, count: number): Buffer {
  const messages = Array.from({ length: count }, (_, i) => message(`m${baseSequence + i}`));
  return encodeRecordBatch(messages, { producer: { producerId, producerEpoch, baseSequence } });
}

test('idempotent append: duplicates return the original offsets, gaps and old epochs fail (KIP-98)', async () => {
  const dir = tempDir();
  try {
    let core = await openCoreImpl({ dataDir: dir });
    await core.topics.create(TOPIC);
    const { producerId, producerEpoch } = await core.initProducer();
    const first = await core.append(TOPIC, 0, { kind: 'batches', data: producerBatch(producerId, producerEpoch, 0, 3) });
    assert.deepEqual([first.baseOffset, first.lastOffset, first.duplicate], [0, 2, false]);
    const second = await core.append(TOPIC, 0, { kind: 'batches', data: producerBatch(producerId, producerEpoch, 3, 2) });
    assert.deepEqual([second.baseOffset, second.lastOffset], [3, 4]);
    const repeat = await core.append(TOPIC, 0, { kind: 'batches', data: producerBatch(producerId, producerEpoch, 0, 3) });
    assert.deepEqual([repeat.baseOffset, repeat.lastOffset, repeat.duplicate], [0, 2, true]);
    assert.equal(core.offsets(TOPIC, 0).highWatermark, 5, 'a duplicate stores nothing');
    await assert.rejects(core.append(TOPIC, 0, { kind: 'batches', data: producerBatch(producerId, producerEpoch, 9, 1) }), (error) =>
      isStrataError(error, 'OUT_OF_ORDER_SEQUENCE'),
    );
    // messages input with a producer identity goes through the same checks
    const viaMessages = await core.append(TOPIC, 0, {
      kind: 'messages',
      messages: [message('m5')],
      producer: { producerId, producerEpoch, baseSequence: 5 },
    });
    assert.equal(viaMessages.baseOffset, 5);
    // concurrent duplicates in one group: both answered with the same offsets
    const [a, b] = await Promise.all([
      core.append(TOPIC, 0, { kind: 'batches', data: producerBatch(producerId, producerEpoch, 6, 1) }),
      core.append(TOPIC, 0, { kind: 'batches', data: producerBatch(producerId, producerEpoch, 6, 1) }),
    ]);
    assert.equal(a.baseOffset, 6);
    assert.equal(b.baseOffset, 6);
    assert.equal(a.duplicate !== b.duplicate, true);
    await core.close();

    // Producer state survives a restart (rebuilt from the batch headers).
    core = await openCoreImpl({ dataDir: dir });
    const afterRestart = await core.append(TOPIC, 0, { kind: 'batches', data: producerBatch(producerId, producerEpoch, 3, 2) });
    assert.deepEqual([afterRestart.baseOffset, afterRestart.duplicate], [3, true]);
    const bumped = producerEpoch + 1;
    const fresh = await core.append(TOPIC, 0, { kind: 'batches', data: producerBatch(producerId, bumped, 0, 1) });
    assert.equal(fresh.baseOffset, 7);
    await assert.rejects(core.append(TOPIC, 0, { kind: 'batches', data: producerBatch(producerId, producerEpoch, 7, 1) }), (error) =>
      isStrataError(error, 'FENCED'),
    );
    const next = await core.initProducer();
    assert.notEqual(next.producerId, producerId);
    await core.close();
  } finally {
    removeDir(dir);
  }
});

test('initProducer: ids never repeat across restarts; a transactional id bumps its epoch', async () => {
  const dir = tempDir();
  try {
    let core = await openCoreImpl({ dataDir: dir });
    const ids = new Set<number>();
    for (let i = 0; i < 5; i++) ids.add((await core.initProducer()).producerId);
    const t1 = await core.initProducer('tx-a');
    const t2 = await core.initProducer('tx-a');
    assert.equal(t2.producerId, t1.producerId);
    assert.equal(t2.producerEpoch, t1.producerEpoch + 1);
    await core.close();
    core = await openCoreImpl({ dataDir: dir });
    const after = await core.initProducer();
    assert.equal(ids.has(after.producerId), false);
    assert.equal(after.producerId === t1.producerId, false);
    const t3 = await core.initProducer('tx-a');
    assert.deepEqual(t3, { producerId: t1.producerId, producerEpoch: t1.producerEpoch + 2 });
    await core.close();
  } finally {
    removeDir(dir);
  }
});

test('producer state per partition is bounded: the least recently appending producer is forgotten', async () => {
  const { ProducerStateTable } = await import('../src/log/producer-state.js');
  const table = new ProducerStateTable(5, 2);
  const batch = (producerId: number, baseSequence: number) => ({ producerId, producerEpoch: 0, baseSequence, lastOffsetDelta: 0 });
  table.record(batch(1, 0), 0, 0);
  table.record(batch(2, 0), 1, 1);
  table.record(batch(1, 1), 2, 2); // 1 is now the most recent
  const undo = table.record(batch(3, 0), 3, 3); // evicts 2
  assert.equal(table.size, 2);
  assert.equal(table.check(batch(2, 7)), null, 'producer 2 forgotten: any sequence is accepted');
  assert.throws(() => table.check(batch(1, 7)), (error) => isStrataError(error, 'OUT_OF_ORDER_SEQUENCE'));
  undo();
  assert.throws(() => table.check(batch(2, 7)), (error) => isStrataError(error, 'OUT_OF_ORDER_SEQUENCE'), 'undo restores the evicted one');
});

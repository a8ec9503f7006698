import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { openCoreImpl, type CoreImpl } from '../src/open-core.js';
import { encodeRecordBatch } from '../src/record-batch/index.js';
import { CONTROL_TYPE_ABORT, CONTROL_TYPE_COMMIT, controlTypeOf, encodeTransactionMarker } from '../src/log/transaction-state.js';
import { message, removeDir, reopenAbandoned, tempDir, TOPIC } from './log-helpers.js';

const NO_CHECKPOINT = { tuning: { checkpointIntervalMs: 1e9, journalFileBytesMax: 1 << 30 } };

function partitionDir(dataDir: string): string {
  const logDir = path.join(dataDir, 'log');
  return path.join(logDir, fs.readdirSync(logDir)[0]!, '0');
}


interface Producer {
  readonly producerId: number;
  readonly producerEpoch: number;
  sequence: number;
}

function transactional(producer: Producer, value: string): Buffer {
  const batch = encodeRecordBatch([message(value)], { isTransactional: true, producer: { producerId: producer.producerId, producerEpoch: producer.producerEpoch, baseSequence: producer.sequence } });
  producer.sequence++;
  return batch;
}

function marker(producer: Producer, type: number): Buffer {
  return encodeTransactionMarker(producer.producerId, producer.producerEpoch, type, 0, Date.now());
}

/**
 * offsets: 0 A data, 1 plain, 2 B data, 3 A abort, 4 B data, 5 B commit, 6 A data (open), 7 plain.
 * With three entries per segment: [0-2] [3-5] [6-7].
 */
async function writeTransactions(core: CoreImpl): Promise<{ a: Producer; b: Producer }> {
  const a: Producer = { ...(await core.initProducer('txn-a')), sequence: 0 };
  const b: Producer = { ...(await core.initProducer('txn-b')), sequence: 0 };
  const append = async (data: Buffer, expected: number): Promise<void> => {
    const result = await core.append(TOPIC, 0, { kind: 'batches', data });
    assert.equal(result.baseOffset, expected);
  };
  await append(transactional(a, 'a0'), 0);
  assert.equal(core.offsets(TOPIC, 0).lastStableOffset, 0, 'an open transaction holds the last stable offset at its first offset');
  await append(encodeRecordBatch([message('plain1')]), 1);
  await append(transactional(b, 'b2'), 2);
  assert.deepEqual(core.offsets(TOPIC, 0), { logStartOffset: 0, highWatermark: 3, lastStableOffset: 0 });
  await append(marker(a, CONTROL_TYPE_ABORT), 3);
  assert.equal(core.offsets(TOPIC, 0).lastStableOffset, 2, 'A ended: B is the oldest open transaction');
  await append(transactional(b, 'b4'), 4);
  await append(marker(b, CONTROL_TYPE_COMMIT), 5);
  assert.equal(core.offsets(TOPIC, 0).lastStableOffset, 6, 'nothing open: the high watermark');
  await append(transactional(a, 'a6'), 6);
  await append(encodeRecordBatch([message('plain7')]), 7);
  return { a, b };
}

function checkState(core: CoreImpl, a: Producer, label: string): void {
  assert.deepEqual(core.offsets(TOPIC, 0), { logStartOffset: 0, highWatermark: 8, lastStableOffset: 6 }, label);
  const abortedA = { producerId: a.producerId, firstOffset: 0, lastOffset: 3 };
  assert.deepEqual(core.abortedTransactions(TOPIC, 0, 0, 7), [abortedA], `${label}: the abort`);
  assert.deepEqual(core.abortedTransactions(TOPIC, 0, 3, 3), [abortedA], `${label}: a read of the marker alone`);
  assert.deepEqual(core.abortedTransactions(TOPIC, 0, 4, 7), [], `${label}: reads past the marker need not know`);
}

test('transactions: last stable offset and aborted transactions, through index files, scans and a journal replay', async () => {
  const dir = tempDir();
  try {
    let core = await openCoreImpl({ dataDir: dir });
    await core.topics.create(TOPIC, { overrides: { segmentEntriesMax: 3 } });
    const { a } = await writeTransactions(core);
    checkState(core, a, 'live');
    await core.close();
    const idx = fs.readdirSync(partitionDir(dir)).filter((name) => name.endsWith('.idx'));
    assert.equal(idx.length, 2, 'both sealed segments have index files');

    core = await openCoreImpl({ dataDir: dir });
    assert.equal(core.log.getLog(TOPIC, 0).segments.filter((s) => s.summarized).length, 2, 'recovery took the index files');
    checkState(core, a, 'from index files');
    await core.close();

    for (const name of idx) fs.rmSync(path.join(partitionDir(dir), name));
    core = await openCoreImpl({ dataDir: dir });
    checkState(core, a, 'by scanning every segment');
    await core.close();
  } finally {
    removeDir(dir);
  }

  const crashDir = tempDir();
  try {
    let core = await openCoreImpl({ dataDir: crashDir }, NO_CHECKPOINT);
    await core.topics.create(TOPIC, { overrides: { segmentEntriesMax: 3 } });
    const { a } = await writeTransactions(core);
    core = await reopenAbandoned(core, crashDir); // everything was in the journal only
    checkState(core, a, 'after a journal replay');
    await core.close();
  } finally {
    removeDir(crashDir);
  }
});

test('transactions: a partition that never saw one keeps last stable offset = high watermark and no state', async () => {
  const dir = tempDir();
  try {
    const core = await openCoreImpl({ dataDir: dir });
    await core.topics.create(TOPIC);
    await core.append(TOPIC, 0, { kind: 'messages', messages: [message('x'), message('y')] });
    assert.deepEqual(core.offsets(TOPIC, 0), { logStartOffset: 0, highWatermark: 2, lastStableOffset: 2 });
    assert.deepEqual(core.abortedTransactions(TOPIC, 0, 0, 1), []);
    assert.equal(core.log.getLog(TOPIC, 0).transactions, null);
    // A marker with no open transaction (a retried EndTxn) changes nothing.
    await core.append(TOPIC, 0, { kind: 'batches', data: encodeTransactionMarker(7, 0, CONTROL_TYPE_ABORT, 0, Date.now()) });
    assert.deepEqual(core.abortedTransactions(TOPIC, 0, 0, 2), []);
    assert.equal(core.offsets(TOPIC, 0).lastStableOffset, 3);
    await core.close();
  } finally {
    removeDir(dir);
  }
});

test('controlTypeOf reads markers and refuses anything else, including truncated batches', () => {
  assert.equal(controlTypeOf(encodeTransactionMarker(1, 0, CONTROL_TYPE_COMMIT, 5, 0)), CONTROL_TYPE_COMMIT);
  assert.equal(controlTypeOf(encodeTransactionMarker(1, 0, CONTROL_TYPE_ABORT, 5, 0)), CONTROL_TYPE_ABORT);
  assert.equal(controlTypeOf(encodeRecordBatch([message('not a marker')])), -1);
  const full = encodeTransactionMarker(1, 0, CONTROL_TYPE_ABORT, 5, 0);
  for (let length = 0; length < full.length; length++) {
    const type = controlTypeOf(full.subarray(0, length));
    assert.ok(type === -1 || type === CONTROL_TYPE_ABORT, `truncated to ${length}`);
  }
});

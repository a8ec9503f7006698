import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { openCoreImpl } from '../src/open-core.js';
import { decodeRecordBatch, encodeRecordBatch } from '../src/record-batch/index.js';
import { message, removeDir, tempDir, TOPIC } from './log-helpers.js';

function partitionDir(dataDir: string): string {
  const logDir = path.join(dataDir, 'log');
  return path.join(logDir, fs.readdirSync(logDir)[0]!, '0');
}

test('sealed segments get index files; recovery uses them, or scans when they do not fit', async () => {
  const dir = tempDir();
  try {
    let core = await openCoreImpl({ dataDir: dir });
    await core.topics.create(TOPIC, { overrides: { segmentEntriesMax: 10 } });
    const { producerId, producerEpoch } = await core.initProducer();
    const batchOf = (sequence: number) =>
      encodeRecordBatch([message(`m${sequence}`, { timestamp: 1_000 + sequence })], { producer: { producerId, producerEpoch, baseSequence: sequence } });
    for (let i = 0; i < 45; i++) await core.append(TOPIC, 0, { kind: 'batches', data: batchOf(i) });
    await core.close();
    const names = fs.readdirSync(partitionDir(dir)).sort();
    assert.deepEqual(names.filter((name) => name.endsWith('.idx')).length, 4, `an index file per sealed segment: ${names.join(' ')}`);
    assert.equal(names.filter((name) => name.endsWith('.log')).length, 5);

    const check = async (label: string): Promise<void> => {
      core = await openCoreImpl({ dataDir: dir });
      assert.equal(core.offsets(TOPIC, 0).highWatermark, 45, label);
      const read = await core.read(TOPIC, 0, { offset: 0, maxBytes: 1 << 20 });
      const values = read.entries.flatMap((entry) => decodeRecordBatch(entry.bytes).messages.map((m) => m.value!.toString()));
      assert.deepEqual(values, Array.from({ length: 45 }, (_, i) => `m${i}`), label);
      for (const offset of [0, 9, 10, 25, 44]) {
        const one = await core.read(TOPIC, 0, { offset, maxBytes: 1, maxEntries: 1 });
        assert.equal(one.entries[0]!.baseOffset, offset, `${label}: index lookup of ${offset}`);
      }
      assert.deepEqual(await core.offsetForTimestamp(TOPIC, 0, 1_017), { offset: 17, timestamp: 1_017 }, label);
      assert.deepEqual(await core.offsetOfMaxTimestamp(TOPIC, 0), { offset: 44, timestamp: 1_044 }, `${label}: max timestamp (KIP-734)`);
      // The producer's last batches: 40-44 in the active segment, duplicates still detected.
      const repeat = await core.append(TOPIC, 0, { kind: 'batches', data: batchOf(44) });
      assert.deepEqual([repeat.baseOffset, repeat.duplicate], [44, true], label);
      await core.close();
    };
    await check('with index files');

    // A torn index file and one that no longer fits its segment: both scanned instead.
    const files = fs.readdirSync(partitionDir(dir)).filter((name) => name.endsWith('.idx')).sort();
    const torn = path.join(partitionDir(dir), files[0]!);
    fs.writeFileSync(torn, fs.readFileSync(torn).subarray(0, 30));
    const other = path.join(partitionDir(dir), files[2]!);
    const data = fs.readFileSync(other);
    data[70] ^= 0xff;
    fs.writeFileSync(other, data);
    await check('with damaged index files');
  } finally {
    removeDir(dir);
  }
});

test('producer state of sealed segments comes back from their index files', async () => {
  const dir = tempDir();
  try {
    let core = await openCoreImpl({ dataDir: dir });
    await core.topics.create(TOPIC, { overrides: { segmentEntriesMax: 3 } });
    const first = await core.initProducer();
    const second = await core.initProducer();
    const batch = (id: { producerId: number; producerEpoch: number }, sequence: number) =>
      encodeRecordBatch([message(`x${sequence}`)], { producer: { ...id, baseSequence: sequence } });
    // The first producer's batches end up in a sealed segment; then the second fills more segments.
    for (let i = 0; i < 3; i++) await core.append(TOPIC, 0, { kind: 'batches', data: batch(first, i) });
    for (let i = 0; i < 7; i++) await core.append(TOPIC, 0, { kind: 'batches', data: batch(second, i) });
    await core.close();
    core = await openCoreImpl({ dataDir: dir });
    const repeat = await core.append(TOPIC, 0, { kind: 'batches', data: batch(first, 2) });
    assert.deepEqual([repeat.baseOffset, repeat.duplicate], [2, true]);
    const next = await core.append(TOPIC, 0, { kind: 'batches', data: batch(first, 3) });
    assert.equal(next.duplicate, false);
    await core.close();
  } finally {
    removeDir(dir);
  }
});

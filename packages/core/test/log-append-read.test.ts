import assert from 'node:assert/strict';
import { test } from 'node:test';
import { openCoreImpl } from '../src/open-core.js';
import { decodeRecordBatch, encodeRecordBatch } from '../src/record-batch/index.js';
import { isStrataError } from '../src/errors.js';
import { message, removeDir, tempDir, TOPIC } from './log-helpers.js';

test('append messages and read them back, across a restart', async () => {
  const dir = tempDir();
  try {
    let core = await openCoreImpl({ dataDir: dir });
    await core.topics.create(TOPIC, { partitions: 2 });
    const first = await core.append(TOPIC, 0, { kind: 'messages', messages: [message('a', { key: 'k1' }), message('b')] });
    assert.equal(first.baseOffset, 0);
    assert.equal(first.lastOffset, 1);
    assert.equal(first.duplicate, false);
    const second = await core.append(TOPIC, 0, { kind: 'messages', messages: [message('c')] });
    assert.equal(second.baseOffset, 2);
    const other = await core.append(TOPIC, 1, { kind: 'messages', messages: [message('x')] });
    assert.equal(other.baseOffset, 0);
    assert.deepEqual(core.offsets(TOPIC, 0), { logStartOffset: 0, highWatermark: 3, lastStableOffset: 3 });

    const read = await core.read(TOPIC, 0, { offset: 1, maxBytes: 1 << 20 });
    assert.equal(read.entries.length, 2);
    assert.equal(read.entries[0]!.baseOffset, 0); // the entry containing offset 1
    const values = read.entries.flatMap((entry) => decodeRecordBatch(entry.bytes).messages.map((m) => m.value!.toString()));
    assert.deepEqual(values, ['a', 'b', 'c']);
    await core.close();

    core = await openCoreImpl({ dataDir: dir });
    assert.deepEqual(core.topics.list(), [TOPIC]);
    assert.equal(core.topics.describe(TOPIC).partitions, 2);
    assert.equal(core.offsets(TOPIC, 0).highWatermark, 3);
    const again = await core.read(TOPIC, 0, { offset: 0, maxBytes: 1 << 20 });
    assert.deepEqual(
      again.entries.flatMap((entry) => decodeRecordBatch(entry.bytes).messages.map((m) => [m.offset, m.value!.toString()])),
      [[0, 'a'], [1, 'b'], [2, 'c']],
    );
    const next = await core.append(TOPIC, 0, { kind: 'messages', messages: [message('d')] });
    assert.equal(next.baseOffset, 3);
    await core.close();
    await core.close(); // idempotent
  } finally {
    removeDir(dir);
  }
});

test('batches given with transfer are kept without a copy: the base offset is patched in the given buffer', async () => {
  const dir = tempDir();
  try {
    let core = await openCoreImpl({ dataDir: dir });
    await core.topics.create(TOPIC);
    await core.append(TOPIC, 0, { kind: 'messages', messages: [message('zero')] });
    const given = Buffer.concat([encodeRecordBatch([message('p'), message('q')], { baseOffset: 777 }), encodeRecordBatch([message('r')])]);
    const result = await core.append(TOPIC, 0, { kind: 'batches', data: given, transfer: true });
    assert.equal(result.baseOffset, 1);
    assert.equal(given.readBigInt64BE(0), 1n, 'the core patched the buffer it was given');
    const read = await core.read(TOPIC, 0, { offset: 1, maxBytes: 1 << 20 });
    assert.equal(read.entries.length, 2);
    assert.equal(read.entries[0]!.bytes.buffer, given.buffer, 'the tail cache holds the given memory, not a copy');
    const corrupt = Buffer.from(given);
    corrupt[corrupt.length - 1] ^= 0xff;
    await assert.rejects(core.append(TOPIC, 0, { kind: 'batches', data: corrupt, transfer: true }), (error) => isStrataError(error, 'CORRUPT_BATCH'));
    await core.close();
    core = await openCoreImpl({ dataDir: dir });
    const values = (await core.read(TOPIC, 0, { offset: 0, maxBytes: 1 << 20 })).entries.flatMap((entry) => decodeRecordBatch(entry.bytes).messages.map((m) => m.value!.toString()));
    assert.deepEqual(values, ['zero', 'p', 'q', 'r']);
    await core.close();
  } finally {
    removeDir(dir);
  }
});

test('batches are stored byte for byte with only the base offset patched', async () => {
  const dir = tempDir();
  try {
    const core = await openCoreImpl({ dataDir: dir });
    await core.topics.create(TOPIC);
    await core.append(TOPIC, 0, { kind: 'messages', messages: [message('zero')] });
    const batchA = encodeRecordBatch([message('p', { timestamp: 1000 }), message('q', { timestamp: 1001 })], { baseOffset: 777 });
    const batchB = encodeRecordBatch([message('r', { timestamp: 1002 })], { compression: 'gzip' });
    const input = Buffer.concat([batchA, batchB]);
    const snapshot = Buffer.from(input);
    const result = await core.append(TOPIC, 0, { kind: 'batches', data: input });
    assert.equal(result.baseOffset, 1);
    assert.equal(result.lastOffset, 3);
    assert.deepEqual(input, snapshot, 'the caller buffer is not modified');
    const read = await core.read(TOPIC, 0, { offset: 1, maxBytes: 1 << 20 });
    assert.equal(read.entries.length, 2);
    assert.deepEqual(read.entries[0]!.bytes.subarray(8), batchA.subarray(8));
    assert.equal(read.entries[0]!.bytes.readBigInt64BE(0), 1n);
    assert.deepEqual(read.entries[1]!.bytes.subarray(8), batchB.subarray(8));
    assert.equal(read.entries[1]!.baseOffset, 3);

    const corrupt = Buffer.from(batchA);
    corrupt[corrupt.length - 1] ^= 0xff;
    await assert.rejects(core.append(TOPIC, 0, { kind: 'batches', data: corrupt }), (error) => isStrataError(error, 'CORRUPT_BATCH'));
    await assert.rejects(core.append(TOPIC, 0, { kind: 'batches', data: batchA.subarray(0, 40) }), (error) => isStrataError(error, 'CORRUPT_BATCH'));
    await assert.rejects(core.append(TOPIC, 0, { kind: 'batches', data: Buffer.alloc(0) }), (error) => isStrataError(error, 'CORRUPT_BATCH'));
    assert.equal(core.offsets(TOPIC, 0).highWatermark, 4);
    await core.close();
  } finally {
    removeDir(dir);
  }
});

test('reads are bounded by bytes and entries, at least one entry, and range-checked', async () => {
  const dir = tempDir();
  try {
    const core = await openCoreImpl({ dataDir: dir });
    await core.topics.create(TOPIC);
    for (let i = 0; i < 20; i++) await core.append(TOPIC, 0, { kind: 'messages', messages: [message(Buffer.alloc(100, i))] });
    const one = await core.read(TOPIC, 0, { offset: 5, maxBytes: 1 });
    assert.equal(one.entries.length, 1);
    assert.equal(one.entries[0]!.baseOffset, 5);
    const three = await core.read(TOPIC, 0, { offset: 5, maxBytes: 1 << 20, maxEntries: 3 });
    assert.deepEqual(three.entries.map((e) => e.baseOffset), [5, 6, 7]);
    const size = three.entries[0]!.bytes.length;
    const byBytes = await core.read(TOPIC, 0, { offset: 0, maxBytes: size * 4 + 1 });
    assert.equal(byBytes.entries.length, 4);
    const atEnd = await core.read(TOPIC, 0, { offset: 20, maxBytes: 1000 });
    assert.equal(atEnd.entries.length, 0);
    assert.equal(atEnd.highWatermark, 20);
    await assert.rejects(core.read(TOPIC, 0, { offset: 21, maxBytes: 1000 }), (error) => isStrataError(error, 'OFFSET_OUT_OF_RANGE'));
    await assert.rejects(core.read(TOPIC, 0, { offset: -1, maxBytes: 1000 }), (error) => isStrataError(error, 'OFFSET_OUT_OF_RANGE'));
    await assert.rejects(core.read(TOPIC, 5, { offset: 0, maxBytes: 1000 }), (error) => isStrataError(error, 'UNKNOWN_PARTITION'));
    await assert.rejects(core.append('persistent://public/default/nope', 0, { kind: 'messages', messages: [message('x')] }), (error) =>
      isStrataError(error, 'UNKNOWN_TOPIC'),
    );
    // Disk path (catch-up) gives the same bytes as the tail cache.
    core.log.tailCache.drop(core.log.getLog(TOPIC, 0).tail);
    const fromDisk = await core.read(TOPIC, 0, { offset: 5, maxBytes: 1 << 20, maxEntries: 3 });
    assert.deepEqual(fromDisk.entries.map((e) => e.bytes), three.entries.map((e) => e.bytes));
    await core.close();
  } finally {
    removeDir(dir);
  }
});

test('offsetOfMaxTimestamp: the first record with the largest timestamp, wherever it lies; null when empty', async () => {
  const dir = tempDir();
  try {
    const core = await openCoreImpl({ dataDir: dir });
    await core.topics.create(TOPIC, { overrides: { segmentEntriesMax: 2 } });
    assert.equal(await core.offsetOfMaxTimestamp(TOPIC, 0), null);
    for (const timestamp of [5, 9, 3, 9, 1]) await core.append(TOPIC, 0, { kind: 'messages', messages: [message(`t${timestamp}`, { timestamp })] });
    assert.deepEqual(await core.offsetOfMaxTimestamp(TOPIC, 0), { offset: 1, timestamp: 9 });
    await core.close();
  } finally {
    removeDir(dir);
  }
});

test('empty batches (left by compaction) do not count for "at least one entry": the read goes on to the first batch with records', async () => {
  const dir = tempDir();
  try {
    const core = await openCoreImpl({ dataDir: dir });
    await core.topics.create(TOPIC);
    const empty = () => encodeRecordBatch([], { lastOffsetDelta: 0 });
    await core.append(TOPIC, 0, { kind: 'batches', data: empty() });
    await core.append(TOPIC, 0, { kind: 'batches', data: empty() });
    await core.append(TOPIC, 0, { kind: 'messages', messages: [message(Buffer.alloc(5000, 1))] });
    await core.append(TOPIC, 0, { kind: 'messages', messages: [message(Buffer.alloc(10, 2))] });
    const check = async (label: string) => {
      const result = await core.read(TOPIC, 0, { offset: 0, maxBytes: 100 });
      assert.deepEqual(result.entries.map((e) => e.baseOffset), [0, 1, 2], `${label}: both empty batches and the 5 KB batch after them, nothing more`);
      const bounded = await core.read(TOPIC, 0, { offset: 0, maxBytes: 100, maxEntries: 1 });
      assert.deepEqual(bounded.entries.map((e) => e.baseOffset), [0], `${label}: maxEntries stays a hard limit`);
      const plain = await core.read(TOPIC, 0, { offset: 2, maxBytes: 100 });
      assert.deepEqual(plain.entries.map((e) => e.baseOffset), [2], `${label}: past the first batch with records, maxBytes applies as before`);
    };
    await check('tail cache');
    core.log.tailCache.drop(core.log.getLog(TOPIC, 0).tail);
    await check('disk');
    await core.close();
  } finally {
    removeDir(dir);
  }
});

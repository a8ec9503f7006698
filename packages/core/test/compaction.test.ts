import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CompactionKeyIndex, compactBatches } from '../src/compaction/compact-batches.js';
import type { Message } from '../src/message.js';
import { decodeRecordBatch, encodeRecordBatch, readBatchHeader, verifyBatchCrc } from '../src/record-batch/index.js';
import type { CompressionType } from '../src/core.js';

const HOUR_MS = 3_600_000;

function msg(key: string | null, value: string | null, timestamp = 1000): Message {
  return { key: key === null ? null : Buffer.from(key), value: value === null ? null : Buffer.from(value), headers: [], timestamp };
}

/** Batches with dense offsets from 0, as a segment holds them. */
function segment(batches: Message[][], compression: CompressionType = 'none', producerId = -1): Buffer[] {
  let offset = 0;
  let sequence = 0;
  return batches.map((messages) => {
    const producer = producerId === -1 ? undefined : { producerId, producerEpoch: 0, baseSequence: sequence };
    const batch = encodeRecordBatch(messages, { baseOffset: offset, compression, ...(producer ? { producer } : {}) });
    offset += messages.length;
    sequence += messages.length;
    return batch;
  });
}

function view(batches: readonly Buffer[]) {
  return batches.flatMap((b) => decodeRecordBatch(b).messages.map((m) => [m.offset, m.key?.toString() ?? null, m.value?.toString() ?? null]));
}

function coverage(batches: readonly Buffer[]): [number, number][] {
  return batches.map((b) => {
    const h = readBatchHeader(b);
    return [h.baseOffset, h.baseOffset + h.lastOffsetDelta];
  });
}

function indexOf(...parts: Buffer[][]): CompactionKeyIndex {
  const index = new CompactionKeyIndex();
  for (const part of parts) for (const batch of part) index.addBatch(batch);
  return index;
}

test('latest value per key wins; offsets and offset coverage are preserved', () => {
  for (const compression of ['none', 'zstd'] as const) {
    const input = segment([[msg('a', '1'), msg('b', '1')], [msg('a', '2'), msg('c', '1')], [msg('b', '2')], [msg(null, 'keyless')]], compression);
    const result = compactBatches(input, indexOf(input), { nowMs: 2000 });
    assert.equal(result.changed, true);
    assert.equal(result.removedMessages, 2);
    assert.deepEqual(view(result.batches), [[2, 'a', '2'], [3, 'c', '1'], [4, 'b', '2'], [5, null, 'keyless']]);
    // Same first and last offset, contiguous batches: readers and recovery see dense ranges.
    const ranges = coverage(result.batches);
    assert.equal(ranges[0]![0], 0);
    assert.equal(ranges[ranges.length - 1]![1], 5);
    for (let i = 1; i < ranges.length; i++) assert.equal(ranges[i]![0], ranges[i - 1]![1] + 1);
    for (const batch of result.batches) assert.ok(verifyBatchCrc(batch));
    assert.equal(readBatchHeader(result.batches[0]!).compression, compression);
  }
});

test('later records outside the compacted range supersede (the active segment is indexed, not rewritten)', () => {
  const sealed = segment([[msg('a', '1')], [msg('b', '1')]]);
  const active = [encodeRecordBatch([msg('a', '2')], { baseOffset: 2 })];
  const result = compactBatches(sealed, indexOf(sealed, active), { nowMs: 2000 });
  assert.deepEqual(view(result.batches), [[1, 'b', '1']]);
  assert.deepEqual(coverage(result.batches), [[0, 1]]); // the emptied batch is absorbed by the next one
});

test('untouched batches pass through byte for byte; nothing to do means unchanged', () => {
  const input = segment([[msg('a', '1')], [msg('b', '1')]]);
  const result = compactBatches(input, indexOf(input), { nowMs: 0 });
  assert.equal(result.changed, false);
  assert.equal(result.batches[0], input[0]);
  const mixed = segment([[msg('a', '1')], [msg('a', '2')], [msg('c', '1')]]);
  const compacted = compactBatches(mixed, indexOf(mixed), { nowMs: 0 });
  assert.equal(compacted.batches[compacted.batches.length - 1], mixed[2]);
});

test('tombstones delete their key and are dropped only after the tombstone retention', () => {
  const input = segment([[msg('a', '1'), msg('b', '1')], [msg('a', null, 10_000)]]);
  const fresh = compactBatches(input, indexOf(input), { nowMs: 10_000 + HOUR_MS, tombstoneRetentionMs: 2 * HOUR_MS });
  assert.deepEqual(view(fresh.batches), [[1, 'b', '1'], [2, 'a', null]]);
  const old = compactBatches(input, indexOf(input), { nowMs: 10_000 + 3 * HOUR_MS, tombstoneRetentionMs: 2 * HOUR_MS });
  assert.deepEqual(view(old.batches), [[1, 'b', '1']]);
  assert.deepEqual(coverage(old.batches), [[0, 2]]);
});

test('a fully superseded run shrinks to one empty batch; merging respects the size bound', () => {
  const input = segment(Array.from({ length: 50 }, (_, i) => [msg('hot', `v${i}`)]));
  const result = compactBatches(input, indexOf(input), { nowMs: 0 });
  assert.equal(result.removedMessages, 49);
  assert.deepEqual(coverage(result.batches), [[0, 49]]); // 49 emptied batches absorbed by the last one
  assert.deepEqual(view(result.batches), [[49, 'hot', 'v49']]);
  const big = segment(Array.from({ length: 10 }, (_, i) => [msg(`k${i}`, 'x'.repeat(1000)), msg(`k${i}`, 'y'.repeat(1000))]));
  const bounded = compactBatches(big, indexOf(big), { nowMs: 0, mergedBatchBytesMax: 3000 });
  assert.ok(bounded.batches.length >= 4, `split into ${bounded.batches.length}`);
  assert.equal(view(bounded.batches).length, 10);
});

test('idempotent producer batches merge only with contiguous sequences; control batches pass through', () => {
  const input = segment([[msg('a', '1'), msg('b', '1')], [msg('a', '2'), msg('c', '1')], [msg('b', '2'), msg('c', '2')], [msg('d', '1')]], 'none', 7);
  const result = compactBatches(input, indexOf(input), { nowMs: 0 });
  assert.deepEqual(coverage(result.batches), [[0, 3], [4, 5], [6, 6]]);
  const header = readBatchHeader(result.batches[0]!);
  assert.equal(header.producerId, 7);
  assert.equal(header.baseSequence, 0);
  assert.deepEqual(view(result.batches).slice(0, 1), [[2, 'a', '2']]);
  // A sequence gap (another epoch's batches, say) keeps the batches apart.
  const gap = [
    encodeRecordBatch([msg('x', '1'), msg('y', '1')], { baseOffset: 0, producer: { producerId: 7, producerEpoch: 0, baseSequence: 0 } }),
    encodeRecordBatch([msg('x', '2'), msg('z', '1')], { baseOffset: 2, producer: { producerId: 7, producerEpoch: 0, baseSequence: 10 } }),
    encodeRecordBatch([msg('z', '2')], { baseOffset: 4 }),
  ];
  const apart = compactBatches(gap, indexOf(gap), { nowMs: 0 });
  assert.deepEqual(coverage(apart.batches), [[0, 1], [2, 3], [4, 4]]);
  const control = encodeRecordBatch([msg('ctl', 'x')], { baseOffset: 2, isControl: true });
  const withControl = [...segment([[msg('a', '1')], [msg('a', '2')]]), control];
  const out = compactBatches(withControl, indexOf(withControl), { nowMs: 0 });
  assert.equal(out.batches[out.batches.length - 1], control);
});

test('a full key index only removes less, never wrongly', () => {
  const input = segment([[msg('a', '1'), msg('b', '1'), msg('c', '1')], [msg('a', '2'), msg('b', '2'), msg('c', '2')]]);
  const index = new CompactionKeyIndex(2);
  for (const batch of input) index.addBatch(batch);
  assert.equal(index.full, true);
  const result = compactBatches(input, index, { nowMs: 0 });
  assert.deepEqual(view(result.batches), [[2, 'c', '1'], [3, 'a', '2'], [4, 'b', '2'], [5, 'c', '2']]);
});

test('model check: random segments compact to exactly the latest value per key', () => {
  let seed = 7;
  const random = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
  for (let round = 0; round < 50; round++) {
    const batches: Message[][] = Array.from({ length: 1 + Math.floor(random() * 10) }, () =>
      Array.from({ length: 1 + Math.floor(random() * 5) }, () => msg(`k${Math.floor(random() * 6)}`, random() < 0.2 ? null : `v${Math.floor(random() * 100)}`)),
    );
    const input = segment(batches, random() < 0.5 ? 'none' : 'lz4');
    const all = view(input);
    const latest = new Map<string, (typeof all)[number]>();
    for (const record of all) latest.set(record[1] as string, record);
    const expected = [...latest.values()].filter((r) => r[2] !== null).sort((x, y) => (x[0] as number) - (y[0] as number));
    const result = compactBatches(input, indexOf(input), { nowMs: 1e12, tombstoneRetentionMs: 0 });
    assert.deepEqual(view(result.batches), expected);
    const ranges = coverage(result.batches);
    assert.equal(ranges[0]![0], 0);
    assert.equal(ranges[ranges.length - 1]![1], all.length - 1);
  }
});

test('no empty batch is left where a following batch can absorb it', () => {
  let seed = 11;
  const random = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
  for (let round = 0; round < 30; round++) {
    const batches: Message[][] = Array.from({ length: 2 + Math.floor(random() * 10) }, () =>
      Array.from({ length: 1 + Math.floor(random() * 3) }, () => msg(`k${Math.floor(random() * 3)}`, 'v')),
    );
    const input = segment(batches);
    const result = compactBatches(input, indexOf(input), { nowMs: 0 });
    // The last input batch always keeps its records (it holds the latest of its keys), so every
    // emptied run has a follower to merge into.
    for (const batch of result.batches) assert.ok(readBatchHeader(batch).recordCount > 0, `round ${round}: empty batch left`);
  }
});

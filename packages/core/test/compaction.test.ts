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

test('transactions: aborted and undecided records never supersede; aborted batches are emptied; committed ones compact and stay transactional', () => {
  const COMMITTER = 11;
  const ABORTER = 12;
  const txn = (producerId: number, baseOffset: number, baseSequence: number, messages: Message[]) =>
    encodeRecordBatch(messages, { baseOffset, isTransactional: true, producer: { producerId, producerEpoch: 3, baseSequence } });
  const marker = (producerId: number, offset: number, type: number) =>
    encodeRecordBatch([{ key: Buffer.from([0, 0, 0, type]), value: Buffer.from([0, 0, 0, 0, 0, 0]), headers: [], timestamp: 1000 }], {
      baseOffset: offset,
      isControl: true,
      isTransactional: true,
      producer: { producerId, producerEpoch: 3, baseSequence: -1 },
    });
  // 0-1 plain a=1 b=1 | 2-3 committed txn a=2 c=1 | 4 aborted txn b=X | 5 commit marker | 6 abort marker
  // | 7 plain c=2 | 8 (past the stable offset: an open transaction) a=OPEN
  const input = [
    encodeRecordBatch([msg('a', '1'), msg('b', '1')], { baseOffset: 0 }),
    txn(COMMITTER, 2, 0, [msg('a', '2'), msg('c', '1')]),
    txn(ABORTER, 4, 0, [msg('b', 'X')]),
    marker(COMMITTER, 5, 1),
    marker(ABORTER, 6, 0),
    encodeRecordBatch([msg('c', '2')], { baseOffset: 7 }),
  ];
  const open = txn(13, 8, 0, [msg('a', 'OPEN')]);
  const transactions = { aborted: [{ producerId: ABORTER, firstOffset: 4, lastOffset: 6 }], stableOffset: 8 };
  const index = new CompactionKeyIndex(undefined, transactions);
  for (const batch of [...input, open]) index.addBatch(batch);
  // b's latest is the plain b=1 (the aborted b=X does not count); a's is the committed a=2 (not the open a=OPEN).
  assert.equal(index.latestOffset(Buffer.from('b')), 1);
  assert.equal(index.latestOffset(Buffer.from('a')), 2);
  assert.equal(index.latestOffset(Buffer.from('c')), 7);

  const result = compactBatches(input, index, { nowMs: 2000, transactions });
  const records = view(result.batches).filter(([offset]) => offset !== 5 && offset !== 6);
  assert.deepEqual(records, [[1, 'b', '1'], [2, 'a', '2'], [7, 'c', '2']], 'c=1 superseded, the aborted b=X gone, b=1 kept');
  assert.deepEqual(coverage(result.batches), [[0, 1], [2, 3], [4, 4], [5, 5], [6, 6], [7, 7]], 'offsets stay dense batch to batch');
  const headers = result.batches.map((batch) => readBatchHeader(batch));
  // The committed batch keeps its transaction: same producer, epoch, sequence, transactional flag.
  assert.deepEqual([headers[1]!.isTransactional, headers[1]!.producerId, headers[1]!.producerEpoch, headers[1]!.baseSequence], [true, COMMITTER, 3, 0]);
  // The aborted batch is empty but keeps its place in the transaction (a scan rebuilds the same state).
  assert.deepEqual([headers[2]!.isTransactional, headers[2]!.producerId, headers[2]!.recordCount], [true, ABORTER, 0]);
  // Markers are kept byte for byte; plain batches never merge with transactional ones.
  assert.equal(result.batches[3], input[3]);
  assert.equal(result.batches[4], input[4]);
  assert.equal(headers[0]!.isTransactional, false);
  for (const batch of result.batches) assert.ok(verifyBatchCrc(batch));
  // A batch reaching the stable offset is never compacted.
  assert.throws(() => compactBatches([open], index, { nowMs: 2000, transactions }), /last stable offset/);
});

/** Transaction state as a scan rebuilds it from batch headers (PartitionTransactions.apply). */
function scannedTransactions(batches: readonly Buffer[]): string[] {
  const open = new Map<number, number>();
  const ended: string[] = [];
  for (const batch of batches) {
    const header = readBatchHeader(batch);
    if (!header.isTransactional) continue;
    if (!header.isControl) {
      if (!open.has(header.producerId)) open.set(header.producerId, header.baseOffset);
      continue;
    }
    const first = open.get(header.producerId);
    if (first === undefined) continue;
    open.delete(header.producerId);
    ended.push(`${header.producerId}:${first}-${header.baseOffset}:${decodeRecordBatch(batch).messages[0]!.key![3]}`);
  }
  return [...ended, ...[...open].map(([producer, first]) => `${producer}:${first} open`)];
}

test('model check: random transactional segments keep exactly the latest decided value per key and the same transaction state', () => {
  let seed = 23;
  const random = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
  const records = (count: number) => Array.from({ length: count }, () => msg(`k${Math.floor(random() * 5)}`, `v${Math.floor(random() * 1000)}`));
  for (let round = 0; round < 60; round++) {
    const batches: Buffer[] = [];
    const open = new Map<number, number>();
    const sequences = new Map<number, number>();
    const aborted: { producerId: number; firstOffset: number; lastOffset: number }[] = [];
    let offset = 0;
    const push = (batch: Buffer) => {
      batches.push(batch);
      offset += readBatchHeader(batch).lastOffsetDelta + 1;
    };
    const end = (producerId: number, abort: boolean) => {
      const type = abort ? 0 : 1;
      push(encodeRecordBatch([{ key: Buffer.from([0, 0, 0, type]), value: Buffer.from([0, 0, 0, 0, 0, 0]), headers: [], timestamp: 1000 }], {
        baseOffset: offset, isControl: true, isTransactional: true, producer: { producerId, producerEpoch: 0, baseSequence: -1 },
      }));
      if (abort) aborted.push({ producerId, firstOffset: open.get(producerId)!, lastOffset: offset - 1 });
      open.delete(producerId);
    };
    for (let step = 0, steps = 3 + Math.floor(random() * 15); step < steps; step++) {
      const producerId = 1 + Math.floor(random() * 2);
      const choice = random();
      if (choice < 0.3) {
        push(encodeRecordBatch(records(1 + Math.floor(random() * 3)), { baseOffset: offset }));
      } else if (choice < 0.75 || !open.has(producerId)) {
        const messages = records(1 + Math.floor(random() * 3));
        const baseSequence = sequences.get(producerId) ?? 0;
        sequences.set(producerId, baseSequence + messages.length);
        if (!open.has(producerId)) open.set(producerId, offset);
        push(encodeRecordBatch(messages, { baseOffset: offset, isTransactional: true, producer: { producerId, producerEpoch: 0, baseSequence } }));
      } else {
        end(producerId, random() < 0.5);
      }
    }
    for (const producerId of [...open.keys()]) end(producerId, random() < 0.5);

    const transactions = { aborted, stableOffset: offset };
    const index = new CompactionKeyIndex(undefined, transactions);
    for (const batch of batches) index.addBatch(batch);
    const decided = batches.filter((batch) => {
      const header = readBatchHeader(batch);
      return !header.isControl && !(header.isTransactional && aborted.some((a) => a.producerId === header.producerId && a.firstOffset <= header.baseOffset && header.baseOffset < a.lastOffset));
    });
    const latest = new Map<string, unknown[]>();
    for (const record of view(decided)) latest.set(record[1] as string, record);
    const expected = [...latest.values()].sort((x, y) => (x[0] as number) - (y[0] as number));

    const result = compactBatches(batches, index, { nowMs: 2000, transactions });
    const dataOut = result.batches.filter((batch) => !readBatchHeader(batch).isControl);
    assert.deepEqual(view(dataOut), expected, `round ${round}: the latest decided value per key`);
    const ranges = coverage(result.batches);
    for (let i = 1; i < ranges.length; i++) assert.equal(ranges[i]![0], ranges[i - 1]![1] + 1, `round ${round}: dense offsets`);
    assert.equal(ranges[ranges.length - 1]![1], offset - 1);
    assert.deepEqual(scannedTransactions(result.batches), scannedTransactions(batches), `round ${round}: a scan rebuilds the same transactions`);
    for (const batch of result.batches) assert.ok(verifyBatchCrc(batch));
  }
});

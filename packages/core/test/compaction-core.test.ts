// Compaction wired into the real log engine (openCore): sealed segments of a 'compact' topic are
// rewritten by the retention run, offsets are preserved, reads racing the swap stay correct, and
// the compacted log survives a restart.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import type { Core } from '../src/core.js';
import type { StoredMessage } from '../src/message.js';
import { openCoreImpl } from '../src/open-core.js';
import { decodeRecordBatch, encodeRecordBatch } from '../src/record-batch/index.js';
import { CONTROL_TYPE_ABORT, CONTROL_TYPE_COMMIT, encodeTransactionMarker } from '../src/log/transaction-state.js';
import { removeDir, tempDir } from './log-helpers.js';

const TOPIC = 'persistent://public/default/compacted';
const KEYS = 5;
const MESSAGES = 60;

async function readAll(core: Core): Promise<StoredMessage[]> {
  const out: StoredMessage[] = [];
  let offset = core.offsets(TOPIC, 0).logStartOffset;
  const end = core.offsets(TOPIC, 0).highWatermark;
  for (let step = 0; step < 10_000 && offset < end; step++) {
    const { entries } = await core.read(TOPIC, 0, { offset, maxBytes: 1024, maxEntries: 7 });
    if (entries.length === 0) break;
    for (const entry of entries) {
      for (const message of decodeRecordBatch(entry.bytes).messages) if (message.offset >= offset) out.push(message);
      offset = Math.max(offset, entry.lastOffset + 1);
    }
  }
  return out;
}

function valueOf(message: StoredMessage): string | null {
  return message.value === null ? null : message.value.toString();
}

test('compaction on the real log: latest per key in sealed segments, offsets kept, survives restart', async (t) => {
  const dir = tempDir('strata-compaction-');
  let core = await openCoreImpl({ dataDir: dir });
  await core.topics.create(TOPIC, { overrides: { cleanupPolicy: 'compact', segmentEntriesMax: 8 } });
  const written: { offset: number; key: string; value: string | null }[] = [];
  for (let i = 0; i < MESSAGES; i++) {
    const key = `k${i % KEYS}`;
    // k0 is deleted by a tombstone near the end (timestamp far in the past: past its retention).
    const tombstone = i === MESSAGES - 8 && key === 'k0';
    const value = tombstone ? null : `v${i}`;
    const { baseOffset } = await core.append(TOPIC, 0, {
      kind: 'messages',
      messages: [{ key: Buffer.from(key), value: value === null ? null : Buffer.from(value), headers: [], timestamp: tombstone ? 1 : Date.now() }],
    });
    written.push({ offset: baseOffset, key, value });
  }
  const before = await readAll(core);
  assert.equal(before.length, MESSAGES);

  // Readers racing the compaction swap see consistent data: each offset has the value written there.
  const byOffset = new Map(written.map((w) => [w.offset, w]));
  let racing = true;
  await core.log.checkpoint(); // sealed segments are compacted once their files are complete (write-behind)
  const racer = (async () => {
    let reads = 0;
    while (racing && reads < 500) {
      for (const message of await readAll(core)) {
        const original = byOffset.get(message.offset)!;
        assert.equal(message.key!.toString(), original.key);
        assert.equal(valueOf(message), original.value);
      }
      reads++;
    }
    return reads;
  })();
  await core.enforceRetention();
  racing = false;
  assert.ok((await racer) > 0);

  const check = async (label: string) => {
    const after = await readAll(core);
    assert.ok(after.length < MESSAGES, `${label}: compaction removed messages (${after.length} left)`);
    const offsets = after.map((m) => m.offset);
    assert.deepEqual(offsets, [...offsets].sort((a, b) => a - b), `${label}: offsets increase`);
    for (const message of after) {
      const original = byOffset.get(message.offset)!;
      assert.equal(valueOf(message), original.value, `${label}: offset ${message.offset} keeps its value`);
    }
    // The latest value of every key is still there, and k0's old values are gone.
    const latest = new Map<string, { offset: number; value: string | null }>();
    for (const w of written) latest.set(w.key, w);
    for (const [key, last] of latest) {
      if (last.value === null) continue;
      assert.ok(after.some((m) => m.offset === last.offset), `${label}: latest ${key} kept`);
    }
    const k0 = after.filter((m) => m.key!.toString() === 'k0');
    assert.ok(k0.every((m) => m.offset > MESSAGES - 8), `${label}: k0 before its tombstone is gone`);
    assert.equal(core.offsets(TOPIC, 0).highWatermark, MESSAGES, `${label}: high watermark unchanged`);
    return after;
  };
  const compacted = await check('after compaction');

  // A subscription reading the compacted log sees exactly what reads see: gaps are skipped.
  const subscription = await core.subscriptions.open(TOPIC, 0, 'reader', { type: 'Exclusive', initialPosition: 'earliest' });
  const seen: number[] = [];
  subscription.attach({ name: 'r', onDelivery: (deliveries) => deliveries.forEach((d) => seen.push(d.message.offset)) }).flow(1000);
  for (let i = 0; i < 500 && seen.length < compacted.length; i++) await new Promise((resolve) => setTimeout(resolve, 5));
  assert.deepEqual(seen, compacted.map((m) => m.offset));

  // New appends continue at the same offsets; a second run is a no-op until new segments seal.
  await core.append(TOPIC, 0, { kind: 'messages', messages: [{ key: Buffer.from('k1'), value: Buffer.from('new'), headers: [], timestamp: Date.now() }] });
  written.push({ offset: MESSAGES, key: 'k1', value: 'new' });
  byOffset.set(MESSAGES, written[written.length - 1]!);
  assert.equal(core.offsets(TOPIC, 0).highWatermark, MESSAGES + 1);

  await core.close();
  core = await openCoreImpl({ dataDir: dir });
  t.after(async () => {
    await core.close();
    removeDir(dir);
  });
  const reopened = await readAll(core);
  assert.deepEqual(
    reopened.slice(0, compacted.length).map((m) => [m.offset, valueOf(m)]),
    compacted.map((m) => [m.offset, valueOf(m)]),
  );
  assert.equal(reopened[reopened.length - 1]!.offset, MESSAGES);
  assert.equal(core.offsets(TOPIC, 0).highWatermark, MESSAGES + 1);
});

test('delete-only topics are not compacted', async (t) => {
  const dir = tempDir('strata-compaction-');
  const core = await openCoreImpl({ dataDir: dir });
  t.after(async () => {
    await core.close();
    removeDir(dir);
  });
  await core.topics.create(TOPIC, { overrides: { segmentEntriesMax: 2, retentionMs: -1 } });
  for (let i = 0; i < 10; i++) {
    await core.append(TOPIC, 0, { kind: 'messages', messages: [{ key: Buffer.from('same'), value: Buffer.from(`v${i}`), headers: [], timestamp: Date.now() }] });
  }
  await core.enforceRetention();
  assert.equal((await readAll(core)).length, 10);
});

test('a crash mid-compaction leaves the segment intact; the leftover file is ignored and cleaned up', async (t) => {
  const dir = tempDir('strata-compaction-');
  let core = await openCoreImpl({ dataDir: dir });
  await core.topics.create(TOPIC, { overrides: { cleanupPolicy: 'compact', segmentEntriesMax: 4 } });
  for (let i = 0; i < 12; i++) {
    await core.append(TOPIC, 0, { kind: 'messages', messages: [{ key: Buffer.from('k'), value: Buffer.from(`v${i}`), headers: [], timestamp: Date.now() }] });
  }
  await core.log.checkpoint();
  await core.close();
  // What a crash between writing `<segment>.compacting` and the rename leaves behind.
  const partitionDirs = fs.readdirSync(path.join(dir, 'log'), { recursive: true, withFileTypes: true }).filter((e) => e.isFile() && e.name.endsWith('.log'));
  const firstSegment = partitionDirs.map((e) => path.join(e.parentPath ?? (e as unknown as { path: string }).path, e.name)).sort()[0]!;
  fs.writeFileSync(firstSegment + '.compacting', Buffer.from('half-written garbage'));
  core = await openCoreImpl({ dataDir: dir });
  t.after(async () => {
    await core.close();
    removeDir(dir);
  });
  assert.equal((await readAll(core)).length, 12, 'the leftover is not read as data');
  await core.log.checkpoint();
  await core.enforceRetention();
  assert.equal(fs.existsSync(firstSegment + '.compacting'), false, 'leftover removed');
  const after = await readAll(core);
  assert.ok(after.length < 12);
  assert.equal(after[after.length - 1]!.value!.toString(), 'v11');
});

test('compaction with transactions: aborted and open writes never remove a committed value; aborted records go; survives restart', async (t) => {
  const dir = tempDir('strata-compaction-');
  let core = await openCoreImpl({ dataDir: dir });
  t.after(async () => {
    await core.close();
    removeDir(dir);
  });
  await core.topics.create(TOPIC, { overrides: { cleanupPolicy: 'compact', segmentEntriesMax: 2 } });
  const record = (key: string, value: string) => ({ key: Buffer.from(key), value: Buffer.from(value), headers: [], timestamp: Date.now() });
  const aborter = await core.initProducer('aborter');
  const committer = await core.initProducer('committer');
  const sequences = new Map<number, number>();
  const appendBatch = async (data: Buffer, expected: number) => assert.equal((await core.append(TOPIC, 0, { kind: 'batches', data })).baseOffset, expected);
  const plain = (key: string, value: string, expected: number) => appendBatch(encodeRecordBatch([record(key, value)]), expected);
  const transactional = (producer: { producerId: number; producerEpoch: number }, key: string, value: string, expected: number) => {
    const baseSequence = sequences.get(producer.producerId) ?? 0;
    sequences.set(producer.producerId, baseSequence + 1);
    return appendBatch(encodeRecordBatch([record(key, value)], { isTransactional: true, producer: { ...producer, baseSequence } }), expected);
  };
  const marker = (producer: { producerId: number; producerEpoch: number }, type: number, expected: number) =>
    appendBatch(encodeTransactionMarker(producer.producerId, producer.producerEpoch, type, 0, Date.now()), expected);

  // Segments of two entries: [0 k=committed, 1 k=aborted(txn)] [2 abort marker, 3 pad] [4 k=pending(txn, open), 5 pad] [6 pad, ...
  await plain('k', 'committed', 0);
  await transactional(aborter, 'k', 'aborted', 1);
  await marker(aborter, CONTROL_TYPE_ABORT, 2);
  await plain('pad', '3', 3);
  await transactional(committer, 'k', 'pending', 4);
  await plain('pad', '5', 5);
  await plain('pad', '6', 6);
  await plain('pad', '7', 7);
  assert.equal(core.offsets(TOPIC, 0).lastStableOffset, 4);
  await core.log.checkpoint();
  await core.enforceRetention();

  const records = async () => (await readAllBatches(core)).filter(({ control }) => !control).flatMap(({ messages }) => messages.map((m) => `${m.offset}:${m.key}=${m.value}`));
  // Below the stable offset: the aborted k is gone, the committed k stays (neither the aborted nor
  // the pending write supersedes it); the pending write and everything from offset 4 on is untouched.
  assert.deepEqual(await records(), ['0:k=committed', '3:pad=3', '4:k=pending', '5:pad=5', '6:pad=6', '7:pad=7']);
  assert.deepEqual(core.abortedTransactions(TOPIC, 0, 0, 7), [{ producerId: aborter.producerId, firstOffset: 1, lastOffset: 2 }]);

  // The pending write commits: now it supersedes, once its segment is decided and sealed.
  await marker(committer, CONTROL_TYPE_COMMIT, 8);
  await plain('pad', '9', 9);
  await plain('pad', '10', 10);
  assert.equal(core.offsets(TOPIC, 0).lastStableOffset, 11);
  await core.log.checkpoint();
  await core.enforceRetention();
  const compacted = await records();
  assert.deepEqual(compacted, ['4:k=pending', '10:pad=10']);

  await core.close();
  core = await openCoreImpl({ dataDir: dir });
  assert.deepEqual(await records(), compacted);
  assert.deepEqual(core.offsets(TOPIC, 0), { logStartOffset: 0, highWatermark: 11, lastStableOffset: 11 });
  assert.deepEqual(core.abortedTransactions(TOPIC, 0, 0, 10), [{ producerId: aborter.producerId, firstOffset: 1, lastOffset: 2 }]);
});

async function readAllBatches(core: Core): Promise<{ control: boolean; messages: { offset: number; key: string; value: string }[] }[]> {
  const out: { control: boolean; messages: { offset: number; key: string; value: string }[] }[] = [];
  let offset = core.offsets(TOPIC, 0).logStartOffset;
  const end = core.offsets(TOPIC, 0).highWatermark;
  for (let step = 0; step < 10_000 && offset < end; step++) {
    const { entries } = await core.read(TOPIC, 0, { offset, maxBytes: 1 << 20, maxEntries: 100 });
    if (entries.length === 0) break;
    for (const entry of entries) {
      const { header, messages } = decodeRecordBatch(entry.bytes);
      out.push({ control: header.isControl, messages: messages.map((m) => ({ offset: m.offset, key: m.key?.toString() ?? '', value: m.value?.toString() ?? '' })) });
      offset = Math.max(offset, entry.lastOffset + 1);
    }
  }
  return out;
}

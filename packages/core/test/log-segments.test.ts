import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import type { Core } from '../src/core.js';
import { isStrataError } from '../src/errors.js';
import { openCoreImpl, type CoreImpl } from '../src/open-core.js';
import { message, removeDir, tempDir, TOPIC } from './log-helpers.js';

let flush: () => Promise<unknown> = async () => undefined;

function segmentFiles(dataDir: string): string[] {
  const logDir = path.join(dataDir, 'log');
  const topicDir = fs.readdirSync(logDir)[0]!;
  return fs.readdirSync(path.join(logDir, topicDir, '0')).filter((name) => name.endsWith('.log')).sort();
}

async function appendValues(core: Core, count: number, bytes: number, timestamp?: number): Promise<void> {
  for (let i = 0; i < count; i++) {
    await core.append(TOPIC, 0, { kind: 'messages', messages: [message(Buffer.alloc(bytes, i), { timestamp: timestamp ?? Date.now() })] });
  }
  flush = () => (core as CoreImpl).log.flushSegments();
  await flush(); // segment files are written after acknowledgement, in bulk
}

test('segments roll on size and entry count; reads cross segments; restart keeps them', async () => {
  const dir = tempDir();
  try {
    let core = await openCoreImpl({ dataDir: dir });
    await core.topics.create(TOPIC, { overrides: { segmentBytesMax: 4096, segmentEntriesMax: 1000 } });
    await appendValues(core, 40, 500); // ~570 bytes per batch: 7 per segment
    const files = segmentFiles(dir);
    assert.ok(files.length >= 5, `rolled on size: ${files.length} segments`);
    assert.equal(files[0], '00000000000000000000.log');
    const all = await core.read(TOPIC, 0, { offset: 0, maxBytes: 1 << 20 });
    assert.deepEqual(all.entries.map((e) => e.baseOffset), Array.from({ length: 40 }, (_, i) => i));
    await core.topics.updatePolicies(TOPIC, { segmentBytesMax: 1 << 20, segmentEntriesMax: 3 });
    const before = segmentFiles(dir).length;
    await appendValues(core, 9, 10);
    assert.equal(segmentFiles(dir).length, before + 3, 'rolled every 3 entries');
    await core.close();
    core = await openCoreImpl({ dataDir: dir });
    core.log.tailCache.drop(core.log.getLog(TOPIC, 0).tail);
    for (const offset of [0, 7, 13, 39, 40, 45, 48]) {
      const read = await core.read(TOPIC, 0, { offset, maxBytes: 1, maxEntries: 1 });
      assert.equal(read.entries[0]!.baseOffset, offset);
    }
    await core.close();
  } finally {
    removeDir(dir);
  }
});

test('segments roll on age', async () => {
  const dir = tempDir();
  try {
    let now = 1_000_000;
    const core = await openCoreImpl({ dataDir: dir, clock: { now: () => now } });
    await core.topics.create(TOPIC, { overrides: { segmentMsMax: 1000 } });
    await appendValues(core, 3, 10);
    now += 1500;
    await appendValues(core, 1, 10);
    assert.deepEqual(segmentFiles(dir), ['00000000000000000000.log', '00000000000000000003.log']);
    await core.close();
  } finally {
    removeDir(dir);
  }
});

test('retention by size and time deletes whole segments; deleteRecordsBefore moves the log start', async () => {
  const dir = tempDir();
  try {
    let now = Date.now();
    let core = await openCoreImpl({ dataDir: dir, clock: { now: () => now } });
    await core.topics.create(TOPIC, { overrides: { segmentEntriesMax: 10, retentionBytes: -1, retentionMs: -1 } });
    await appendValues(core, 50, 100, now - 10_000);
    assert.equal(segmentFiles(dir).length, 5);
    assert.equal(await core.enforceRetention(), 0, 'no retention configured');
    const size = core.log.getLog(TOPIC, 0).sizeBytes;
    await core.topics.updatePolicies(TOPIC, { retentionBytes: Math.floor(size / 2) });
    const deleted = await core.enforceRetention();
    // Kafka's rule: a head segment goes while the rest still holds at least retentionBytes.
    assert.equal(deleted, 2, 'size retention deletes whole head segments only');
    assert.equal(core.offsets(TOPIC, 0).logStartOffset, 20);
    await assert.rejects(core.read(TOPIC, 0, { offset: 5, maxBytes: 100 }), (error) => isStrataError(error, 'OFFSET_OUT_OF_RANGE'));

    // A subscription holds back time retention until it has consumed the segment.
    const subscription = await core.subscriptions.open(TOPIC, 0, 'slow', { type: 'Exclusive', initialPosition: 'earliest' });
    await subscription.seek(35);
    await core.topics.updatePolicies(TOPIC, { retentionBytes: null, retentionMs: 1000 });
    assert.equal(await core.enforceRetention(), 1, 'segment 20-29 is consumed, 30-39 is not');
    assert.equal(core.offsets(TOPIC, 0).logStartOffset, 30);
    await subscription.seek(45);
    assert.equal(await core.enforceRetention(), 1);
    assert.equal(core.offsets(TOPIC, 0).logStartOffset, 40);
    await core.subscriptions.delete(TOPIC, 0, 'slow');
    // Without subscriptions, time retention also takes the active segment (rolled first).
    now += 20_000;
    assert.equal(await core.enforceRetention(), 1);
    assert.deepEqual(core.offsets(TOPIC, 0), { logStartOffset: 50, highWatermark: 50, lastStableOffset: 50 });
    const next = await core.append(TOPIC, 0, { kind: 'messages', messages: [message('after')] });
    assert.equal(next.baseOffset, 50);

    await appendValues(core, 20, 100);
    assert.equal(await core.deleteRecordsBefore(TOPIC, 0, 65), 65);
    assert.equal(core.offsets(TOPIC, 0).logStartOffset, 65);
    await assert.rejects(core.read(TOPIC, 0, { offset: 64, maxBytes: 100 }), (error) => isStrataError(error, 'OFFSET_OUT_OF_RANGE'));
    const fromStart = await core.read(TOPIC, 0, { offset: 65, maxBytes: 1 << 20 });
    assert.equal(fromStart.entries[0]!.lastOffset >= 65, true);
    await assert.rejects(core.deleteRecordsBefore(TOPIC, 0, 1000), (error) => isStrataError(error, 'OFFSET_OUT_OF_RANGE'));
    await core.close();
    core = await openCoreImpl({ dataDir: dir, clock: { now: () => now } });
    assert.equal(core.offsets(TOPIC, 0).logStartOffset, 65, 'log start survives a restart');
    assert.equal(core.offsets(TOPIC, 0).highWatermark, 71);
    await core.close();
  } finally {
    removeDir(dir);
  }
});

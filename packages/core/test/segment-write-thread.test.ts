// The segment write thread (storage/segment-write-thread.ts) and the flusher's small writes
// (SegmentFlusher.writeSmallSegments): many partitions' few KiB go to existing segment files through
// one hand-off per call. What must hold: every write lands whole at its position; a missing file is
// reported, never created (a segment removed meanwhile stays removed); whatever the thread could not
// do is written through the pool instead; and the bytes read back, before and after a restart or an
// abandoned run, are exactly what was acknowledged.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { silentLogger } from '../src/logger.js';
import { openCoreImpl, type CoreImpl } from '../src/open-core.js';
import type { LocalSegmentStorage } from '../src/storage/local-segment-storage.js';
import { SEGMENT_WRITE_STAGING_BYTES, SegmentWriteThread } from '../src/storage/segment-write-thread.js';
import { message, readValues, removeDir, reopenAbandoned, tempDir, TOPIC } from './log-helpers.js';

const PARTITIONS = 1_000;

function storageOf(core: CoreImpl): LocalSegmentStorage {
  return (core.log as unknown as { storage: LocalSegmentStorage }).storage;
}

/** `rounds` appends to every partition, value `p<partition>-<round>`, rounds numbered from `first`. */
async function appendRounds(core: CoreImpl, first: number, rounds: number): Promise<void> {
  for (let round = first; round < first + rounds; round++) {
    const pending: Promise<unknown>[] = [];
    for (let p = 0; p < PARTITIONS; p++) pending.push(core.append(TOPIC, p, { kind: 'messages', messages: [message(`p${p}-${round}`)] }));
    await Promise.all(pending);
  }
}

async function assertValues(core: CoreImpl, rounds: number): Promise<void> {
  for (let p = 0; p < PARTITIONS; p++) {
    const expected = Array.from({ length: rounds }, (_, round) => `p${p}-${round}`);
    assert.deepEqual(await readValues(core, p), expected, `partition ${p}`);
  }
}

test('segment write thread: writes each run whole at its position, reports a missing file without creating it, takes calls larger than its staging buffer', async () => {
  const dir = tempDir('strata-segment-write-thread-');
  const thread = new SegmentWriteThread(silentLogger);
  try {
    const a = path.join(dir, 'a.log');
    const b = path.join(dir, 'b.log');
    const missing = path.join(dir, 'gone', 'c.log');
    fs.writeFileSync(a, 'AAAA');
    fs.writeFileSync(b, '');
    const big = Buffer.alloc(SEGMENT_WRITE_STAGING_BYTES + 4096, 0x62);
    const errors = await thread.write([
      { path: a, position: 4, buffers: [Buffer.from('bc'), Buffer.from('def')], bytes: 5 },
      { path: missing, position: 0, buffers: [Buffer.from('x')], bytes: 1 },
      { path: b, position: 0, buffers: [big], bytes: big.length },
    ]);
    assert.equal(errors[0], null);
    assert.equal(errors[1]?.code, 'ENOENT');
    assert.equal(errors[1]?.path, missing);
    assert.equal(errors[2], null);
    assert.equal(fs.readFileSync(a, 'latin1'), 'AAAAbcdef');
    assert.ok(fs.readFileSync(b).equals(big), 'a call larger than the staging buffer is written whole');
    assert.equal(fs.existsSync(path.dirname(missing)), false, 'nothing created for a missing file');
    // Staging buffers are reused: the next calls see only their own bytes.
    const second = await thread.write([{ path: a, position: 0, buffers: [Buffer.from('Z')], bytes: 1 }]);
    assert.deepEqual(second, [null]);
    assert.equal(fs.readFileSync(a, 'latin1'), 'ZAAAbcdef');
    assert.equal(thread.writes, 3, 'writes done whole: not the one to the missing file');
  } finally {
    await thread.close();
    assert.equal(thread.usable(), false, 'closed for good');
    removeDir(dir);
  }
});

test('core: flushes of many partitions go through the thread, and the segments read back exactly after a restart and after an abandoned run', async () => {
  const dir = tempDir();
  try {
    let core = await openCoreImpl({ dataDir: dir });
    await core.topics.create(TOPIC, { partitions: PARTITIONS });
    // Round 0 creates every segment file (through the pool: the thread never creates files).
    await appendRounds(core, 0, 1);
    await core.log.checkpoint();
    assert.equal(core.log.stats().smallSegmentWrites, 0, 'first writes create their files through the pool');
    await appendRounds(core, 1, 2);
    await core.log.checkpoint();
    const handed = core.log.stats().smallSegmentWrites;
    assert.ok(handed >= PARTITIONS, `${handed} segment writes through the thread, at least one per partition`);
    assert.equal(core.log.stats().pendingBytes, 0);
    await assertValues(core, 3);
    await core.close();

    core = await openCoreImpl({ dataDir: dir });
    await assertValues(core, 3);
    await appendRounds(core, 3, 2);
    await core.log.checkpoint();
    await appendRounds(core, 5, 1); // in the journal only: an abandoned run must replay it
    core = await reopenAbandoned(core, dir);
    await assertValues(core, 6);
    await core.close();
  } finally {
    removeDir(dir);
  }
});

test('core: writes the thread could not do (a failed call, a failed write, a thread that is gone) are written through the pool, and nothing is lost', async () => {
  const dir = tempDir();
  try {
    const core = await openCoreImpl({ dataDir: dir });
    await core.topics.create(TOPIC, { partitions: PARTITIONS });
    await appendRounds(core, 0, 1);
    await core.log.checkpoint();
    const thread = storageOf(core).writeThread;
    const write = thread.write.bind(thread);
    // The thread fails as a whole on every call: none of its writes may count as done.
    let failedCalls = 0;
    thread.write = () => {
      failedCalls++;
      return Promise.reject(new Error('thread gone'));
    };
    await appendRounds(core, 1, 1);
    await core.log.checkpoint();
    assert.ok(failedCalls > 0, 'the flush handed writes to the thread');
    assert.equal(core.log.stats().smallSegmentWrites, 0);
    assert.equal(core.log.stats().pendingBytes, 0, 'everything written through the pool');
    // Every other write fails on its own (as a file removed meanwhile would): those go through the pool.
    let refused = 0;
    thread.write = async (writes) => {
      const errors = await write(writes.map((w, i) => (i % 2 === 0 ? w : { ...w, path: path.join(dir, 'no-such-dir', 'x.log') })));
      refused += errors.filter((error) => error !== null).length;
      return errors;
    };
    await appendRounds(core, 2, 1);
    await core.log.checkpoint();
    assert.ok(refused > 0 && core.log.stats().smallSegmentWrites > 0, `${refused} refused, ${core.log.stats().smallSegmentWrites} done by the thread`);
    assert.equal(core.log.stats().pendingBytes, 0);
    assert.equal(fs.existsSync(path.join(dir, 'no-such-dir')), false);
    // The thread cannot take writes any more (writeSmall answers null): this flush and every later
    // one write through the pool, and writeSmall is not asked again.
    const doneByThread = core.log.stats().smallSegmentWrites;
    let asked = 0;
    thread.usable = () => {
      asked++;
      return false;
    };
    for (const round of [3, 4]) {
      await appendRounds(core, round, 1);
      await core.log.checkpoint();
    }
    assert.equal(asked, 1, 'asked once, then every write through the pool');
    assert.equal(core.log.stats().smallSegmentWrites, doneByThread);
    assert.equal(core.log.stats().pendingBytes, 0);
    await assertValues(core, 5);
    await core.close();
  } finally {
    removeDir(dir);
  }
});

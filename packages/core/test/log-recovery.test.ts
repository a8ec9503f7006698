import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { openCoreImpl, type CoreImpl } from '../src/open-core.js';
import { abandon, message, readValues, removeDir, tempDir, TOPIC } from './log-helpers.js';
import { replayJournalFile } from '../src/storage/journal.js';

// No background checkpoint during a test: the journal holds everything since open.
const NO_CHECKPOINT = { tuning: { checkpointIntervalMs: 1e9, journalFileBytesMax: 1 << 30 } };

function partitionDir(dataDir: string, partition: number): string {
  const logDir = path.join(dataDir, 'log');
  return path.join(logDir, fs.readdirSync(logDir)[0]!, String(partition));
}

function activeSegment(dataDir: string, partition: number): string {
  const dir = partitionDir(dataDir, partition);
  const names = fs.readdirSync(dir).filter((name) => name.endsWith('.log')).sort();
  return path.join(dir, names[names.length - 1]!);
}

function journalFiles(dataDir: string): string[] {
  const dir = path.join(dataDir, 'journal');
  return fs.readdirSync(dir).sort().map((name) => path.join(dir, name));
}

/** Simulates kill -9 of this in-process core: nothing is closed, the lock is left behind. */
test('a torn segment tail is truncated and refilled from the journal', async () => {
  const dir = tempDir();
  try {
    const core = await openCoreImpl({ dataDir: dir }, NO_CHECKPOINT);
    await core.topics.create(TOPIC, { partitions: 2 });
    for (let i = 0; i < 10; i++) await core.append(TOPIC, i % 2, { kind: 'messages', messages: [message(`v${i}`)] });
    await core.log.flushSegments(); // written (not fsynced): then torn below
    await abandon(core, dir);
    // The last batch of partition 0 is torn and followed by garbage.
    const segment = activeSegment(dir, 0);
    const size = fs.statSync(segment).size;
    fs.truncateSync(segment, size - 7);
    fs.appendFileSync(segment, Buffer.alloc(100, 0xab));
    // Partition 1 lost its last two batches entirely (never reached the disk).
    const other = activeSegment(dir, 1);
    const batchBytes = (await import('../src/log/batch-fields.js')).batchTotalBytes(fs.readFileSync(other), 0);
    fs.truncateSync(other, fs.statSync(other).size - 2 * batchBytes);

    const reopened = await openCoreImpl({ dataDir: dir }, NO_CHECKPOINT);
    assert.deepEqual(await readValues(reopened, 0), ['v0', 'v2', 'v4', 'v6', 'v8']);
    assert.deepEqual(await readValues(reopened, 1), ['v1', 'v3', 'v5', 'v7', 'v9']);
    assert.equal(fs.statSync(segment).size, size, 'segment restored to exactly the acknowledged bytes');
    const next = await reopened.append(TOPIC, 0, { kind: 'messages', messages: [message('v10')] });
    assert.equal(next.baseOffset, 5);
    await reopened.close();
  } finally {
    removeDir(dir);
  }
});

test('a torn journal tail is ignored and unacknowledged garbage is never served', async () => {
  const dir = tempDir();
  try {
    let core = await openCoreImpl({ dataDir: dir }, NO_CHECKPOINT);
    await core.topics.create(TOPIC);
    for (let i = 0; i < 5; i++) await core.append(TOPIC, 0, { kind: 'messages', messages: [message(`a${i}`)] });
    await core.close(); // checkpoint: segments fsynced, journal emptied
    core = await openCoreImpl({ dataDir: dir }, NO_CHECKPOINT);
    for (let i = 5; i < 8; i++) await core.append(TOPIC, 0, { kind: 'messages', messages: [message(`a${i}`)] });
    await abandon(core, dir); // a5..a7 are only in the journal: their segment writes never happened
    const journals = journalFiles(dir);
    const journal = journals[journals.length - 1]!;
    const journalBytes = fs.statSync(journal).size;
    assert.ok(journalBytes > 0, 'the acknowledged appends are in the journal');
    // A torn record at the end of the journal: a plausible header, then the write stopped.
    const torn = Buffer.alloc(30);
    torn.writeUInt32BE(200, 0);
    fs.appendFileSync(journal, torn);
    // And the segment has a torn copy of an append that was never acknowledged.
    fs.appendFileSync(activeSegment(dir, 0), Buffer.from('0000000000000008torn-batch-bytes'));

    core = await openCoreImpl({ dataDir: dir }, NO_CHECKPOINT);
    assert.deepEqual(await readValues(core, 0), ['a0', 'a1', 'a2', 'a3', 'a4', 'a5', 'a6', 'a7']);
    assert.equal(core.offsets(TOPIC, 0).highWatermark, 8);
    const next = await core.append(TOPIC, 0, { kind: 'messages', messages: [message('a8')] });
    assert.equal(next.baseOffset, 8);
    await core.close();
    const left = journalFiles(dir);
    assert.ok(left.length >= 1 && left.length <= 2, `after a clean close the last journal and at most its spare remain (${left.length})`);
    for (const file of left) {
      const replayed = await replayJournalFile(file, Number(path.basename(file, '.jnl')), async () => {});
      assert.equal(replayed.records, 0, 'and they hold no records of their own (new, or recycled with older lives only)');
    }
    core = await openCoreImpl({ dataDir: dir }, NO_CHECKPOINT);
    assert.equal((await readValues(core, 0)).length, 9);
    await core.close();
  } finally {
    removeDir(dir);
  }
});

test('a journal record of a deleted topic is skipped; checkpoints drop old journal files', async () => {
  const dir = tempDir();
  try {
    let core = await openCoreImpl({ dataDir: dir }, NO_CHECKPOINT);
    await core.topics.create(TOPIC);
    await core.topics.create('persistent://public/default/gone');
    await core.append('persistent://public/default/gone', 0, { kind: 'messages', messages: [message('x')] });
    await core.topics.delete('persistent://public/default/gone');
    await core.append(TOPIC, 0, { kind: 'messages', messages: [message('kept')] });
    await abandon(core, dir);
    core = await openCoreImpl({ dataDir: dir }, NO_CHECKPOINT);
    assert.equal(core.topics.exists('persistent://public/default/gone'), false);
    assert.deepEqual(await readValues(core, 0), ['kept']);
    await core.append(TOPIC, 0, { kind: 'messages', messages: [message('more')] });
    const before = journalFiles(dir);
    await core.log.checkpoint();
    // Left: the journal rotated into and at most the spare prepared for the next rotation.
    const after = journalFiles(dir);
    assert.ok(after.length >= 1 && after.length <= 2, `journals left: ${after.join(', ')}`);
    assert.ok(!after.includes(before[0]!), 'the journal in use before the checkpoint is deleted');
    await core.close();
  } finally {
    removeDir(dir);
  }
});

test('checkpoints under concurrent appends rotate and drop journals without losing anything', async () => {
  const dir = tempDir();
  try {
    const tuning = { journalFileBytesMax: 32 * 1024, checkpointIntervalMs: 20, segmentFlushBytes: 8 * 1024 };
    let core = await openCoreImpl({ dataDir: dir }, { tuning });
    await core.topics.create(TOPIC, { partitions: 3, overrides: { segmentBytesMax: 16 * 1024 } });
    // At least 100 appends per producer, and on until a few checkpoints ran (bounded in time).
    const perProducer = 100;
    const sent = new Array<number>(12).fill(0);
    const deadline = Date.now() + 10_000;
    await Promise.all(
      Array.from({ length: 12 }, async (_, producer) => {
        for (let i = 0; i < perProducer || (core.log.stats().checkpoints < 3 && Date.now() < deadline); i++) {
          await core.append(TOPIC, producer % 3, { kind: 'messages', messages: [message(`p${producer}-${i}-${'x'.repeat(200)}`)] });
          sent[producer] = i + 1;
        }
      }),
    );
    const stats = core.log.stats();
    assert.ok(stats.checkpoints >= 3, `checkpoints ran during the appends (${stats.checkpoints})`);
    assert.ok(journalFiles(dir).length <= 3, `old journals were deleted (${journalFiles(dir).length} left)`);
    await abandon(core, dir);
    core = await openCoreImpl({ dataDir: dir }, { tuning });
    const seen = new Set<string>();
    for (let partition = 0; partition < 3; partition++) {
      for (const value of await readValues(core, partition)) seen.add(value.slice(0, value.indexOf('-x')));
    }
    assert.equal(seen.size, sent.reduce((sum, count) => sum + count, 0), 'every acknowledged message is back, offsets dense');
    await core.close();
  } finally {
    removeDir(dir);
  }
});

// Journal files are recycled: a retired file is renamed to the next sequence number and
// overwritten in place. Replay must take only the records of the file's current life (their tag),
// go on past an end record, and stop at a torn tail or at the stale records of an earlier life.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { decodeRecordBatch, encodeRecordBatch } from '../src/record-batch/index.js';
import { setBaseOffset } from '../src/record-batch/header.js';
import { crc32cRange } from '../src/record-batch/crc32c.js';
import {
  JOURNAL_RECORD_HEADER_BYTES,
  journalEndRecord,
  journalFileTag,
  parseJournalRecord,
  writeJournalRecord,
  writeJournalRecordHeader,
} from '../src/storage/journal-format.js';
import { JOURNAL_POOL_BYTES_MIN, JournalFile, journalFileName, replayJournalFile, type JournalReplayEnd } from '../src/storage/journal.js';
import { openCoreImpl } from '../src/open-core.js';
import { message, removeDir, tempDir, TOPIC } from './log-helpers.js';

/** One group's journal bytes for file `seq`: `count` records with offsets from `firstOffset`. */
function groupBuffer(seq: number, firstOffset: number, count: number, valueBytes = 0): Buffer {
  const batches = Array.from({ length: count }, (_, i) => {
    const batch = encodeRecordBatch([message(`value-${firstOffset + i}-`.padEnd(valueBytes, 'x'))]);
    setBaseOffset(batch, firstOffset + i);
    return batch;
  });
  const buffer = Buffer.alloc(batches.reduce((sum, batch) => sum + JOURNAL_RECORD_HEADER_BYTES + batch.length, 0));
  let at = 0;
  for (const batch of batches) at += writeJournalRecord(buffer, at, journalFileTag(seq), 7, 0, batch);
  return buffer;
}

async function replayOffsets(dir: string, seq: number): Promise<{ end: JournalReplayEnd; offsets: number[] }> {
  const offsets: number[] = [];
  const result = await replayJournalFile(path.join(dir, journalFileName(seq)), seq, async (record) => {
    offsets.push(Number(record.batch.readBigInt64BE(0)));
  });
  return { end: result.end, offsets };
}

const range = (from: number, count: number): number[] => Array.from({ length: count }, (_, i) => from + i);

for (const io of ['event-loop', 'thread-pool', 'auto'] as const) {
  test(`journal (${io} I/O): a recycled file replays only its current life; an end record ends it cleanly`, async () => {
    const dir = tempDir('strata-journal-');
    try {
      // First life, seq 1: 40 records of ~1 KB.
      const first = await JournalFile.create(dir, 1, io);
      const oldGroup = groupBuffer(1, 0, 40, 1000);
      await first.writeAt([oldGroup], first.reserve(oldGroup.length));
      await first.finish();
      await first.close();
      assert.deepEqual(await replayOffsets(dir, 1), { end: 'end', offsets: range(0, 40) });

      // Second life as seq 3: fewer, smaller records; the first life's records lie behind them.
      const second = await JournalFile.recycle(dir, 1, 3, io);
      assert.equal(second.recycledBytes, oldGroup.length + JOURNAL_RECORD_HEADER_BYTES);
      assert.ok(!fs.existsSync(path.join(dir, journalFileName(1))), 'renamed, not copied');
      const newGroup = groupBuffer(3, 100, 5);
      await second.writeAt([newGroup], second.reserve(newGroup.length));
      await second.sync();
      assert.equal(fs.statSync(path.join(dir, journalFileName(3))).size, second.recycledBytes, 'overwritten in place, not extended');
      // The crash case: no end record, the old life follows.
      assert.deepEqual(await replayOffsets(dir, 3), { end: 'stopped', offsets: range(100, 5) });
      // Finished at a rotation: replay goes on to the next file.
      await second.finish();
      assert.deepEqual(await replayOffsets(dir, 3), { end: 'end', offsets: range(100, 5) });
      // A rotation that did not happen after all: the next group overwrites the end record.
      const more = groupBuffer(3, 105, 2);
      await second.writeAt([more], second.reserve(more.length));
      await second.sync();
      assert.deepEqual(await replayOffsets(dir, 3), { end: 'stopped', offsets: range(100, 7) });
      await second.close();
    } finally {
      removeDir(dir);
    }
  });

  test(`journal (${io} I/O): a fresh file ends cleanly at its end, torn when a record is cut short; cut back after a failed write`, async () => {
    const dir = tempDir('strata-journal-');
    try {
      const journal = await JournalFile.create(dir, 1, io);
      const first = groupBuffer(1, 0, 2);
      await journal.writeAt([first], journal.reserve(first.length));
      const failedStart = journal.reserve(100);
      await journal.truncateTo(failedStart);
      const second = groupBuffer(1, 2, 2);
      await journal.writeAt([second], journal.reserve(second.length));
      await journal.sync();
      await journal.close();
      const file = path.join(dir, journalFileName(1));
      assert.equal(fs.statSync(file).size, first.length + second.length, 'no zeros written ahead');
      assert.deepEqual(await replayOffsets(dir, 1), { end: 'clean', offsets: [0, 1, 2, 3] });
      fs.appendFileSync(file, groupBuffer(1, 4, 1).subarray(0, 30));
      assert.deepEqual(await replayOffsets(dir, 1), { end: 'stopped', offsets: [0, 1, 2, 3] });
    } finally {
      removeDir(dir);
    }
  });
}

test('journal: a stale record with a valid CRC but another file tag is not replayed', async () => {
  const dir = tempDir('strata-journal-');
  try {
    const file = path.join(dir, journalFileName(5));
    // Records of seq 5, then whole records of seq 2 (an earlier life), then of seq 5 again (impossible
    // in practice, but replay must not skip over the stale ones to reach them).
    fs.writeFileSync(file, Buffer.concat([groupBuffer(5, 0, 3), groupBuffer(2, 3, 2), groupBuffer(5, 5, 2)]));
    assert.deepEqual(await replayOffsets(dir, 5), { end: 'stopped', offsets: [0, 1, 2] });
    // A stale end record does not end the file either.
    fs.writeFileSync(file, Buffer.concat([groupBuffer(5, 0, 1), journalEndRecord(journalFileTag(2))]));
    assert.deepEqual(await replayOffsets(dir, 5), { end: 'stopped', offsets: [0] });
    // The tag is the low 24 bits of the sequence number.
    assert.equal(journalFileTag(0x1234567), 0x234567);
  } finally {
    removeDir(dir);
  }
});

test('journal: files of the first format (untagged, zero-preallocated) still replay; their records are not accepted in tagged files', async () => {
  const dir = tempDir('strata-journal-');
  try {
    // A first-format record: type 1, tag 0.
    const batch = encodeRecordBatch([message('legacy')]);
    setBaseOffset(batch, 0);
    const untagged = Buffer.alloc(JOURNAL_RECORD_HEADER_BYTES + batch.length);
    writeJournalRecord(untagged, 0, 0, 7, 0, batch);
    untagged.writeUInt8(1, 8);
    untagged.writeUInt32BE(crc32cRange(untagged, 8, JOURNAL_RECORD_HEADER_BYTES + 21), 4);
    fs.writeFileSync(path.join(dir, journalFileName(4)), Buffer.concat([untagged, Buffer.alloc(4096)]));
    assert.deepEqual(await replayOffsets(dir, 4), { end: 'clean', offsets: [0] }, 'zeros after the records are its clean end');
    fs.writeFileSync(path.join(dir, journalFileName(4)), Buffer.concat([untagged, Buffer.alloc(4096), Buffer.from([1])]));
    assert.equal((await replayOffsets(dir, 4)).end, 'stopped', 'garbage in the zeros is a torn tail');
    // In a tagged file, the same record is not this file's.
    fs.writeFileSync(path.join(dir, journalFileName(6)), Buffer.concat([groupBuffer(6, 0, 1), untagged]));
    assert.deepEqual(await replayOffsets(dir, 6), { end: 'stopped', offsets: [0] });
    assert.equal(parseJournalRecord(untagged, 0, journalFileTag(6)).kind, 'invalid');
    assert.equal(parseJournalRecord(untagged, 0, 'untagged').kind, 'record');
  } finally {
    removeDir(dir);
  }
});

test('journal record header written apart from its batch equals the whole record, and parses', () => {
  for (const size of [10, 1024, 70 * 1024, 1024 * 1024]) {
    const batch = encodeRecordBatch([{ key: null, value: Buffer.alloc(size, 0x5a), headers: [], timestamp: 1 }]);
    setBaseOffset(batch, 12345);
    const whole = Buffer.alloc(JOURNAL_RECORD_HEADER_BYTES + batch.length);
    writeJournalRecord(whole, 0, 77, 9, 3, batch);
    const header = Buffer.alloc(JOURNAL_RECORD_HEADER_BYTES + 7);
    writeJournalRecordHeader(header, 7, 77, 9, 3, batch);
    const apart = Buffer.concat([header.subarray(7), batch]);
    assert.ok(apart.equals(whole), `${size}: same bytes`);
    const parsed = parseJournalRecord(apart, 0, 77);
    assert.equal(parsed.kind, 'record');
    if (parsed.kind === 'record') {
      assert.equal(parsed.record.topicId, 9);
      assert.equal(parsed.record.partition, 3);
      assert.ok(parsed.record.batch.equals(batch));
    }
  }
});

for (const journalIo of ['event-loop', 'thread-pool'] as const) {
  test(`core (${journalIo} I/O): checkpoints recycle journal files; after an abandoned run every acknowledged append replays`, async () => {
    const dir = tempDir();
    try {
      const tuning = { journalFileBytesMax: 64 * 1024, checkpointIntervalMs: 1e9 };
      let core = await openCoreImpl({ dataDir: dir, journalIo }, { tuning });
      await core.topics.create(TOPIC);
      const journalDir = path.join(dir, 'journal');
      const inodes = new Set<number>();
      let sent = 0;
      for (let round = 0; round < 6; round++) {
        for (let i = 0; i < 40; i++) {
          await core.append(TOPIC, 0, { kind: 'messages', messages: [message(`m${sent}-`.padEnd(600, 'x'))] });
          sent++;
        }
        await core.log.checkpoint();
        for (const name of fs.readdirSync(journalDir)) inodes.add(fs.statSync(path.join(journalDir, name)).ino);
      }
      const stats = core.log.stats();
      assert.ok(stats.journalsRecycled >= 3, `journal files recycled (${stats.journalsRecycled})`);
      assert.ok(inodes.size <= 6, `recycled files keep their inodes: ${inodes.size} distinct over 6 checkpoints`);
      assert.ok(fs.readdirSync(journalDir).length <= 2, 'the journal in use and its spare');
      // More appends into the recycled journal, then the process "dies" (no close, lock removed).
      for (let i = 0; i < 25; i++) {
        await core.append(TOPIC, 0, { kind: 'messages', messages: [message(`m${sent}-`.padEnd(600, 'x'))] });
        sent++;
      }
      const current = core.log.journalInUse();
      assert.ok(current.recycledBytes > 0, 'the journal in use is a recycled file');
      fs.rmSync(path.join(dir, 'LOCK'));
      core = await openCoreImpl({ dataDir: dir, journalIo }, { tuning });
      const read = await core.read(TOPIC, 0, { offset: 0, maxBytes: 64 * 1024 * 1024 });
      const values: string[] = [];
      for (const entry of read.entries) {
        for (const m of decodeRecordBatch(entry.bytes).messages) {
          assert.equal(m.offset, values.length, 'offsets dense');
          values.push(m.value!.toString().replace(/-x*$/, ''));
        }
      }
      assert.deepEqual(values, range(0, sent).map((i) => `m${i}`), 'every acknowledged append, no stale record of an earlier life');
      await core.close();
    } finally {
      removeDir(dir);
    }
  });
}

test('journal (auto I/O): groups of JOURNAL_POOL_BYTES_MIN or more are written and flushed in the thread pool, smaller ones on the event loop', async () => {
  const dir = tempDir('strata-journal-');
  const calls: string[] = [];
  const original = { writev: fs.writev, writevSync: fs.writevSync, writeSync: fs.writeSync, fdatasync: fs.fdatasync, fdatasyncSync: fs.fdatasyncSync };
  const spied = fs as unknown as Record<string, unknown>;
  spied['writev'] = (...args: unknown[]) => (calls.push('writev'), (original.writev as (...a: unknown[]) => void)(...args));
  spied['writevSync'] = (...args: unknown[]) => (calls.push('writevSync'), (original.writevSync as (...a: unknown[]) => number)(...args));
  spied['writeSync'] = (...args: unknown[]) => (calls.push('writeSync'), (original.writeSync as (...a: unknown[]) => number)(...args));
  spied['fdatasync'] = (...args: unknown[]) => (calls.push('fdatasync'), (original.fdatasync as (...a: unknown[]) => void)(...args));
  spied['fdatasyncSync'] = (...args: unknown[]) => (calls.push('fdatasyncSync'), (original.fdatasyncSync as (...a: unknown[]) => void)(...args));
  try {
    const journal = await JournalFile.create(dir, 1, 'auto');
    const small = groupBuffer(1, 0, 3);
    await journal.writeAt([small], journal.reserve(small.length));
    await journal.sync();
    assert.deepEqual(calls.splice(0), ['writeSync', 'fdatasyncSync'], 'a small group stays on the event loop');
    const large = groupBuffer(1, 3, Math.ceil(JOURNAL_POOL_BYTES_MIN / 1000) + 1, 1000);
    assert.ok(large.length >= JOURNAL_POOL_BYTES_MIN);
    await journal.writeAt([large], journal.reserve(large.length));
    await journal.sync();
    assert.deepEqual(calls.splice(0), ['writev', 'fdatasync'], 'a large group goes to the pool');
    await journal.close();
    const replayed = await replayOffsets(dir, 1);
    assert.equal(replayed.end, 'clean');
    assert.equal(replayed.offsets.length, 3 + Math.ceil(JOURNAL_POOL_BYTES_MIN / 1000) + 1);
  } finally {
    Object.assign(spied, original);
    removeDir(dir);
  }
});

test('core: after a clean close and after a crash, the next start reuses the idle journal files, so its first groups overwrite recycled blocks', async () => {
  const dir = tempDir();
  try {
    const tuning = { journalFileBytesMax: 64 * 1024, checkpointIntervalMs: 1e9 };
    let core = await openCoreImpl({ dataDir: dir }, { tuning });
    await core.topics.create(TOPIC);
    let sent = 0;
    const appendSome = async (count: number): Promise<void> => {
      for (let i = 0; i < count; i++, sent++) await core.append(TOPIC, 0, { kind: 'messages', messages: [message(`m${sent}-`.padEnd(600, 'x'))] });
    };
    for (let round = 0; round < 3; round++) {
      await appendSome(40);
      await core.log.checkpoint();
    }
    await core.close();
    const journalDir = path.join(dir, 'journal');
    const inodesBefore = new Set(fs.readdirSync(journalDir).map((name) => fs.statSync(path.join(journalDir, name)).ino));
    assert.equal(inodesBefore.size, 2, 'a clean close leaves the last journal and its spare');

    core = await openCoreImpl({ dataDir: dir }, { tuning });
    assert.ok(core.log.journalInUse().recycledBytes > 0, 'after a restart the first groups go to a recycled file');
    assert.ok(inodesBefore.has(fs.statSync(path.join(journalDir, journalFileName(core.log.journalInUse().seq))).ino), 'one of the files the close left');
    await appendSome(30);
    fs.rmSync(path.join(dir, 'LOCK')); // crash: no close
    core = await openCoreImpl({ dataDir: dir }, { tuning });
    assert.ok(core.log.journalInUse().recycledBytes > 0, 'after a crash too');
    const read = await core.read(TOPIC, 0, { offset: 0, maxBytes: 64 * 1024 * 1024 });
    let count = 0;
    for (const entry of read.entries) count += decodeRecordBatch(entry.bytes).messages.length;
    assert.equal(count, sent, 'every acknowledged append is back');
    await core.close();
  } finally {
    removeDir(dir);
  }
});

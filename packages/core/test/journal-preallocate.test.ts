// Journal preallocation: group writes that extend the file append zeros, later groups overwrite
// them; replay must read an all-zero remainder as a clean end and anything else as a torn tail.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { encodeRecordBatch } from '../src/record-batch/index.js';
import { setBaseOffset } from '../src/record-batch/header.js';
import { JOURNAL_RECORD_HEADER_BYTES, parseJournalRecord, writeJournalRecord, writeJournalRecordHeader } from '../src/storage/journal-format.js';
import { JOURNAL_PREALLOCATE_AHEAD_BYTES, JOURNAL_PREALLOCATE_BYTES, JournalFile, journalFileName, replayJournalFile } from '../src/storage/journal.js';
import { message, removeDir, tempDir } from './log-helpers.js';

/** Bytes of each value of groups made with `padTo` (records of about 1,000 bytes). */
const PADDED_VALUE_BYTES = 930;

function groupBuffer(firstOffset: number, count: number, padTo = 0): Buffer {
  const batches = Array.from({ length: count }, (_, i) => {
    const batch = encodeRecordBatch([message(padTo > 0 ? `value-${firstOffset + i}-`.padEnd(padTo, 'x') : `value-${firstOffset + i}`)]);
    setBaseOffset(batch, firstOffset + i);
    return batch;
  });
  const buffer = Buffer.alloc(batches.reduce((sum, batch) => sum + JOURNAL_RECORD_HEADER_BYTES + batch.length, 0));
  let at = 0;
  for (const batch of batches) at += writeJournalRecord(buffer, at, 7, 0, batch);
  return buffer;
}

/** A group of at least `bytes` bytes of ~1,000-byte records from `firstOffset`. */
function bigGroup(firstOffset: number, bytes: number): Buffer {
  return groupBuffer(firstOffset, Math.max(1, Math.ceil(bytes / (PADDED_VALUE_BYTES + 50))), PADDED_VALUE_BYTES);
}

function recordCount(group: Buffer): number {
  let count = 0;
  for (let at = 0; at < group.length; count++) at += JOURNAL_RECORD_HEADER_BYTES + group.readUInt32BE(at);
  return count;
}

async function replayOffsets(file: string): Promise<{ complete: boolean; offsets: number[] }> {
  const offsets: number[] = [];
  const result = await replayJournalFile(file, async (record) => {
    offsets.push(Number(record.batch.readBigInt64BE(0)));
  });
  return { complete: result.complete, offsets };
}

test('journal (thread-pool I/O): groups written together land whole, also across an extension; the zero tail replays as a clean end', async () => {
  const dir = tempDir('strata-journal-');
  try {
    const journal = await JournalFile.create(dir, 1, 'thread-pool');
    await journal.preallocated();
    const file = path.join(dir, journalFileName(1));
    assert.equal(fs.statSync(file).size, JOURNAL_PREALLOCATE_BYTES, 'zeros written ahead at creation');
    // Fill most of the zeros, then three groups in flight at once: the first reaches past the zeros
    // and extends the file inline, the later two land inside its new zeros and must not be
    // overwritten by them. The extending write is held back so that, without the wait, the later
    // writes would reach the file first.
    const fill = bigGroup(0, JOURNAL_PREALLOCATE_BYTES - 2048);
    const fillCount = recordCount(fill);
    await journal.writeAt([fill], journal.reserve(fill.length));
    await journal.preallocated(); // a background extension started by the fill, if any
    const sizeBefore = fs.statSync(file).size;
    const crossing = bigGroup(fillCount, sizeBefore - journal.position + 4096);
    const crossingCount = recordCount(crossing);
    const groups = [crossing, groupBuffer(fillCount + crossingCount, 2), groupBuffer(fillCount + crossingCount + 2, 4)];
    const writev = fs.writev;
    (fs as { writev: unknown }).writev = (fd: number, buffers: Buffer[], position: number, callback: (...args: unknown[]) => void): void => {
      const bytes = buffers.reduce((sum, buffer) => sum + buffer.length, 0);
      if (bytes > JOURNAL_PREALLOCATE_BYTES) setTimeout(() => writev(fd, buffers, position, callback), 30);
      else writev(fd, buffers, position, callback);
    };
    try {
      await Promise.all(groups.map((group) => journal.writeAt([group], journal.reserve(group.length))));
    } finally {
      (fs as { writev: unknown }).writev = writev;
    }
    await journal.preallocated();
    const recordBytes = journal.position;
    await journal.sync();
    await journal.close();
    assert.ok(recordBytes < fs.statSync(file).size, 'zeros after the records');
    const total = fillCount + crossingCount + 6;
    assert.deepEqual(await replayOffsets(file), { complete: true, offsets: Array.from({ length: total }, (_, i) => i) });

    // A torn record inside the zeros (nonzero bytes after the last whole record) is not clean.
    const fd = fs.openSync(file, 'r+');
    fs.writeSync(fd, Buffer.from([0, 0, 1, 0, 9, 9]), 0, 6, recordBytes);
    fs.closeSync(fd);
    assert.equal((await replayOffsets(file)).complete, false);
    // Garbage far into the zeros too.
    const fd2 = fs.openSync(file, 'r+');
    fs.writeSync(fd2, Buffer.alloc(6), 0, 6, recordBytes);
    fs.writeSync(fd2, Buffer.from([1]), 0, 1, fs.statSync(file).size - 10);
    fs.closeSync(fd2);
    assert.equal((await replayOffsets(file)).complete, false);
  } finally {
    removeDir(dir);
  }
});

for (const io of ['event-loop', 'thread-pool'] as const) {
test(`journal (${io} I/O): a file cut back after a failed write preallocates again from the cut`, async () => {
  const dir = tempDir('strata-journal-');
  try {
    const journal = await JournalFile.create(dir, 1, io);
    const first = groupBuffer(0, 2);
    await journal.writeAt([first], journal.reserve(first.length));
    const failedStart = journal.reserve(100);
    await journal.truncateTo(failedStart);
    const second = groupBuffer(2, 2);
    await journal.writeAt([second], journal.reserve(second.length));
    await journal.close();
    const file = path.join(dir, journalFileName(1));
    assert.equal(fs.statSync(file).size, first.length + second.length + JOURNAL_PREALLOCATE_BYTES);
    assert.deepEqual(await replayOffsets(file), { complete: true, offsets: [0, 1, 2, 3] });
  } finally {
    removeDir(dir);
  }
});
}

for (const io of ['event-loop', 'thread-pool'] as const) {
  test(`journal (${io} I/O): zeros are written ahead in the background; a group running past them extends the file`, async () => {
    const dir = tempDir('strata-journal-');
    try {
      const journal = await JournalFile.create(dir, 1, io);
      const file = path.join(dir, journalFileName(1));
      const first = groupBuffer(0, 3);
      await journal.writeAt([first], journal.reserve(first.length));
      assert.equal(fs.statSync(file).size, JOURNAL_PREALLOCATE_BYTES, 'the first group lands in zeros written at creation');
      assert.ok(fs.readFileSync(file).subarray(0, first.length).equals(first));
      // Past JOURNAL_PREALLOCATE_AHEAD_BYTES from the end of the zeros, the next zeros follow.
      const second = bigGroup(3, JOURNAL_PREALLOCATE_BYTES - JOURNAL_PREALLOCATE_AHEAD_BYTES + 1024);
      const secondCount = recordCount(second);
      await journal.writeAt([second], journal.reserve(second.length));
      await journal.preallocated();
      assert.equal(fs.statSync(file).size, 2 * JOURNAL_PREALLOCATE_BYTES, 'extended ahead, off the write path');
      // A group larger than all the zeros left extends the file right after itself.
      const big = bigGroup(3 + secondCount, 2 * JOURNAL_PREALLOCATE_BYTES - journal.position + 1024);
      const bigCount = recordCount(big);
      const bigStart = journal.reserve(big.length);
      await journal.writeAt([big], bigStart);
      await journal.preallocated();
      assert.ok(fs.statSync(file).size >= bigStart + big.length + JOURNAL_PREALLOCATE_BYTES);
      await journal.sync();
      await journal.close();
      const replayed = await replayOffsets(file);
      assert.equal(replayed.complete, true);
      assert.deepEqual(replayed.offsets, Array.from({ length: 3 + secondCount + bigCount }, (_, i) => i));
    } finally {
      removeDir(dir);
    }
  });
}

test('journal record header written apart from its batch equals the whole record, and parses', () => {
  for (const size of [10, 1024, 70 * 1024, 1024 * 1024]) {
    const batch = encodeRecordBatch([{ key: null, value: Buffer.alloc(size, 0x5a), headers: [], timestamp: 1 }]);
    setBaseOffset(batch, 12345);
    const whole = Buffer.alloc(JOURNAL_RECORD_HEADER_BYTES + batch.length);
    writeJournalRecord(whole, 0, 9, 3, batch);
    const header = Buffer.alloc(JOURNAL_RECORD_HEADER_BYTES + 7);
    writeJournalRecordHeader(header, 7, 9, 3, batch);
    const apart = Buffer.concat([header.subarray(7), batch]);
    assert.ok(apart.equals(whole), `${size}: same bytes`);
    const parsed = parseJournalRecord(apart, 0);
    assert.equal(parsed.kind, 'record');
    if (parsed.kind === 'record') {
      assert.equal(parsed.record.topicId, 9);
      assert.equal(parsed.record.partition, 3);
      assert.ok(parsed.record.batch.equals(batch));
    }
  }
});

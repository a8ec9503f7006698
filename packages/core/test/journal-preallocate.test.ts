// Journal preallocation: group writes that extend the file append zeros, later groups overwrite
// them; replay must read an all-zero remainder as a clean end and anything else as a torn tail.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { encodeRecordBatch } from '../src/record-batch/index.js';
import { setBaseOffset } from '../src/record-batch/header.js';
import { JOURNAL_RECORD_HEADER_BYTES, parseJournalRecord, writeJournalRecord, writeJournalRecordHeader } from '../src/storage/journal-format.js';
import { JOURNAL_PREALLOCATE_BYTES, JournalFile, journalFileName, replayJournalFile } from '../src/storage/journal.js';
import { message, removeDir, tempDir } from './log-helpers.js';

function groupBuffer(firstOffset: number, count: number): Buffer {
  const batches = Array.from({ length: count }, (_, i) => {
    const batch = encodeRecordBatch([message(`value-${firstOffset + i}`)]);
    setBaseOffset(batch, firstOffset + i);
    return batch;
  });
  const buffer = Buffer.alloc(batches.reduce((sum, batch) => sum + JOURNAL_RECORD_HEADER_BYTES + batch.length, 0));
  let at = 0;
  for (const batch of batches) at += writeJournalRecord(buffer, at, 7, 0, batch);
  return buffer;
}

async function replayOffsets(file: string): Promise<{ complete: boolean; offsets: number[] }> {
  const offsets: number[] = [];
  const result = await replayJournalFile(file, async (record) => {
    offsets.push(Number(record.batch.readBigInt64BE(0)));
  });
  return { complete: result.complete, offsets };
}

test('journal (thread-pool I/O): groups written together land whole; the zero tail replays as a clean end', async () => {
  const dir = tempDir('strata-journal-');
  try {
    const journal = await JournalFile.create(dir, 1, 'thread-pool');
    // Three groups in flight at once: the first extends the file with zeros, the later two land
    // inside those zeros and must not be overwritten by them. The extending write is held back so
    // that, without the wait, the later writes would reach the file first.
    const groups = [groupBuffer(0, 3), groupBuffer(3, 2), groupBuffer(5, 4)];
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
    const recordBytes = journal.position;
    await journal.sync();
    await journal.close();
    const file = path.join(dir, journalFileName(1));
    assert.equal(fs.statSync(file).size, groups[0]!.length + JOURNAL_PREALLOCATE_BYTES, 'preallocated once');
    assert.ok(recordBytes < fs.statSync(file).size);
    assert.deepEqual(await replayOffsets(file), { complete: true, offsets: [0, 1, 2, 3, 4, 5, 6, 7, 8] });

    // A torn record inside the zeros (nonzero bytes after the last whole record) is not clean.
    const fd = fs.openSync(file, 'r+');
    fs.writeSync(fd, Buffer.from([0, 0, 1, 0, 9, 9]), 0, 6, recordBytes);
    fs.closeSync(fd);
    assert.deepEqual(await replayOffsets(file), { complete: false, offsets: [0, 1, 2, 3, 4, 5, 6, 7, 8] });
    // Garbage far into the zeros too.
    const fd2 = fs.openSync(file, 'r+');
    fs.writeSync(fd2, Buffer.alloc(6), 0, 6, recordBytes);
    fs.writeSync(fd2, Buffer.from([1]), 0, 1, recordBytes + JOURNAL_PREALLOCATE_BYTES - 10);
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

test('journal (event-loop I/O): each write is in the file when writeAt returns; extensions preallocate zeros', async () => {
  const dir = tempDir('strata-journal-');
  try {
    const journal = await JournalFile.create(dir, 1, 'event-loop');
    const file = path.join(dir, journalFileName(1));
    const first = groupBuffer(0, 3);
    const written = journal.writeAt([first], journal.reserve(first.length));
    // Synchronous: the bytes are in the file before the promise is even awaited.
    assert.equal(fs.statSync(file).size, first.length + JOURNAL_PREALLOCATE_BYTES);
    assert.ok(fs.readFileSync(file).subarray(0, first.length).equals(first));
    await written;
    const second = groupBuffer(3, 4);
    await journal.writeAt([second], journal.reserve(second.length));
    assert.equal(fs.statSync(file).size, first.length + JOURNAL_PREALLOCATE_BYTES, 'overwrites the zeros, no growth');
    // A group that runs past the zeros extends the file again, with zeros after itself.
    let count = 0;
    while (count * 100 < JOURNAL_PREALLOCATE_BYTES) count += 5000;
    const big = groupBuffer(7, count);
    assert.ok(journal.position + big.length > first.length + JOURNAL_PREALLOCATE_BYTES);
    const bigStart = journal.reserve(big.length);
    await journal.writeAt([big], bigStart);
    assert.equal(fs.statSync(file).size, bigStart + big.length + JOURNAL_PREALLOCATE_BYTES);
    await journal.sync();
    await journal.close();
    const replayed = await replayOffsets(file);
    assert.equal(replayed.complete, true);
    assert.deepEqual(replayed.offsets, Array.from({ length: 7 + count }, (_, i) => i));
  } finally {
    removeDir(dir);
  }
});

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

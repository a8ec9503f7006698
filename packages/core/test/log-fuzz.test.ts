import { seededRandom } from '../src/random.js';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { openCoreImpl } from '../src/open-core.js';
import { decodeRecordBatch, encodeRecordBatch } from '../src/record-batch/index.js';
import { parseJournalRecord, writeJournalRecord, JOURNAL_RECORD_HEADER_BYTES } from '../src/storage/journal-format.js';
import { message, removeDir, tempDir, TOPIC } from './log-helpers.js';


test('journal record parser: random, truncated and bit-flipped input never throws or passes', () => {
  const random = seededRandom(42);
  const batch = encodeRecordBatch([message('fuzz', { key: 'k' })], { baseOffset: 3 });
  const record = Buffer.alloc(JOURNAL_RECORD_HEADER_BYTES + batch.length);
  writeJournalRecord(record, 0, 5, 7, 1, batch);
  const parsed = parseJournalRecord(record, 0, 5);
  assert.equal(parsed.kind, 'record');
  for (let i = 0; i < 5000; i++) {
    const mode = i % 3;
    let input: Buffer;
    if (mode === 0) {
      input = Buffer.from(Array.from({ length: Math.floor(random() * 200) }, () => Math.floor(random() * 256)));
    } else if (mode === 1) {
      input = record.subarray(0, Math.floor(random() * record.length));
    } else {
      input = Buffer.from(record);
      const at = Math.floor(random() * input.length);
      input[at] ^= 1 << Math.floor(random() * 8);
    }
    const result = parseJournalRecord(input, 0, 5);
    if (mode === 1) assert.equal(result.kind, 'need', 'a truncated record asks for more bytes');
    if (mode === 2) assert.notEqual(result.kind, 'record', `a flipped bit is detected (iteration ${i})`);
  }
  // An absurd length is invalid at once, not a request to read 4 GB.
  const huge = Buffer.from(record);
  huge.writeUInt32BE(0xfffffff0, 0);
  assert.equal(parseJournalRecord(huge, 0, 5).kind, 'invalid');
});

test('recovery from random garbage at segment and journal tails keeps a dense prefix', async () => {
  const random = seededRandom(7);
  for (let round = 0; round < 8; round++) {
    const dir = tempDir();
    try {
      const core = await openCoreImpl({ dataDir: dir }, { tuning: { checkpointIntervalMs: 1e9 } });
      await core.topics.create(TOPIC);
      for (let i = 0; i < 30; i++) await core.append(TOPIC, 0, { kind: 'messages', messages: [message(`v${i}`)] });
      await core.log.flushSegments();
      fs.rmSync(path.join(dir, 'LOCK')); // as after kill -9
      const logDir = path.join(dir, 'log');
      const partitionDir = path.join(logDir, fs.readdirSync(logDir)[0]!, '0');
      const segment = path.join(partitionDir, fs.readdirSync(partitionDir).find((name) => name.endsWith('.log'))!);
      const journalDir = path.join(dir, 'journal');
      const journal = path.join(journalDir, fs.readdirSync(journalDir).sort().pop()!);
      const garbage = (): Buffer => Buffer.from(Array.from({ length: 1 + Math.floor(random() * 300) }, () => Math.floor(random() * 256)));
      if (round % 2 === 0) fs.appendFileSync(segment, garbage());
      else fs.truncateSync(segment, Math.floor(random() * fs.statSync(segment).size));
      if (round % 3 === 0) fs.appendFileSync(journal, garbage());

      const reopened = await openCoreImpl({ dataDir: dir });
      const { highWatermark } = reopened.offsets(TOPIC, 0);
      assert.equal(highWatermark, 30, `round ${round}: the journal restores every acknowledged append`);
      const read = await reopened.read(TOPIC, 0, { offset: 0, maxBytes: 1 << 20 });
      const values = read.entries.flatMap((entry) => decodeRecordBatch(entry.bytes).messages.map((m) => `${m.offset}:${m.value!.toString()}`));
      assert.deepEqual(values, Array.from({ length: 30 }, (_, i) => `${i}:v${i}`));
      await reopened.close();
    } finally {
      removeDir(dir);
    }
  }
});

test('fsync policy interval: appends are acknowledged and survive a reopen', async () => {
  const dir = tempDir();
  try {
    let core = await openCoreImpl({ dataDir: dir, fsync: { kind: 'interval', intervalMs: 20 } });
    await core.topics.create(TOPIC);
    const results = await Promise.all(Array.from({ length: 50 }, (_, i) => core.append(TOPIC, 0, { kind: 'messages', messages: [message(`i${i}`)] })));
    assert.deepEqual(results.map((r) => r.baseOffset).sort((a, b) => a - b), Array.from({ length: 50 }, (_, i) => i));
    await new Promise((resolve) => setTimeout(resolve, 60)); // an interval fsync runs
    fs.rmSync(path.join(dir, 'LOCK'));
    core = await openCoreImpl({ dataDir: dir });
    assert.equal(core.offsets(TOPIC, 0).highWatermark, 50);
    await core.close();
    await assert.rejects(openCoreImpl({ dataDir: dir, fsync: { kind: 'interval', intervalMs: 0 } }), /invalid fsync policy/);
  } finally {
    removeDir(dir);
  }
});

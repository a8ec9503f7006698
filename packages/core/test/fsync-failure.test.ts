// What the core does when an fsync fails (docs/storage.md "When an fsync fails"): the failed
// storage state, the rewrite marker, and recovery's forced rewrite of the segments from the journal.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import type { FsyncPolicy } from '../src/core.js';
import { isStrataError, type StrataError } from '../src/errors.js';
import { openCoreImpl, type CoreImpl } from '../src/open-core.js';
import { decodeRecordBatch } from '../src/record-batch/decode.js';
import { encodeRecordBatch } from '../src/record-batch/encode.js';
import { setBaseOffset, verifyBatchCrc } from '../src/record-batch/header.js';
import { batchBaseOffset, batchTotalBytes } from '../src/log/batch-fields.js';
import { REWRITE_MARKER_FILE } from '../src/storage/rewrite-marker.js';
import type { JournalFile } from '../src/storage/journal.js';
import { eio, FailingStorage } from './support/failing-storage.js';
import { message, removeDir, tempDir, TOPIC, until } from './log-helpers.js';

/** Checkpoints only when a test asks for one. */
const TUNING = { checkpointIntervalMs: 1e9 };
const TIMESTAMP = 1_700_000_000_000;

function valueOf(i: number): string {
  return `value-${String(i).padStart(4, '0')}`;
}

async function appendValues(core: CoreImpl, from: number, to: number): Promise<void> {
  for (let i = from; i < to; i++) {
    const result = await core.append(TOPIC, 0, { kind: 'messages', messages: [message(valueOf(i), { timestamp: TIMESTAMP })] });
    assert.equal(result.baseOffset, i);
  }
}

async function readValues(core: CoreImpl): Promise<string[]> {
  const result = await core.read(TOPIC, 0, { offset: 0, maxBytes: 1 << 20 });
  try {
    return result.entries.flatMap((entry) => decodeRecordBatch(entry.bytes).messages.map((m) => m.value!.toString()));
  } finally {
    result.release();
  }
}

function journalFiles(dir: string): string[] {
  return fs.readdirSync(path.join(dir, 'journal')).filter((name) => name.endsWith('.jnl')).sort();
}

function markerExists(dir: string): boolean {
  return fs.existsSync(path.join(dir, 'journal', REWRITE_MARKER_FILE));
}

function isFatalStorageError(error: unknown): boolean {
  return isStrataError(error, 'STORAGE_ERROR') && error.retriable === false;
}

/** The partition's only segment file. */
function segmentFile(dir: string): string {
  const logDir = path.join(dir, 'log');
  const [topicId] = fs.readdirSync(logDir).filter((name) => /^\d+$/.test(name));
  const partitionDir = path.join(logDir, topicId!, '0');
  const segments = fs.readdirSync(partitionDir).filter((name) => name.endsWith('.log'));
  assert.equal(segments.length, 1);
  return path.join(partitionDir, segments[0]!);
}

/**
 * Replaces the batch of `offset` in the segment file by another valid batch of the same size and
 * offset ("page cache shows other bytes than the journal"): a segment scan accepts it.
 */
function replaceBatchInSegment(file: string, offset: number, value: string): void {
  const bytes = fs.readFileSync(file);
  let position = 0;
  for (let steps = 0; steps < 10_000 && position < bytes.length; steps++) {
    const total = batchTotalBytes(bytes, position);
    if (batchBaseOffset(bytes, position) === offset) {
      const replacement = encodeRecordBatch([message(value, { timestamp: TIMESTAMP })]);
      setBaseOffset(replacement, offset);
      assert.equal(replacement.length, total, 'the replacement batch has the same size');
      assert.ok(verifyBatchCrc(replacement));
      const fd = fs.openSync(file, 'r+');
      try {
        fs.writeSync(fd, replacement, 0, replacement.length, position);
      } finally {
        fs.closeSync(fd);
      }
      return;
    }
    position += total;
  }
  assert.fail(`no batch at offset ${offset} in ${file}`);
}

function waitFor<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Makes the journal file's next `count` fsyncs fail with EIO. */
function failJournalSyncs(journal: JournalFile, count: number): { failed: () => number } {
  const original = journal.sync.bind(journal);
  let left = count;
  let failed = 0;
  (journal as { sync: () => Promise<void> }).sync = async () => {
    if (left > 0) {
      left--;
      failed++;
      throw eio('fdatasync journal');
    }
    await original();
  };
  return { failed: () => failed };
}

/** Runs a checkpoint whose first segment fsync fails with EIO, and waits until the failed state is announced. */
async function checkpointWithFailedFsync(core: CoreImpl, storage: FailingStorage): Promise<void> {
  storage.failSyncs = 1;
  await core.log.checkpoint();
  await core.log.storageFailure.settled();
}

test('a failed checkpoint fsync: appends refused (not retriable), reads go on, journals kept, marker written; a restart rewrites the segment from the journal', async () => {
  const dir = tempDir('strata-fsyncgate-');
  const control = tempDir('strata-fsyncgate-control-');
  let core: CoreImpl | null = null;
  try {
    const storage = new FailingStorage(dir);
    core = await openCoreImpl({ dataDir: dir }, { tuning: TUNING, segmentStorage: storage });
    await core.topics.create(TOPIC);
    await appendValues(core, 0, 5);
    await core.log.checkpoint(); // a good checkpoint: offsets 0-4 are durable in the segment
    assert.equal(storage.failedSyncs, 0);
    await appendValues(core, 5, 10);

    const failures: StrataError[] = [];
    core.onStorageFailure((error) => failures.push(error));
    await checkpointWithFailedFsync(core, storage);
    assert.equal(storage.failedSyncs, 1);
    assert.equal(failures.length, 1);
    assert.ok(isFatalStorageError(failures[0]), String(failures[0]));
    assert.ok(markerExists(dir), 'the rewrite marker is on disk');

    await assert.rejects(core.append(TOPIC, 0, { kind: 'messages', messages: [message('refused')] }), isFatalStorageError);
    const concurrent = await Promise.allSettled(Array.from({ length: 5 }, () => core!.append(TOPIC, 0, { kind: 'messages', messages: [message('refused')] })));
    assert.ok(concurrent.every((result) => result.status === 'rejected' && isFatalStorageError(result.reason)));
    assert.deepEqual(await readValues(core), Array.from({ length: 10 }, (_, i) => valueOf(i)));
    assert.equal(core.offsets(TOPIC, 0).highWatermark, 10);

    // Later checkpoints trust no fsync and retire nothing.
    const journalsAfterFailure = journalFiles(dir);
    const syncsAfterFailure = storage.syncs;
    await core.log.checkpoint();
    await core.log.checkpoint();
    assert.deepEqual(journalFiles(dir), journalsAfterFailure);
    assert.equal(storage.syncs, syncsAfterFailure, 'no fsync after the failure');
    assert.equal(storage.failedSyncs, 1);
    // A listener registered after the failure still hears of it.
    const late = await waitFor(new Promise<StrataError>((resolve) => core!.onStorageFailure(resolve)), 1000, 'a late listener');
    assert.ok(isFatalStorageError(late));
    await core.close();
    core = null;
    for (const name of journalsAfterFailure) assert.ok(journalFiles(dir).includes(name), `journal ${name} kept across close`);
    assert.ok(markerExists(dir));

    // "Lost pages": offset 7's bytes in the segment are other, valid bytes. A segment scan accepts them.
    replaceBatchInSegment(segmentFile(dir), 7, 'WRONG-0007');

    // Control: without the marker, recovery trusts the segment (this is what the marker prevents).
    fs.cpSync(dir, control, { recursive: true });
    fs.rmSync(path.join(control, 'journal', REWRITE_MARKER_FILE));
    const trusting = await openCoreImpl({ dataDir: control }, { tuning: TUNING });
    try {
      assert.equal((await readValues(trusting))[7], 'WRONG-0007');
    } finally {
      await trusting.close();
    }

    // With the marker: the segment is rewritten from the journal, checkpointed, the marker removed.
    core = await openCoreImpl({ dataDir: dir }, { tuning: TUNING });
    assert.deepEqual(await readValues(core), Array.from({ length: 10 }, (_, i) => valueOf(i)));
    assert.ok(!markerExists(dir), 'the marker is removed after the rewrite was checkpointed');
    await appendValues(core, 10, 12);
    await core.close();
    core = null;
    // The rewritten bytes are in the file itself, not only in memory.
    core = await openCoreImpl({ dataDir: dir }, { tuning: TUNING });
    assert.deepEqual(await readValues(core), Array.from({ length: 12 }, (_, i) => valueOf(i)));
  } finally {
    await core?.close();
    removeDir(dir);
    removeDir(control);
  }
});

test('the rewrite cuts sealed segments too: later segments are removed and written again from the journal', async () => {
  const dir = tempDir('strata-fsyncgate-sealed-');
  let core: CoreImpl | null = null;
  try {
    const storage = new FailingStorage(dir);
    core = await openCoreImpl({ dataDir: dir, defaultPolicies: { segmentEntriesMax: 3 } }, { tuning: TUNING, segmentStorage: storage });
    await core.topics.create(TOPIC);
    await appendValues(core, 0, 4);
    await core.log.checkpoint();
    await appendValues(core, 4, 14); // segments roll every 3 entries: several sealed since the checkpoint
    await checkpointWithFailedFsync(core, storage);
    assert.ok(core.log.storageFailure.failed);
    await core.close();
    core = null;
    const partitionDir = path.dirname(findSegment(dir, 6));
    replaceBatchInSegment(findSegment(dir, 6), 7, 'WRONG-0007');
    replaceBatchInSegment(findSegment(dir, 12), 13, 'WRONG-0013');
    core = await openCoreImpl({ dataDir: dir, defaultPolicies: { segmentEntriesMax: 3 } }, { tuning: TUNING });
    assert.deepEqual(await readValues(core), Array.from({ length: 14 }, (_, i) => valueOf(i)));
    assert.ok(!markerExists(dir));
    assert.ok(fs.readdirSync(partitionDir).some((name) => name.endsWith('.log')));
  } finally {
    await core?.close();
    removeDir(dir);
  }
});

/** The segment file holding `offset` (bases from the file names). */
function findSegment(dir: string, offset: number): string {
  const logDir = path.join(dir, 'log');
  const [topicId] = fs.readdirSync(logDir).filter((name) => /^\d+$/.test(name));
  const partitionDir = path.join(logDir, topicId!, '0');
  const bases = fs
    .readdirSync(partitionDir)
    .filter((name) => name.endsWith('.log'))
    .map((name) => Number(name.slice(0, -4)))
    .sort((a, b) => a - b);
  const base = bases.filter((b) => b <= offset).pop();
  assert.ok(base !== undefined);
  return path.join(partitionDir, `${String(base).padStart(20, '0')}.log`);
}

test('interval policy: a failed journal fsync enters the failed state (its appends were acknowledged already)', async () => {
  const dir = tempDir('strata-fsyncgate-interval-');
  let core: CoreImpl | null = null;
  const fsync: FsyncPolicy = { kind: 'interval', intervalMs: 200 };
  try {
    core = await openCoreImpl({ dataDir: dir, fsync }, { tuning: TUNING });
    await core.topics.create(TOPIC);
    const failed = new Promise<StrataError>((resolve) => core!.onStorageFailure(resolve));
    const failingSyncs = failJournalSyncs(core.log.journalInUse(), 1);
    // Acknowledged together, before the interval's fsync (queue order gives offsets 0, 1, 2).
    const results = await Promise.all([0, 1, 2].map((i) => core!.append(TOPIC, 0, { kind: 'messages', messages: [message(valueOf(i), { timestamp: TIMESTAMP })] })));
    assert.deepEqual(results.map((result) => result.baseOffset), [0, 1, 2]);
    const error = await waitFor(failed, 3000, 'the storage failure');
    assert.equal(failingSyncs.failed(), 1);
    assert.ok(isFatalStorageError(error));
    assert.ok(markerExists(dir));
    await assert.rejects(core.append(TOPIC, 0, { kind: 'messages', messages: [message('refused')] }), isFatalStorageError);
    assert.deepEqual(await readValues(core), [valueOf(0), valueOf(1), valueOf(2)]);
    const journals = journalFiles(dir);
    await core.log.checkpoint();
    assert.deepEqual(journalFiles(dir), journals, 'no journal retired');
    await core.close();
    core = null;

    core = await openCoreImpl({ dataDir: dir, fsync }, { tuning: TUNING });
    assert.deepEqual(await readValues(core), [valueOf(0), valueOf(1), valueOf(2)]);
    assert.ok(!markerExists(dir));
    await appendValues(core, 3, 4);
  } finally {
    await core?.close();
    removeDir(dir);
  }
});

test("a failed fsync of a journal's end record at a rotation enters the failed state (a retry could succeed without it)", async () => {
  const dir = tempDir('strata-fsyncgate-finish-');
  let core: CoreImpl | null = null;
  try {
    core = await openCoreImpl({ dataDir: dir }, { tuning: TUNING });
    await core.topics.create(TOPIC);
    await appendValues(core, 0, 2);
    failJournalSyncs(core.log.journalInUse(), 1);
    await assert.rejects(core.log.checkpoint(), /fsync of journal/);
    await core.log.storageFailure.settled();
    assert.ok(core.log.storageFailure.failed);
    assert.ok(markerExists(dir));
    await assert.rejects(core.append(TOPIC, 0, { kind: 'messages', messages: [message('refused')] }), isFatalStorageError);
    await core.close();
    core = null;
    core = await openCoreImpl({ dataDir: dir }, { tuning: TUNING });
    assert.deepEqual(await readValues(core), [valueOf(0), valueOf(1)]);
    assert.ok(!markerExists(dir));
  } finally {
    await core?.close();
    removeDir(dir);
  }
});

test('a failed segment fsync before an index file is written enters the failed state', async () => {
  const dir = tempDir('strata-fsyncgate-summary-');
  let core: CoreImpl | null = null;
  try {
    const storage = new FailingStorage(dir);
    core = await openCoreImpl({ dataDir: dir, defaultPolicies: { segmentEntriesMax: 2 } }, { tuning: TUNING, segmentStorage: storage });
    await core.topics.create(TOPIC);
    storage.failSyncs = 1; // the first segment fsync is the sealed segment's, before its index file
    await appendValues(core, 0, 6);
    await core.log.flushSegments();
    await waitFor(
      (async () => {
        for (let i = 0; i < 200 && !core!.log.storageFailure.failed; i++) await new Promise((resolve) => setTimeout(resolve, 10));
      })(),
      3000,
      'the failure',
    );
    assert.equal(storage.failedSyncs, 1);
    assert.ok(core.log.storageFailure.failed);
    await core.log.storageFailure.settled();
    assert.ok(markerExists(dir));
  } finally {
    await core?.close();
    removeDir(dir);
  }
});

test('a checkpoint whose fsyncs succeed retires no journal while a segment fsync outside it is still to report its error', async () => {
  const dir = tempDir('strata-fsyncgate-race-');
  let core: CoreImpl | null = null;
  let release = (): void => {};
  try {
    const storage = new FailingStorage(dir);
    core = await openCoreImpl({ dataDir: dir }, { tuning: TUNING, segmentStorage: storage });
    await core.topics.create(TOPIC);
    await appendValues(core, 0, 3);
    // A segment fsync outside the checkpointer (as before an index file, from a flush that runs
    // while the checkpoint does) that reports EIO late.
    const gate = new Promise<void>((resolve) => (release = resolve));
    const other = core.log.storageFailure.trackSync('fsync of a sealed segment', async () => {
      await gate;
      throw eio('fdatasync segment');
    });
    const journalsBefore = journalFiles(dir);
    const syncsBefore = storage.syncs;
    const checkpoint = core.log.checkpoint();
    await until(() => storage.syncs > syncsBefore, 3000, "the checkpoint's own fsyncs"); // they succeed
    await new Promise((resolve) => setTimeout(resolve, 100));
    for (const name of journalsBefore) assert.ok(journalFiles(dir).includes(name), `journal ${name} kept while the other fsync runs`);
    assert.equal(core.log.stats().checkpoints, 1, 'only the recovery checkpoint completed');
    release();
    await assert.rejects(other, /EIO/);
    await checkpoint;
    await core.log.storageFailure.settled();
    assert.ok(core.log.storageFailure.failed, 'the late EIO entered the failed state');
    for (const name of journalsBefore) assert.ok(journalFiles(dir).includes(name), `journal ${name} kept after the checkpoint`);
    assert.equal(core.log.stats().checkpoints, 1);
    assert.ok(markerExists(dir));
  } finally {
    release();
    await core?.close();
    removeDir(dir);
  }
});

test('the rewrite keeps the log dense when deleteRecordsBefore moved the log start past the first journal record', async () => {
  const dir = tempDir('strata-fsyncgate-logstart-');
  let core: CoreImpl | null = null;
  try {
    const storage = new FailingStorage(dir);
    core = await openCoreImpl({ dataDir: dir }, { tuning: TUNING, segmentStorage: storage });
    await core.topics.create(TOPIC);
    await appendValues(core, 0, 4);
    await core.log.checkpoint();
    await appendValues(core, 4, 10); // the journal starts at offset 4
    assert.equal(await core.deleteRecordsBefore(TOPIC, 0, 7), 7);
    await checkpointWithFailedFsync(core, storage);
    assert.ok(core.log.storageFailure.failed);
    await core.close();
    core = null;
    replaceBatchInSegment(segmentFile(dir), 8, 'WRONG-0008');

    core = await openCoreImpl({ dataDir: dir }, { tuning: TUNING });
    assert.equal(core.offsets(TOPIC, 0).logStartOffset, 7);
    assert.equal(core.offsets(TOPIC, 0).highWatermark, 10);
    const read = await core.read(TOPIC, 0, { offset: 7, maxBytes: 1 << 20 });
    assert.deepEqual(
      read.entries.map((entry) => decodeRecordBatch(entry.bytes).messages[0]!.value!.toString()),
      [valueOf(7), valueOf(8), valueOf(9)],
    );
    await appendValues(core, 10, 12);
    await core.close();
    core = null;
    core = await openCoreImpl({ dataDir: dir }, { tuning: TUNING });
    assert.equal(core.offsets(TOPIC, 0).highWatermark, 12, 'the rewritten segment scans whole after another restart');
    const again = await core.read(TOPIC, 0, { offset: 7, maxBytes: 1 << 20 });
    assert.deepEqual(
      again.entries.map((entry) => decodeRecordBatch(entry.bytes).messages[0]!.value!.toString()),
      [7, 8, 9, 10, 11].map(valueOf),
    );
  } finally {
    await core?.close();
    removeDir(dir);
  }
});

/** Runs `body` with a fake coreutils `sync` first on PATH that writes `stderr` and exits 1. */
async function withFakeSync(stderr: string, body: () => Promise<void>): Promise<void> {
  const bin = tempDir('strata-fake-sync-');
  fs.writeFileSync(path.join(bin, 'sync'), `#!/bin/sh\necho "${stderr}" >&2\nexit 1\n`, { mode: 0o755 });
  const pathBefore = process.env['PATH'];
  process.env['PATH'] = `${bin}:${pathBefore ?? ''}`;
  try {
    await body();
  } finally {
    process.env['PATH'] = pathBefore;
    removeDir(bin);
  }
}

test('syncfs: `sync -f` reporting an error enters the failed state; `sync -f` refusing its arguments falls back to fsyncs', async () => {
  const tuning = { ...TUNING, checkpointSyncfsFilesMin: 1 };
  for (const [stderr, fails] of [
    ["sync: error syncing '/data/log': Input/output error", true],
    ["sync: invalid option -- 'f'", false],
  ] as const) {
    const dir = tempDir('strata-fsyncgate-syncfs-');
    let core: CoreImpl | null = null;
    try {
      core = await openCoreImpl({ dataDir: dir }, { tuning });
      await core.topics.create(TOPIC);
      await appendValues(core, 0, 3);
      await withFakeSync(stderr, () => core!.log.checkpoint());
      await core.log.storageFailure.settled();
      assert.equal(core.log.storageFailure.failed !== null, fails, stderr);
      assert.equal(markerExists(dir), fails);
      if (!fails) await appendValues(core, 3, 4);
    } finally {
      await core?.close();
      removeDir(dir);
    }
  }
});

test('a restart on a disk that still fails opens in the failed state (the host exits again); the next good start repairs', async () => {
  const dir = tempDir('strata-fsyncgate-again-');
  let core: CoreImpl | null = null;
  try {
    let storage = new FailingStorage(dir);
    core = await openCoreImpl({ dataDir: dir }, { tuning: TUNING, segmentStorage: storage });
    await core.topics.create(TOPIC);
    await appendValues(core, 0, 3);
    await core.log.checkpoint();
    await appendValues(core, 3, 6);
    storage.failSyncs = 1;
    await core.log.checkpoint();
    await core.close();
    core = null;
    replaceBatchInSegment(segmentFile(dir), 4, 'WRONG-0004');

    // The recovery checkpoint's fsync fails again: the core opens, failed, the marker stays.
    storage = new FailingStorage(dir);
    storage.failSyncs = 1;
    core = await openCoreImpl({ dataDir: dir }, { tuning: TUNING, segmentStorage: storage });
    const error = await waitFor(new Promise<StrataError>((resolve) => core!.onStorageFailure(resolve)), 1000, 'the failure at open');
    assert.ok(isFatalStorageError(error));
    assert.equal(storage.failedSyncs, 1);
    assert.ok(markerExists(dir));
    assert.deepEqual(await readValues(core), [0, 1, 2, 3, 4, 5].map(valueOf), 'the rewrite is served from memory');
    await assert.rejects(core.append(TOPIC, 0, { kind: 'messages', messages: [message('refused')] }), isFatalStorageError);
    await core.close();
    core = null;
    replaceBatchInSegment(segmentFile(dir), 5, 'WRONG-0005'); // lost again

    core = await openCoreImpl({ dataDir: dir }, { tuning: TUNING });
    assert.deepEqual(await readValues(core), [0, 1, 2, 3, 4, 5].map(valueOf));
    assert.ok(!markerExists(dir));
    await appendValues(core, 6, 7);
  } finally {
    await core?.close();
    removeDir(dir);
  }
});

// Write-behind segment fsyncs (StorageTuning.segmentSyncBytes, segment-flusher.ts `syncBehind`): a
// segment with that many bytes written since its last fsync is fsynced in the background, so a
// checkpoint does not push a journal file's worth of segment writes to the disk at once; a failure
// of one enters the failed storage state like any segment fsync (docs/storage.md "When an fsync fails").
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isStrataError } from '../src/errors.js';
import { openCoreImpl, type CoreImpl } from '../src/open-core.js';
import { decodeRecordBatch } from '../src/record-batch/decode.js';
import { FailingStorage } from './support/failing-storage.js';
import { message, removeDir, tempDir, TOPIC, until } from './log-helpers.js';

const VALUE_BYTES = 1000;
/** No checkpoint unless asked; every segment written as soon as a group adds to it. */
const TUNING = { checkpointIntervalMs: 1e9, segmentFlushBytes: 1 };

async function appendMany(core: CoreImpl, count: number): Promise<void> {
  for (let i = 0; i < count; i++) {
    await core.append(TOPIC, 0, { kind: 'messages', messages: [message(`${i}:${'v'.repeat(VALUE_BYTES)}`)] });
  }
}

async function readCount(core: CoreImpl): Promise<number> {
  const result = await core.read(TOPIC, 0, { offset: 0, maxBytes: 64 << 20 });
  try {
    return result.entries.reduce((sum, entry) => sum + decodeRecordBatch(entry.bytes).messages.length, 0);
  } finally {
    result.release();
  }
}

for (const segmentSyncBytes of [0, 16 * 1024]) {
  test(`segmentSyncBytes ${segmentSyncBytes}: segment fsyncs between checkpoints ${segmentSyncBytes > 0 ? 'every ~16 KiB written' : 'none'}`, async () => {
    const dir = tempDir('strata-sync-behind-');
    let core: CoreImpl | null = null;
    try {
      const storage = new FailingStorage(dir);
      core = await openCoreImpl({ dataDir: dir }, { tuning: { ...TUNING, segmentSyncBytes }, segmentStorage: storage });
      await core.topics.create(TOPIC);
      const syncsBefore = storage.syncs;
      await appendMany(core, 200); // ~200 KiB
      await core.log.flushSegments();
      if (segmentSyncBytes === 0) {
        assert.equal(core.log.stats().syncsBehind, 0);
        assert.equal(storage.syncs, syncsBefore, 'no segment fsync without a checkpoint');
      } else {
        await until(() => storage.syncs - syncsBefore >= 5, 3000, 'write-behind fsyncs');
        // At most one in flight, so fewer than one per 16 KiB is fine; none at all is not.
        const started = core.log.stats().syncsBehind;
        assert.ok(started >= 5 && started <= 200 * (VALUE_BYTES + 100) / segmentSyncBytes + 1, `write-behind fsyncs started: ${started}`);
      }
      assert.equal(await readCount(core), 200);
      await core.close();
      core = await openCoreImpl({ dataDir: dir }, { tuning: { ...TUNING, segmentSyncBytes } });
      assert.equal(await readCount(core), 200, 'everything is back after a restart');
    } finally {
      await core?.close();
      removeDir(dir);
    }
  });
}

test('a failed write-behind segment fsync enters the failed state: appends refused, reads go on, the rewrite marker written', async () => {
  const dir = tempDir('strata-sync-behind-fail-');
  let core: CoreImpl | null = null;
  try {
    const storage = new FailingStorage(dir);
    core = await openCoreImpl({ dataDir: dir }, { tuning: { ...TUNING, segmentSyncBytes: 16 * 1024 }, segmentStorage: storage });
    await core.topics.create(TOPIC);
    storage.failSyncs = 1;
    // ~40 KiB, past segmentSyncBytes: the write-behind fsync fails while appends go on, and from
    // then on appends are refused. Every acknowledged one must stay readable and come back.
    let acknowledged = 0;
    for (let i = 0; i < 40; i++) {
      try {
        await core.append(TOPIC, 0, { kind: 'messages', messages: [message(`${i}:${'v'.repeat(VALUE_BYTES)}`)] });
        acknowledged++;
      } catch (error) {
        assert.ok(isStrataError(error, 'STORAGE_ERROR') && error.retriable === false, `refused with STORAGE_ERROR: ${String(error)}`);
        break;
      }
    }
    await core.log.flushSegments().catch(() => undefined);
    await until(() => core!.log.storageFailure.failed !== null, 3000, 'the failed state');
    assert.ok(acknowledged >= 16, `appends went on until the write-behind fsync (${acknowledged})`);
    assert.equal(storage.failedSyncs, 1);
    await core.log.storageFailure.settled();
    await assert.rejects(
      core.append(TOPIC, 0, { kind: 'messages', messages: [message('after the failure')] }),
      (error: unknown) => isStrataError(error, 'STORAGE_ERROR') && error.retriable === false,
    );
    assert.equal(await readCount(core), acknowledged, 'acknowledged messages stay readable');
    await core.close();
    core = null;
    // The restart rewrites the segment from the journal (no journal was retired) and appends work again.
    core = await openCoreImpl({ dataDir: dir }, { tuning: TUNING });
    assert.equal(core.log.storageFailure.failed, null);
    assert.equal(await readCount(core), acknowledged);
    await core.append(TOPIC, 0, { kind: 'messages', messages: [message('after the restart')] });
    assert.equal(await readCount(core), acknowledged + 1);
  } finally {
    await core?.close();
    removeDir(dir);
  }
});

// The fsync thread (storage/fsync-thread.ts): with `auto` journal I/O and fsync `always`, a group
// staged while another is in flight has its fdatasync done by a dedicated thread, so the next
// group's JavaScript work overlaps it. What must hold: results in request order with their errors,
// halves that alternate, every acknowledged append durable, a failed fdatasync failing its group
// (and the groups staged on top of it) with nothing left behind.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { StrataError } from '../src/errors.js';
import { silentLogger } from '../src/logger.js';
import { openCoreImpl } from '../src/open-core.js';
import { FsyncThread } from '../src/storage/fsync-thread.js';
import { assertHoldsExactly, message, produceUntil, readValues, removeDir, reopenAbandoned, tempDir, TOPIC, until } from './log-helpers.js';

const PRODUCERS = 40;
const RUN_MS_MAX = 10_000;

/**
 * A descriptor number no process has open (above any RLIMIT_NOFILE): fdatasync on it fails with
 * EBADF. A just-closed descriptor would not do: the core's own opens may reuse its number.
 */
const UNOPENED_DESCRIPTOR = 2 ** 31 - 1;

test('fsync thread: starts on first use, answers in request order, and reports a failed fdatasync as fdatasyncSync would', async () => {
  const dir = tempDir('strata-fsync-thread-');
  const thread = new FsyncThread(silentLogger);
  try {
    assert.equal(thread.usable(), false, 'not running before its first use');
    await until(() => thread.usable(), 10_000, 'the fsync thread to start');
    const fd = fs.openSync(path.join(dir, 'file'), 'w');
    fs.writeSync(fd, 'written');
    const first = thread.request(fd);
    const second = thread.request(fd);
    assert.equal(second, first + 1);
    thread.wait(first);
    thread.wait(second);
    // A failure in the middle: it is that request's, and the next request is served normally.
    const bad = thread.request(UNOPENED_DESCRIPTOR);
    const after = thread.request(fd);
    assert.throws(() => thread.wait(bad), (error: NodeJS.ErrnoException) => error.code === 'EBADF' && error.syscall === 'fdatasync' && error.errno! < 0);
    thread.wait(after);
    assert.throws(() => thread.wait(after), /not outstanding/, 'a result is taken once');
    fs.closeSync(fd);
  } finally {
    await thread.close();
    removeDir(dir);
  }
});

test('auto journal I/O, fsync always: overlapping groups go to the fsync thread as alternating halves; every acknowledged append survives an abandoned run', async () => {
  const dir = tempDir('strata-fsync-thread-core-');
  // `always`: the halves on any disk (by default the schedule chooser may prefer whole groups).
  let core = await openCoreImpl({ dataDir: dir }, { tuning: { checkpointIntervalMs: 50, fsyncThreadHalves: 'always' } });
  try {
    await core.topics.create(TOPIC);
    const before = core.log.stats();
    const acknowledged = await produceUntil(core, PRODUCERS, 'v', () => core.log.stats().journalSyncsInThread >= 200, RUN_MS_MAX);
    const stats = core.log.stats();
    const inThread = stats.journalSyncsInThread - before.journalSyncsInThread;
    assert.ok(inThread >= 200, `the fsync thread took groups (${inThread})`);
    // Without the split, closed-loop producers stay one group of PRODUCERS appends.
    const perGroup = (stats.groupedAppends - before.groupedAppends) / (stats.groups - before.groups);
    assert.ok(perGroup < PRODUCERS * 0.75, `groups are halves (${perGroup.toFixed(1)} appends per group)`);
    assert.ok(stats.checkpoints > before.checkpoints, 'checkpoints ran meanwhile (the loop leaves the event loop turns)');

    core = await reopenAbandoned(core, dir);
    await assertHoldsExactly(core, acknowledged);
  } finally {
    await core.close();
    removeDir(dir);
  }
});

test("auto journal I/O: a failed fdatasync in the fsync thread fails its group and those staged on top, cuts the journal back, and later appends go on", async () => {
  const dir = tempDir('strata-fsync-thread-fail-');
  let core = await openCoreImpl({ dataDir: dir }, { tuning: { checkpointIntervalMs: 1e9, fsyncThreadHalves: 'always' } });
  try {
    await core.topics.create(TOPIC);
    const warm = await produceUntil(core, PRODUCERS, 'warm', () => core.log.stats().journalSyncsInThread >= 10, RUN_MS_MAX);
    assert.ok(core.log.stats().journalSyncsInThread >= 10, 'the fsync thread is taking groups');

    // The thread's next fdatasync gets a descriptor that is not open: EBADF, from the thread itself.
    const journal = core.log.journalInUse();
    const original = journal.writeForThreadSync.bind(journal);
    let broken = 0;
    journal.writeForThreadSync = (buffers, position) => {
      const fd = original(buffers, position);
      return broken++ > 0 ? fd : UNOPENED_DESCRIPTOR;
    };
    const results = await Promise.allSettled(Array.from({ length: PRODUCERS }, (_, i) => core.append(TOPIC, 0, { kind: 'messages', messages: [message(`burst-${i}`)] })));
    journal.writeForThreadSync = original;
    assert.ok(broken >= 1, 'a group went to the thread');
    const refused = results.filter((result) => result.status === 'rejected');
    assert.ok(refused.length > 0, 'the group whose fdatasync failed was refused');
    for (const result of refused) {
      const error = (result as PromiseRejectedResult).reason as StrataError;
      assert.ok(error instanceof StrataError && error.code === 'STORAGE_ERROR', `refused with STORAGE_ERROR: ${String(error)}`);
    }
    const burstAcknowledged = results.flatMap((result, i) => (result.status === 'fulfilled' ? [`burst-${i}`] : []));
    const later = await core.append(TOPIC, 0, { kind: 'messages', messages: [message('later')] });
    assert.ok(later.baseOffset > 0, 'appends go on after the failure');

    // Exactly what was acknowledged, offsets dense (readValues): no refused append is ever served.
    const seen = await readValues(core, 0);
    const expected = new Set([...warm, ...burstAcknowledged, 'later']);
    assert.equal(seen.length, expected.size, 'nothing more, nothing less');
    for (const value of seen) assert.ok(expected.has(value), `${value} was acknowledged`);

    core = await reopenAbandoned(core, dir);
    const replayed = await readValues(core, 0);
    assert.deepEqual(replayed, seen, 'the journal replays exactly what was served');
  } finally {
    await core.close();
    removeDir(dir);
  }
});

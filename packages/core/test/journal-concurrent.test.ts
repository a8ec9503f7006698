/**
 * `concurrent` journal I/O (CoreOptions.journalIo): O_DSYNC group writes in the thread pool, several
 * in flight, each through its own descriptor. The journal's writes are intercepted (fs.writev, which
 * writeAllAt looks up at call time) so that a test can hold one write back and watch the next one
 * being issued beside it.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { test } from 'node:test';
import { isStrataError } from '../src/errors.js';
import { openCoreImpl } from '../src/open-core.js';
import { decodeRecordBatch } from '../src/record-batch/index.js';
import { JOURNAL_WRITES_IN_FLIGHT_MAX } from '../src/storage/journal.js';
import { message, removeDir, tempDir, TOPIC, until } from './log-helpers.js';

type WritevCallback = (error: NodeJS.ErrnoException | null, bytes?: number) => void;
interface JournalWrite {
  readonly fd: number;
  /** Lets the held write go on; with an error, it fails with it instead of writing. */
  release(error?: NodeJS.ErrnoException): void;
  readonly held: boolean;
}

/** Intercepts writev calls on journal files; `hold(n)` holds back the n-th one (0-based). */
function interceptJournalWrites(): { writes: JournalWrite[]; hold: Set<number>; restore: () => void } {
  const original = fs.writev;
  const writes: JournalWrite[] = [];
  const hold = new Set<number>();
  (fs as unknown as { writev: unknown }).writev = (fd: number, buffers: Buffer[], position: number, callback: WritevCallback) => {
    let target = '';
    try {
      target = fs.readlinkSync(`/proc/self/fd/${fd}`);
    } catch {
      // not a journal file
    }
    if (!target.includes('/journal/')) return original(fd, buffers, position, callback);
    const held = hold.has(writes.length);
    let released = false;
    const write: JournalWrite = {
      fd,
      held,
      release(error) {
        if (released) return;
        released = true;
        if (error) setImmediate(() => callback(error));
        else original(fd, buffers, position, callback);
      },
    };
    writes.push(write);
    if (!held) write.release();
  };
  return { writes, hold, restore: () => ((fs as unknown as { writev: unknown }).writev = original) };
}

function valuesOf(batches: readonly Buffer[]): string[] {
  return batches.flatMap((bytes) => decodeRecordBatch(bytes).messages.map((m) => String(m.value)));
}

test('journal (concurrent I/O): an append arriving while a group is being written goes out at once, beside it, through another descriptor, and is acknowledged after it', async () => {
  const dir = tempDir('strata-journal-concurrent-');
  const intercepted = interceptJournalWrites();
  try {
    const core = await openCoreImpl({ dataDir: dir, journalIo: 'concurrent' }, { tuning: { checkpointIntervalMs: 1e9 } });
    try {
      await core.topics.create(TOPIC);
      const first = intercepted.writes.length;
      intercepted.hold.add(first);
      const acknowledged: string[] = [];
      const a = core.append(TOPIC, 0, { kind: 'messages', messages: [message('a')] }).then((result) => (acknowledged.push('a'), result));
      await until(() => intercepted.writes.length > first, 2_000, "the first group's write");
      const b = core.append(TOPIC, 0, { kind: 'messages', messages: [message('b')] }).then((result) => (acknowledged.push('b'), result));
      await until(() => intercepted.writes.length > first + 1, 2_000, 'the second group written while the first is held');
      assert.notEqual(intercepted.writes[first + 1]!.fd, intercepted.writes[first]!.fd, 'each write in flight has its own descriptor');
      await new Promise((resolve) => setTimeout(resolve, 50));
      assert.deepEqual(acknowledged, [], 'the second group, written, waits for the first');
      intercepted.writes[first]!.release();
      const [resultA, resultB] = await Promise.all([a, b]);
      assert.deepEqual(acknowledged, ['a', 'b']);
      assert.equal(resultA.baseOffset, 0);
      assert.equal(resultB.baseOffset, 1);
      const read = await core.read(TOPIC, 0, { offset: 0, maxBytes: 1 << 20 });
      assert.deepEqual(valuesOf(read.entries.map((entry) => entry.bytes)), ['a', 'b']);
    } finally {
      for (const write of intercepted.writes) write.release(); // a failed assertion must not leave close() waiting
      await core.close();
    }
  } finally {
    intercepted.restore();
    removeDir(dir);
  }
});

test(`journal (concurrent I/O): at most ${JOURNAL_WRITES_IN_FLIGHT_MAX} group writes in flight, on distinct descriptors`, async () => {
  const dir = tempDir('strata-journal-concurrent-');
  const intercepted = interceptJournalWrites();
  try {
    const core = await openCoreImpl({ dataDir: dir, journalIo: 'concurrent' }, { tuning: { checkpointIntervalMs: 1e9 } });
    try {
      await core.topics.create(TOPIC);
      const first = intercepted.writes.length;
      for (let i = 0; i < JOURNAL_WRITES_IN_FLIGHT_MAX; i++) intercepted.hold.add(first + i);
      const appends: Promise<unknown>[] = [];
      for (let i = 0; i < JOURNAL_WRITES_IN_FLIGHT_MAX + 2; i++) {
        appends.push(core.append(TOPIC, 0, { kind: 'messages', messages: [message(`m${i}`)] }));
        // One append per turn: each becomes a group of its own while the window has room.
        await until(() => intercepted.writes.length > first + Math.min(i, JOURNAL_WRITES_IN_FLIGHT_MAX - 1), 2_000, `write ${i}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
      const inFlight = intercepted.writes.slice(first);
      assert.equal(inFlight.length, JOURNAL_WRITES_IN_FLIGHT_MAX, 'the window is full: the rest wait in the queue');
      assert.equal(new Set(inFlight.map((write) => write.fd)).size, JOURNAL_WRITES_IN_FLIGHT_MAX, 'distinct descriptors');
      for (const write of inFlight) write.release();
      // The queued appends go out as the window frees.
      await Promise.all(appends);
      assert.ok(intercepted.writes.length > first + JOURNAL_WRITES_IN_FLIGHT_MAX);
      const read = await core.read(TOPIC, 0, { offset: 0, maxBytes: 1 << 20 });
      assert.equal(valuesOf(read.entries.map((entry) => entry.bytes)).length, JOURNAL_WRITES_IN_FLIGHT_MAX + 2);
    } finally {
      for (const write of intercepted.writes) write.release(); // a failed assertion must not leave close() waiting
      await core.close();
    }
  } finally {
    intercepted.restore();
    removeDir(dir);
  }
});

test('journal (concurrent I/O): a failed write fails its group and the groups written beside it; the journal is cut back and later appends reuse the offsets, also after a restart', async () => {
  const dir = tempDir('strata-journal-concurrent-');
  const intercepted = interceptJournalWrites();
  try {
    let core = await openCoreImpl({ dataDir: dir, journalIo: 'concurrent' }, { tuning: { checkpointIntervalMs: 1e9 } });
    try {
      await core.topics.create(TOPIC);
      await core.append(TOPIC, 0, { kind: 'messages', messages: [message('before')] });
      const first = intercepted.writes.length;
      intercepted.hold.add(first);
      const a = core.append(TOPIC, 0, { kind: 'messages', messages: [message('a')] });
      const aFailed = a.then(
        () => null,
        (error: unknown) => error,
      );
      await until(() => intercepted.writes.length > first, 2_000, "the first group's write");
      const b = core.append(TOPIC, 0, { kind: 'messages', messages: [message('b')] });
      const bFailed = b.then(
        () => null,
        (error: unknown) => error,
      );
      await until(() => intercepted.writes.length > first + 1, 2_000, 'the second group written beside it');
      const eio = Object.assign(new Error('EIO: i/o error, write'), { code: 'EIO', errno: -5 });
      intercepted.writes[first]!.release(eio);
      const [errorA, errorB] = await Promise.all([aFailed, bFailed]);
      assert.ok(isStrataError(errorA) && errorA.code === 'STORAGE_ERROR', `a: ${String(errorA)}`);
      assert.ok(isStrataError(errorB) && errorB.code === 'STORAGE_ERROR', `b (written, but after a failed group): ${String(errorB)}`);
      const c = await core.append(TOPIC, 0, { kind: 'messages', messages: [message('c')] });
      assert.equal(c.baseOffset, 1, 'the failed groups left no gap');
      const read = await core.read(TOPIC, 0, { offset: 0, maxBytes: 1 << 20 });
      assert.deepEqual(valuesOf(read.entries.map((entry) => entry.bytes)), ['before', 'c']);
    } finally {
      for (const write of intercepted.writes) write.release();
      await core.close();
    }
    intercepted.restore();
    // b's bytes reached the file, behind a's failed range: the cut removed them, so replay cannot find them.
    core = await openCoreImpl({ dataDir: dir, journalIo: 'concurrent' });
    try {
      const read = await core.read(TOPIC, 0, { offset: 0, maxBytes: 1 << 20 });
      assert.deepEqual(valuesOf(read.entries.map((entry) => entry.bytes)), ['before', 'c']);
      assert.equal(core.offsets(TOPIC, 0).highWatermark, 2);
    } finally {
      for (const write of intercepted.writes) write.release(); // a failed assertion must not leave close() waiting
      await core.close();
    }
  } finally {
    intercepted.restore();
    removeDir(dir);
  }
});

// The segment flusher's hard bound (segment-flusher.ts `afterGroup`): past twice
// segmentPendingBytesMax the group commit waits, but only until the running flush has written
// enough to bring the pending bytes back under twice the bound, not for the whole flush. With
// 10,000 partitions one flush writes 10,000 files; appends used to stop for all of it (785 ms once
// on the development VM, 2026-11-22). Segment writes here are held by the test and let go one at a
// time, so what is asserted is the order of events, not a duration.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Entry } from '../src/core.js';
import { silentLogger } from '../src/logger.js';
import type { PartitionLog } from '../src/log/partition-log.js';
import { SegmentFlusher } from '../src/log/segment-flusher.js';
import type { Segment } from '../src/log/segment.js';

const ENTRY_BYTES = 100;
const PENDING_BYTES_MAX = 1000;

interface HeldWrite {
  readonly segment: string;
  readonly settle: (error?: Error) => void;
}

/** Partitions of one segment each whose segment writes wait until the test lets them go. */
function heldStore(partitions: number): { logs: PartitionLog[]; segments: Segment[]; held: HeldWrite[] } {
  const held: HeldWrite[] = [];
  const logs: PartitionLog[] = [];
  const segments: Segment[] = [];
  for (let p = 0; p < partitions; p++) {
    const segment = {
      path: `/held/${p}/0.log`,
      pending: [] as Entry[],
      pendingBytes: 0,
      writtenBytes: 0,
      writtenSince: -1,
      unsyncedBytes: 0,
      summarized: false,
    } as unknown as Segment;
    const log = {
      dir: `/held/${p}`,
      deleted: false,
      segments: [segment],
      openForWrite: async () => ({
        write: () =>
          new Promise<void>((resolve, reject) => {
            held.push({ segment: segment.path, settle: (error) => (error ? reject(error) : resolve()) });
          }),
        release: () => {},
      }),
    } as unknown as PartitionLog;
    logs.push(log);
    segments.push(segment);
  }
  return { logs, segments, held };
}

function flusher(): SegmentFlusher {
  return new SegmentFlusher(
    PENDING_BYTES_MAX,
    Number.MAX_SAFE_INTEGER, // no segment is written early for its own size
    2,
    silentLogger,
    () => {},
    0,
    async (_what, sync) => sync(),
    null, // every write through openForWrite, which these tests hold
  );
}

function entry(offset: number): Entry {
  return { baseOffset: offset, lastOffset: offset, bytes: Buffer.alloc(ENTRY_BYTES) };
}

/** Lets the promise reactions and I/O-free turns run (the flusher's workers pick their next segment). */
async function turns(count = 5): Promise<void> {
  for (let i = 0; i < count; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

test('past twice the pending bound, the group commit waits for room, not for the whole flush', async () => {
  const { logs, segments, held } = heldStore(25);
  const segmentFlusher = flusher();
  // 2,500 bytes pending over 25 segments: past twice the 1,000-byte bound.
  for (let p = 0; p < 25; p++) segmentFlusher.add(logs[p]!, segments[p]!, entry(0));
  assert.equal(segmentFlusher.pendingBytes, 2500);

  let resumed = false;
  const waiting = segmentFlusher.afterGroup().then(() => {
    resumed = true;
  });
  await turns();
  assert.equal(resumed, false, 'the group commit waits while pending bytes are past twice the bound');
  assert.equal(held.length, 2, 'two segment writes at a time (segmentWritesConcurrencyMax)');

  // 2,500 - 6 x 100 = 1,900 < 2,000: the sixth finished write makes room.
  let written = 0;
  while (!resumed && written < 25) {
    held[written]!.settle();
    written++;
    await turns();
  }
  assert.equal(written, 6, `resumed after ${written} of 25 segment writes`);
  assert.equal(segmentFlusher.pendingBytes, 1900);
  await waiting;

  // The flush goes on in the background and ends with everything written.
  for (let settled = written; settled < 25; settled++) {
    await turns();
    held[settled]!.settle();
  }
  await segmentFlusher.idle();
  assert.equal(segmentFlusher.pendingBytes, 0);
  assert.equal(new Set(held.map((write) => write.segment)).size, 25, 'every segment written once');
  assert.equal(segmentFlusher.stalled, false);
});

test('a flush that cannot make room still ends the wait, and the flusher reports itself stalled', async () => {
  const { logs, segments, held } = heldStore(25);
  const segmentFlusher = flusher();
  for (let p = 0; p < 25; p++) segmentFlusher.add(logs[p]!, segments[p]!, entry(0));

  let resumed = false;
  const waiting = segmentFlusher.afterGroup().then(() => {
    resumed = true;
  });
  // Every write fails (a full disk): nothing leaves memory, and the wait ends with the flush.
  for (let failed = 0; failed < 25 && !resumed; failed++) {
    await turns();
    assert.ok(held[failed], `write ${failed} started`);
    held[failed]!.settle(Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' }));
  }
  await waiting;
  assert.equal(held.length, 25, 'the wait ended only once the flush had tried every segment');
  assert.equal(segmentFlusher.pendingBytes, 2500, 'failed writes keep their batches in memory');
  assert.equal(segmentFlusher.stalled, true, 'appends are refused (STORAGE_FULL) until a flush succeeds');
});

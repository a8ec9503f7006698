// Pooled read-ahead buffers (read-ahead.ts): a released result's chunk is reused by later disk
// reads, and a chunk is never reused while any unreleased result still views it. Every entry read
// is checked byte for byte against a copy taken before any pooling could have happened.
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import type { Entry, ReadResult } from '../src/core.js';
import type { ReadAheadIo, StorageTuning } from '../src/limits.js';
import { ReadAhead } from '../src/log/read-ahead.js';
import type { Segment } from '../src/log/segment.js';
import { openCoreImpl, type CoreImpl } from '../src/open-core.js';
import { verifyBatchCrc } from '../src/record-batch/header.js';
import type { SegmentFile } from '../src/storage/segment-storage.js';
import { message, removeDir, tempDir, TOPIC } from './log-helpers.js';

const KiB = 1024;
const POOL_MAX = 3;
/** Small chunks and reads so that a few hundred KiB exercise many chunks, segments and reuses. */
const TUNING: Partial<StorageTuning> = {
  readAheadBytes: 16 * KiB,
  readAheadChunksMax: 4,
  readAheadPoolChunksMax: POOL_MAX,
  readChunkBytesMin: 2 * KiB,
  indexIntervalBytes: 1 * KiB,
};

/** Deterministic pseudo-random numbers (tests must not depend on Math.random to reproduce). */
function random(seed: number): () => number {
  let state = seed >>> 0 || 1;
  return () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 0x1_0000_0000;
  };
}

interface Fixture {
  readonly core: CoreImpl;
  /** Copy of every entry's bytes by base offset, taken from reads that pooled nothing. */
  readonly reference: Map<number, Buffer>;
  readonly highWatermark: number;
}

async function fixture(
  t: TestContext,
  options: { topic?: string; partitions?: number; entries?: number; seed?: number; overrides?: object; io?: ReadAheadIo } = {},
): Promise<Fixture> {
  const dir = tempDir('strata-read-pool-');
  const core = await openCoreImpl({ dataDir: dir }, { tuning: { ...TUNING, readAheadIo: options.io ?? 'thread-pool' } });
  t.after(async () => {
    await core.close();
    removeDir(dir);
  });
  const topic = options.topic ?? TOPIC;
  await core.topics.create(topic, { partitions: options.partitions ?? 1, overrides: { segmentBytesMax: 64 * KiB, ...options.overrides } });
  const next = random(options.seed ?? 7);
  const count = options.entries ?? 300;
  const pending: Promise<unknown>[] = [];
  for (let i = 0; i < count; i++) {
    // 1 to 3 messages of 100 B .. 3 KiB: batches of varied sizes, some crossing chunk borders.
    const messages = Array.from({ length: 1 + Math.floor(next() * 3) }, (_, m) => message(Buffer.alloc(100 + Math.floor(next() * 3000), (i * 7 + m) & 0xff), { key: `k${i % 13}` }));
    pending.push(core.append(topic, 0, { kind: 'messages', messages }));
  }
  await Promise.all(pending);
  await core.log.flushSegments();
  const log = core.log.getLog(topic, 0);
  core.log.tailCache.drop(log.tail);
  const reference = new Map<number, Buffer>();
  const { highWatermark } = core.offsets(topic, 0);
  for (let offset = 0; offset < highWatermark; ) {
    const result = await core.read(topic, 0, { offset, maxBytes: 1 << 20 });
    for (const entry of result.entries) {
      assert.ok(verifyBatchCrc(entry.bytes), `entry ${entry.baseOffset} is a valid batch`);
      reference.set(entry.baseOffset, Buffer.from(entry.bytes));
    }
    offset = result.entries[result.entries.length - 1]!.lastOffset + 1;
    // Not released: these chunks are never reused, so the copies above come from untouched buffers.
  }
  assert.equal(core.log.readAheadStats().pooledReuses, 0, 'nothing released yet, nothing reused');
  return { core, reference, highWatermark };
}

function check(fixture: Fixture, entries: readonly Entry[], label: string): void {
  for (const entry of entries) {
    const expected = fixture.reference.get(entry.baseOffset);
    assert.ok(expected, `${label}: entry ${entry.baseOffset} exists`);
    assert.ok(entry.bytes.equals(expected), `${label}: entry ${entry.baseOffset} has the bytes written`);
  }
}

/** Reads the whole partition in `maxBytes` steps from `from`, checking and releasing each result. */
async function readThrough(fixture: Fixture, maxBytes: number, from = 0, topic = TOPIC): Promise<number> {
  let reads = 0;
  for (let offset = from; offset < fixture.highWatermark; reads++) {
    const result = await fixture.core.read(topic, 0, { offset, maxBytes });
    check(fixture, result.entries, `read at ${offset}`);
    offset = result.entries[result.entries.length - 1]!.lastOffset + 1;
    result.release();
  }
  return reads;
}

const IO_MODES: readonly ReadAheadIo[] = ['thread-pool', 'event-loop', 'recent'];

for (const io of IO_MODES) test(`released chunks are reused by later disk reads, and every byte read stays correct (${io} reads)`, async (t) => {
  const f = await fixture(t, { io });
  const reads = await readThrough(f, 4 * KiB);
  assert.ok(reads > 50, `${reads} reads`);
  const stats = f.core.log.readAheadStats();
  assert.ok(stats.pooledReuses > 10, `reused ${stats.pooledReuses} buffers`);
  // Released at once, so a pass needs no more buffers than the cache and the pool hold.
  const before = stats.pooledAllocations;
  await readThrough(f, 4 * KiB);
  await readThrough(f, 6 * KiB);
  const after = f.core.log.readAheadStats();
  assert.ok(after.pooledAllocations - before <= 2, `${after.pooledAllocations - before} new buffers in two more passes`);
  assert.ok(after.pooledIdle <= POOL_MAX);

  // The reuse is real: once its chunk leaves the cache too, a released result's memory is read into
  // again by a later disk read.
  const first = await f.core.read(TOPIC, 0, { offset: 0, maxBytes: 4 * KiB });
  const memory = first.entries[0]!.bytes.buffer;
  first.release();
  let reused = false;
  for (const segment of f.core.log.getLog(TOPIC, 0).segments.slice(1)) {
    if (segment.baseOffset >= f.highWatermark) break;
    const later = await f.core.read(TOPIC, 0, { offset: segment.baseOffset, maxBytes: 4 * KiB });
    check(f, later.entries, 'later');
    if (later.entries.some((entry) => entry.bytes.buffer === memory)) reused = true;
    later.release();
  }
  assert.ok(reused, 'the released buffer was read into again');
});

for (const io of IO_MODES) test(`a result that is not released keeps its bytes through many later reads (${io} reads)`, async (t) => {
  const f = await fixture(t, { io });
  const kept: ReadResult[] = [];
  for (const offset of [0, 5, Math.floor(f.highWatermark / 3), f.highWatermark - 2]) {
    kept.push(await f.core.read(TOPIC, 0, { offset, maxBytes: 4 * KiB }));
  }
  for (let pass = 0; pass < 3; pass++) await readThrough(f, 3 * KiB + pass * KiB);
  assert.ok(f.core.log.readAheadStats().pooledReuses > 10);
  for (const result of kept) check(f, result.entries, 'kept');
  for (const result of kept) result.release();
  await readThrough(f, 5 * KiB);
});

test('release twice is harmless: it never drops a reference it does not own', async (t) => {
  const f = await fixture(t);
  const once = await f.core.read(TOPIC, 0, { offset: 0, maxBytes: 2 * KiB });
  // Views the same cached chunk as `once`: a second release of `once` must not free it.
  const sharing = await f.core.read(TOPIC, 0, { offset: once.entries[once.entries.length - 1]!.lastOffset + 1, maxBytes: 2 * KiB });
  assert.ok(sharing.entries[0]!.bytes.buffer === once.entries[0]!.bytes.buffer, 'both view one chunk');
  once.release();
  once.release();
  once.release();
  for (let pass = 0; pass < 3; pass++) await readThrough(f, 4 * KiB);
  check(f, sharing.entries, 'sharing');
  sharing.release();
  sharing.release();
  // An empty result (long-poll timeout) and a tail-cache result release nothing, any number of times.
  const empty = await f.core.read(TOPIC, 0, { offset: f.highWatermark, maxBytes: KiB });
  assert.equal(empty.entries.length, 0);
  empty.release();
  empty.release();
  await readThrough(f, 4 * KiB);
});

test('the pool is bounded: many results released together keep at most readAheadPoolChunksMax buffers', async (t) => {
  const topic = 'persistent://public/default/wide';
  const f = await fixture(t, { topic, entries: 200 });
  // Concurrent readers of different segments each need their own chunk.
  const log = f.core.log.getLog(topic, 0);
  const starts = log.segments.map((segment) => segment.baseOffset).filter((offset) => offset < f.highWatermark);
  assert.ok(starts.length > POOL_MAX + 1, `${starts.length} segments`);
  const results = await Promise.all(starts.map((offset) => f.core.read(topic, 0, { offset, maxBytes: 2 * KiB })));
  for (const result of results) check(f, result.entries, 'concurrent');
  for (const result of results) result.release();
  const stats = f.core.log.readAheadStats();
  assert.ok(stats.pooledAllocations > POOL_MAX, `${stats.pooledAllocations} buffers were in use at once`);
  assert.ok(stats.pooledIdle <= POOL_MAX, `${stats.pooledIdle} idle buffers kept`);
  assert.equal(stats.pooledIdle, POOL_MAX, 'the pool filled up to its maximum');
  assert.ok(stats.cachedChunks <= TUNING.readAheadChunksMax!);
});

test('retention, record deletion and topic deletion with unreleased results: their bytes stay valid', async (t) => {
  const f = await fixture(t);
  const log = f.core.log.getLog(TOPIC, 0);
  const head = await f.core.read(TOPIC, 0, { offset: 0, maxBytes: 4 * KiB });
  const middleOffset = log.segments[1]!.baseOffset + 1;
  const middle = await f.core.read(TOPIC, 0, { offset: middleOffset, maxBytes: 4 * KiB });
  // Delete the first two segments while both results (and their cached chunks) are outstanding.
  const deleted = await f.core.deleteRecordsBefore(TOPIC, 0, log.segments[2]!.baseOffset);
  assert.ok(deleted >= 2, `${deleted} segments deleted`);
  const from = log.logStartOffset;
  for (let pass = 0; pass < 3; pass++) await readThrough(f, 4 * KiB, from);
  check(f, head.entries, 'head after deletion');
  check(f, middle.entries, 'middle after deletion');
  head.release();
  middle.release();
  await readThrough(f, 3 * KiB, from);
  // Topic deletion forgets every cached chunk; an outstanding result still reads its bytes.
  const last = await f.core.read(TOPIC, 0, { offset: from, maxBytes: 4 * KiB });
  await f.core.topics.delete(TOPIC);
  check(f, last.entries, 'after topic deletion');
  last.release();
  last.release();
});

test('compaction swapping segments under unreleased results leaves their bytes intact', async (t) => {
  const topic = 'persistent://public/default/compacted-pool';
  const f = await fixture(t, { topic, overrides: { cleanupPolicy: 'compact', segmentBytesMax: 32 * KiB } });
  const held: ReadResult[] = [];
  for (let offset = 0; offset < f.highWatermark; offset += Math.max(1, Math.floor(f.highWatermark / 8))) {
    held.push(await f.core.read(topic, 0, { offset, maxBytes: 3 * KiB }));
  }
  await f.core.log.checkpoint();
  await f.core.enforceRetention(); // compacts the sealed segments: keys repeat every 13 messages
  for (const result of held) check(f, result.entries, 'held across compaction');
  // After compaction, reads return a subset of the entries, each either the original batch or a
  // rewritten one: check the rewritten ones are valid batches and keep their offsets' order.
  let previous = -1;
  for (let offset = f.core.offsets(topic, 0).logStartOffset; offset < f.highWatermark; ) {
    const result = await f.core.read(topic, 0, { offset, maxBytes: 3 * KiB });
    for (const entry of result.entries) {
      assert.ok(verifyBatchCrc(entry.bytes));
      assert.ok(entry.baseOffset > previous);
      previous = entry.lastOffset;
    }
    offset = result.entries[result.entries.length - 1]!.lastOffset + 1;
    result.release();
  }
  for (const result of held) check(f, result.entries, 'held after reads of the compacted log');
  for (const result of held) result.release();
});

for (const io of IO_MODES) test(`fuzz: random reads, some released at once, some later, some never, all bytes verified (${io} reads)`, async (t) => {
  const f = await fixture(t, { entries: 400, seed: 99, io });
  const next = random(1234);
  const held: ReadResult[] = [];
  const abandoned: ReadResult[] = []; // never released: must stay valid forever
  let offset = 0;
  const deadline = Date.now() + 5000;
  for (let step = 0; step < 1500 && Date.now() < deadline; step++) {
    if (next() < 0.1) offset = Math.floor(next() * f.highWatermark); // a seek
    const maxBytes = 512 + Math.floor(next() * 12 * KiB);
    // Several readers at once now and then: interleaved reads share and replace cached chunks.
    const parallel = next() < 0.2 ? 3 : 1;
    const results = await Promise.all(
      Array.from({ length: parallel }, (_, i) => f.core.read(TOPIC, 0, { offset: Math.min(f.highWatermark - 1, offset + i * 7), maxBytes })),
    );
    for (const result of results) {
      check(f, result.entries, `step ${step}`);
      const fate = next();
      if (fate < 0.6) {
        result.release();
        if (fate < 0.1) result.release();
      } else if (fate < 0.9) held.push(result);
      else if (abandoned.length < 50) abandoned.push(result);
      else result.release();
    }
    const last = results[0]!.entries[results[0]!.entries.length - 1]!;
    offset = last.lastOffset + 1 >= f.highWatermark ? 0 : last.lastOffset + 1;
    // Release held results in random order, verifying them first.
    while (held.length > 20 || (held.length > 0 && next() < 0.3)) {
      const [result] = held.splice(Math.floor(next() * held.length), 1);
      check(f, result!.entries, 'held');
      result!.release();
    }
  }
  for (const result of abandoned) check(f, result.entries, 'abandoned');
  for (const result of held) check(f, result.entries, 'held at the end');
  assert.ok(f.core.log.readAheadStats().pooledReuses > 50, `reused ${f.core.log.readAheadStats().pooledReuses}`);
  assert.ok(f.core.log.readAheadStats().pooledIdle <= POOL_MAX);
});

test('a storage that ignores the buffer it is given: chunks are simply not pooled', async () => {
  const readAhead = new ReadAhead(1024, 2, 2);
  const file: SegmentFile = {
    read: async (length) => Buffer.alloc(length, 1), // never reads into `into`
    write: async () => undefined,
    sync: async () => undefined,
    release: () => undefined,
  };
  const segment = {} as Segment;
  const chunk = await readAhead.read(file, 0, 512);
  assert.equal(chunk.pooled, null);
  assert.equal(chunk.bytes.length, 512);
  readAhead.put(segment, chunk);
  readAhead.forget(segment);
  assert.equal(readAhead.stats().pooledIdle, 1, 'the unused pool buffer went back');
  const again = await readAhead.read(file, 0, 512);
  assert.equal(again.pooled, null);
  assert.equal(readAhead.stats().pooledReuses, 1);
  // Larger than a chunk, or less than half of one: a buffer of its own size, never pooled.
  const big = await readAhead.read(file, 0, 4096);
  assert.equal(big.pooled, null);
  const reads = readAhead.stats().pooledReuses + readAhead.stats().pooledAllocations;
  const small = await readAhead.read(file, 0, 100);
  assert.equal(small.pooled, null);
  assert.equal(small.bytes.length, 100);
  assert.equal(readAhead.stats().pooledReuses + readAhead.stats().pooledAllocations, reads, 'no pool buffer taken');
});

test('recent reads: segments this process wrote lately are read on the event loop, older ones and those from before a restart in the thread pool', async () => {
  const dir = tempDir('strata-read-recent-');
  // A 96 KiB window of segment writes: with 64 KiB segments, the first segments fall out of it.
  const tuning = { ...TUNING, readAheadIo: 'recent' as const, readAheadRecentBytesMax: 96 * KiB };
  let core = await openCoreImpl({ dataDir: dir }, { tuning });
  try {
    await core.topics.create(TOPIC, { overrides: { segmentBytesMax: 64 * KiB } });
    const value = Buffer.alloc(2000, 0x42);
    for (let i = 0; i < 200; i++) await core.append(TOPIC, 0, { kind: 'messages', messages: [message(value)] });
    await core.log.flushSegments();
    const log = core.log.getLog(TOPIC, 0);
    core.log.tailCache.drop(log.tail);
    assert.ok(log.segments.length >= 5, `several segments (${log.segments.length})`);
    const readAll = async (): Promise<number> => {
      let count = 0;
      for (let offset = 0; offset < 200; ) {
        const result = await core.read(TOPIC, 0, { offset, maxBytes: 8 * KiB });
        count += result.entries.length;
        offset = result.entries[result.entries.length - 1]!.lastOffset + 1;
        result.release();
      }
      return count;
    };
    const before = core.log.readAheadStats();
    assert.equal(await readAll(), 200);
    const after = core.log.readAheadStats();
    assert.ok(after.readsNow > before.readsNow, 'the last segments are read on the event loop');
    assert.ok(after.readsInPool > before.readsInPool, 'the first segments, out of the window, in the thread pool');
    await core.close();

    core = await openCoreImpl({ dataDir: dir }, { tuning });
    core.log.tailCache.drop(core.log.getLog(TOPIC, 0).tail);
    const restarted = core.log.readAheadStats();
    assert.equal(await readAll(), 200);
    const later = core.log.readAheadStats();
    assert.equal(later.readsNow, restarted.readsNow, 'after a restart nothing counts as recent');
    assert.ok(later.readsInPool > restarted.readsInPool);
  } finally {
    await core.close();
    removeDir(dir);
  }
});

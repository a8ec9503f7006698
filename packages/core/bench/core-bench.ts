/**
 * Core storage benchmark (`npm run bench:core`), issue 2 "Proof". Prints side by side, in one run:
 *   - append MB/s and msgs/s (1 KiB messages, fsync always) with 1 and 100 concurrent producers,
 *     against a raw write+fdatasync loop writing the same bytes to the same disk with the same
 *     batching: the loop writes, per fsync, exactly the bytes one average group commit wrote to
 *     the journal (appends per group x journal record size); the cores are first warmed up to
 *     the steady state of a running server (journal files recycled, 32 MiB each), and a variant
 *     shows a fresh journal file (the first minutes after a start). With 100 producers Strata
 *     commits them as two alternating halves (the fsync thread) or as whole groups, whichever its
 *     schedule chooser measured faster (docs/storage.md), so a second raw loop with one fsync per
 *     100 appends and a Strata core with every fdatasync on the event loop are printed beside it;
 *   - catch-up read MB/s (tail cache bypassed) against a raw sequential read of the same segment
 *     files (both from the page cache: the data was just written);
 *   - 10,000-partition append throughput (100 producers, random partitions) against the
 *     single-partition rate;
 *   - memory per idle partition;
 *   - produce-to-read latency p50/p99 at a fixed rate with a long-polling reader.
 * Bounded: every phase runs for a fixed short time. Usage: node core-bench.js [phaseSeconds]
 */
// First: UV_THREADPOOL_SIZE as strata serve sets it (the script runs again with it when unset).
import './server-thread-pool.js';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import v8 from 'node:v8';
import vm from 'node:vm';
import { openCoreImpl, type CoreImpl } from '../src/open-core.js';
import { threadPoolSize } from '../src/thread-pool.js';
import { encodeRecordBatch } from '../src/record-batch/index.js';
import { JOURNAL_RECORD_HEADER_BYTES } from '../src/storage/journal-format.js';
import type { Message } from '../src/message.js';

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

/** Each comparison alternates ROUNDS short runs of both sides, so that drifting disk load (this
 * machine is shared) hits both sides alike; the sums are compared, and the ratio of each pair of
 * rounds is printed too (with its median), because one slow second of the disk moves a sum. */
const ROUNDS = 5;
const PHASE_MS = (Math.max(1, Number(process.argv[2] ?? 5)) * 1000) / ROUNDS;
const MESSAGE_BYTES = 1024;
const TOPIC = 'persistent://public/default/bench';
const WIDE_TOPIC = 'persistent://public/default/bench-wide';
const READ_TOPIC = 'persistent://public/default/bench-read';
const WIDE_PARTITIONS = 10_000;
const CATCH_UP_BYTES = 128 * 1024 * 1024;
const LATENCY_RATE_PER_S = 500;

const value = Buffer.alloc(MESSAGE_BYTES, 0x61);
const oneMessage: Message[] = [{ key: null, value, headers: [], timestamp: Date.now() }];
const batchBytes = encodeRecordBatch(oneMessage).length;
const journalRecordBytes = JOURNAL_RECORD_HEADER_BYTES + batchBytes;

interface Rate {
  msgs: number;
  ms: number;
  groups: number;
}

/** Sums of the alternated rounds of one side of a comparison. */
class Tally {
  msgs = 0;
  ms = 0;
  /** msgs/s of each round, in order. */
  readonly rounds: number[] = [];

  add(round: { msgs: number; ms: number }): void {
    this.msgs += round.msgs;
    this.ms += round.ms;
    this.rounds.push(round.msgs / (round.ms / 1000));
  }

  get perSecond(): number {
    return this.msgs / (this.ms / 1000);
  }
}

/** "ratio of round 1, of round 2, ... (median m%)": side a against side b, round by round. */
function roundByRound(a: Tally, b: Tally): string {
  const ratios = a.rounds.map((rate, i) => (rate / b.rounds[i]!) * 100);
  const sorted = [...ratios].sort((x, y) => x - y);
  const median = sorted[Math.floor(sorted.length / 2)]!;
  return `${ratios.map((ratio) => `${fmt(ratio)}%`).join(' ')} (median ${fmt(median)}%)`;
}

function mbPerS(bytes: number, ms: number): number {
  return bytes / (1024 * 1024) / (ms / 1000);
}

function fmt(n: number, digits = 0): string {
  return n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

/**
 * Journal files of the steady-state cores: small, so that a short warm-up reaches the steady state
 * (every journal file recycled) and rotations by size recycle during the phases.
 */
const STEADY_JOURNAL_FILE_BYTES = 32 * 1024 * 1024;
const WARM_UP_MS_MAX = 30_000;

/**
 * Appends with 100 producers until the journal in use is a recycled file at least
 * STEADY_JOURNAL_FILE_BYTES long (a server's steady state; a fresh file is extended by its writes
 * instead). Returns the milliseconds it took.
 */
async function warmUpToRecycledJournal(core: CoreImpl): Promise<number> {
  const started = performance.now();
  const steady = (): boolean => core.log.journalInUse().recycledBytes >= STEADY_JOURNAL_FILE_BYTES;
  await Promise.all(
    Array.from({ length: 100 }, async () => {
      while (!steady() && performance.now() - started < WARM_UP_MS_MAX) {
        await core.append(TOPIC, 0, { kind: 'messages', messages: oneMessage });
      }
    }),
  );
  if (!steady()) console.log('  (warm-up: no recycled journal file reached within the time bound)');
  return performance.now() - started;
}

async function appendPhase(core: CoreImpl, topic: string, producers: number, pickPartition: () => number): Promise<Rate> {
  const before = core.log.stats();
  const started = performance.now();
  const deadline = started + PHASE_MS;
  let msgs = 0;
  await Promise.all(
    Array.from({ length: producers }, async () => {
      while (performance.now() < deadline) {
        await core.append(topic, pickPartition(), { kind: 'messages', messages: oneMessage });
        msgs++;
      }
    }),
  );
  // The core's own background work started by this phase is part of its cost (see the caller).
  await core.log.backgroundSettled();
  const ms = performance.now() - started;
  return { msgs, ms, groups: core.log.stats().groups - before.groups };
}

/**
 * syncfs(2) of the file system holding `dir` (coreutils `sync -f`): the dirty pages one phase
 * leaves are written back before the next phase starts, not during it.
 */
function syncFileSystem(dir: string): void {
  const result = spawnSync('sync', ['-f', dir], { stdio: 'ignore' });
  if (result.status !== 0) throw new Error(`sync -f ${dir} failed (${result.error?.message ?? `status ${result.status}`})`);
}

/** Bytes of the file the `recycled` raw variant overwrites round and round (written before timing). */
const RAW_RECYCLED_FILE_BYTES = 64 * 1024 * 1024;

/**
 * write+fdatasync loop: each iteration writes `appendsPerSync` journal records' worth of bytes.
 * With `alsoSegment`, each iteration also writes the batches to a second file without fsync, the
 * I/O this design does (journal + segment written behind; on ext4 data=ordered the journal's
 * fdatasync also pushes out the second file's newly allocated blocks). With `recycled`, the loop
 * overwrites a file written beforehand (from its start again at its end), as the journal does
 * once its files are recycled; without, it extends a new file, as a fresh journal file does.
 */
function rawSyncLoop(dir: string, appendsPerSync: number, alsoSegment = false, recycled = false): { msgs: number; ms: number } {
  const file = path.join(dir, 'raw-journal');
  const fd = fs.openSync(file, 'w');
  const segmentFile = path.join(dir, 'raw-segment');
  const segmentFd = alsoSegment ? fs.openSync(segmentFile, 'w') : -1;
  let segmentPosition = 0;
  const chunk = Buffer.alloc(Math.max(1, Math.round(appendsPerSync)) * journalRecordBytes, 0x62);
  const perWrite = chunk.length / journalRecordBytes;
  if (recycled) {
    const fill = Buffer.alloc(4 * 1024 * 1024, 0x61);
    for (let at = 0; at < RAW_RECYCLED_FILE_BYTES; at += fill.length) fs.writeSync(fd, fill, 0, fill.length, at);
    fs.fdatasyncSync(fd);
  }
  const started = performance.now();
  let msgs = 0;
  let position = 0;
  while (performance.now() - started < PHASE_MS) {
    if (recycled && position + chunk.length > RAW_RECYCLED_FILE_BYTES) position = 0;
    fs.writeSync(fd, chunk, 0, chunk.length, position);
    if (alsoSegment) {
      fs.writeSync(segmentFd, chunk, 0, chunk.length - perWrite * JOURNAL_RECORD_HEADER_BYTES, segmentPosition);
      segmentPosition += chunk.length - perWrite * JOURNAL_RECORD_HEADER_BYTES;
    }
    fs.fdatasyncSync(fd);
    position += chunk.length;
    msgs += perWrite;
  }
  const ms = performance.now() - started;
  fs.closeSync(fd);
  fs.rmSync(file);
  if (alsoSegment) {
    fs.closeSync(segmentFd);
    fs.rmSync(segmentFile);
  }
  return { msgs, ms };
}

async function catchUpPhase(core: CoreImpl, dataDir: string): Promise<{ coreMbS: number; rawMbS: number; freshMbS: number; bytes: number }> {
  await core.topics.create(READ_TOPIC, { overrides: { segmentBytesMax: 64 * 1024 * 1024 } });
  const batch = encodeRecordBatch(Array.from({ length: 64 }, () => oneMessage[0]!));
  const pending: Promise<unknown>[] = [];
  for (let written = 0; written < CATCH_UP_BYTES; written += batch.length) {
    pending.push(core.append(READ_TOPIC, 0, { kind: 'batches', data: batch }));
    if (pending.length >= 64) await Promise.all(pending.splice(0));
  }
  await Promise.all(pending);
  await core.log.checkpoint();
  const log = core.log.getLog(READ_TOPIC, 0);
  core.log.tailCache.drop(log.tail);

  let coreMs = 0;
  let bytes = 0;
  let rawMs = 0;
  let rawBytes = 0;
  let freshMs = 0;
  let freshBytes = 0;
  const buffer = Buffer.allocUnsafe(1024 * 1024);
  const { highWatermark } = core.offsets(READ_TOPIC, 0);
  const corePass = async (): Promise<number> => {
    let read = 0;
    let offset = 0;
    while (offset < highWatermark) {
      const result = await core.read(READ_TOPIC, 0, { offset, maxBytes: 1024 * 1024 });
      for (const entry of result.entries) read += entry.bytes.length;
      offset = result.entries[result.entries.length - 1]!.lastOffset + 1;
      result.release(); // done with the bytes: the read-ahead buffer may be reused
    }
    return read;
  };
  const rawPass = (): number => {
    let read = 0;
    for (const segment of log.segments) {
      const fd = fs.openSync(segment.path, 'r');
      let position = 0;
      for (;;) {
        const n = fs.readSync(fd, buffer, 0, buffer.length, position);
        if (n === 0) break;
        position += n;
        read += n;
      }
      fs.closeSync(fd);
    }
    return read;
  };
  // One untimed pass of each side first: 128 MiB is a few dozen read-ahead chunks, so the first pass
  // would weigh JIT compilation and the read-ahead pool's first-touch page faults as much as the
  // steady state of a long catch-up (and the core's first pass warms the page cache for raw).
  await corePass();
  rawPass();
  // Each side reads whole passes for at least PHASE_MS per round: one 128 MiB pass takes ~25 ms
  // here, short enough for one scheduler hiccup on this shared VM to move a round by 20%.
  const passesFor = async (pass: () => Promise<number>): Promise<{ bytes: number; ms: number }> => {
    const started = performance.now();
    let read = 0;
    for (let passes = 0; passes < 1000 && (passes === 0 || performance.now() - started < PHASE_MS); passes++) read += await pass();
    return { bytes: read, ms: performance.now() - started };
  };
  // The same read into a fresh buffer per read, asynchronously: what any server that hands the
  // bytes on (and so cannot reuse its buffer) pays. Reported beside the reused-buffer loop.
  const freshPass = async (): Promise<number> => {
    let read = 0;
    for (const segment of log.segments) {
      const handle = await fs.promises.open(segment.path, 'r');
      let position = 0;
      for (;;) {
        const { bytesRead } = await handle.read(Buffer.allocUnsafe(1024 * 1024), 0, 1024 * 1024, position);
        if (bytesRead === 0) break;
        position += bytesRead;
        read += bytesRead;
      }
      await handle.close();
    }
    return read;
  };
  for (let round = 0; round < ROUNDS; round++) {
    const core = await passesFor(corePass);
    bytes += core.bytes;
    coreMs += core.ms;
    if (log.tail.length > 0) throw new Error('catch-up read filled the tail cache');
    const raw = await passesFor(async () => rawPass());
    rawBytes += raw.bytes;
    rawMs += raw.ms;
    const fresh = await passesFor(freshPass);
    freshBytes += fresh.bytes;
    freshMs += fresh.ms;
  }
  void dataDir;
  return { coreMbS: mbPerS(bytes, coreMs), rawMbS: mbPerS(rawBytes, rawMs), freshMbS: mbPerS(freshBytes, freshMs), bytes };
}

async function latencyPhase(core: CoreImpl): Promise<{ p50: number; p99: number; count: number }> {
  const topic = 'persistent://public/default/bench-latency';
  await core.topics.create(topic);
  const sentAt = new Map<number, number>();
  const latencies: number[] = [];
  let stop = false;
  const reader = (async () => {
    let offset = 0;
    while (!stop) {
      const result = await core.read(topic, 0, { offset, maxBytes: 1 << 20, waitMs: 200 });
      const now = performance.now();
      for (const entry of result.entries) {
        for (let o = Math.max(offset, entry.baseOffset); o <= entry.lastOffset; o++) {
          const sent = sentAt.get(o);
          if (sent !== undefined) latencies.push(now - sent);
        }
        offset = entry.lastOffset + 1;
      }
    }
  })();
  const count = Math.floor(((PHASE_MS * ROUNDS) / 1000) * LATENCY_RATE_PER_S);
  const started = performance.now();
  const appends: Promise<unknown>[] = [];
  for (let i = 0; i < count; i++) {
    const due = started + (i * 1000) / LATENCY_RATE_PER_S;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((resolve) => setTimeout(resolve, wait));
    const sent = performance.now();
    appends.push(
      core.append(topic, 0, { kind: 'messages', messages: oneMessage }).then((result) => {
        sentAt.set(result.baseOffset, sent);
      }),
    );
  }
  await Promise.all(appends);
  await new Promise((resolve) => setTimeout(resolve, 100));
  stop = true;
  await reader;
  // A message can be read before its append promise resolved (same tick): count those via the ack.
  latencies.sort((a, b) => a - b);
  const at = (q: number): number => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? NaN;
  return { p50: at(0.5), p99: at(0.99), count: latencies.length };
}

async function main(): Promise<void> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'strata-bench-'));
  const rows: string[][] = [];
  const report = (name: string, strata: string, raw: string, ratio: string): void => {
    rows.push([name, strata, raw, ratio]);
    console.log(`${name.padEnd(44)} ${strata.padStart(24)} ${raw.padStart(24)} ${ratio.padStart(8)}`);
  };
  console.log(`core bench: ${ROUNDS} alternating rounds of ${PHASE_MS / 1000}s per side, ${MESSAGE_BYTES} B messages (${batchBytes} B batches), data in ${dataDir}, ${os.cpus().length} CPUs, ${threadPoolSize()} libuv pool threads`);
  console.log(`${'measure'.padEnd(44)} ${'strata'.padStart(24)} ${'raw baseline'.padStart(24)} ${'ratio'.padStart(8)}`);
  try {
    const steady = { tuning: { journalFileBytesMax: STEADY_JOURNAL_FILE_BYTES } };
    const core = await openCoreImpl({ dataDir, limits: { openFilesMax: 512 } }, steady);
    await core.topics.create(TOPIC);
    // The other journal I/O mode (CoreOptions.journalIo), alternated in the same rounds.
    const poolCore = await openCoreImpl({ dataDir: path.join(dataDir, 'thread-pool'), journalIo: 'thread-pool', limits: { openFilesMax: 512 } }, steady);
    await poolCore.topics.create(TOPIC);
    // Every fdatasync on the event loop (no fsync thread, groups not halved): the default before the fsync thread.
    const loopCore = await openCoreImpl({ dataDir: path.join(dataDir, 'event-loop'), journalIo: 'event-loop', limits: { openFilesMax: 512 } }, steady);
    await loopCore.topics.create(TOPIC);
    // A core that never rotates its first journal file: the first minutes after a start.
    const freshCore = await openCoreImpl(
      { dataDir: path.join(dataDir, 'fresh'), limits: { openFilesMax: 512 } },
      { tuning: { journalFileBytesMax: 2 ** 40, checkpointIntervalMs: 1e9 } },
    );
    await freshCore.topics.create(TOPIC);
    const warmUps = [await warmUpToRecycledJournal(core), await warmUpToRecycledJournal(poolCore), await warmUpToRecycledJournal(loopCore)];
    console.log(`  (warm-up to the steady state, recycled journal files of ${fmt(STEADY_JOURNAL_FILE_BYTES / 1024 / 1024)} MiB: ${warmUps.map((ms) => `${fmt(ms / 1000, 1)} s`).join(', ')})`);

    for (const producers of [1, 100]) {
      const strata = new Tally();
      const raw = new Tally();
      const double = new Tally();
      const recycled = new Tally();
      const pool = new Tally();
      const loop = new Tally();
      const fresh = new Tally();
      const wholeRound = new Tally();
      let groups = 0;
      // Every phase starts with no core's background work (flushes, write-behind fsyncs, checkpoint
      // fsyncs) still running from an earlier phase, and with no dirty page of an earlier phase
      // left for the kernel to write back (syncfs of the data directory's file system): a
      // variant's leftovers must not slow Strata's phase, nor Strata's the raw loop's. The
      // background work a core starts during its own phase counts in that phase's time, to its end
      // (appendPhase waits for it): conservative, since a checkpoint started then also flushes
      // what earlier phases wrote. The cores take turns in a rotating order, so that none always
      // follows the same phase.
      const cores = [core, poolCore, loopCore, freshCore];
      const settled = async (): Promise<void> => {
        for (const c of cores) await c.log.backgroundSettled();
        syncFileSystem(dataDir);
      };
      const phases: { core: CoreImpl; tally: Tally }[] = [
        { core, tally: strata },
        { core: poolCore, tally: pool },
        { core: loopCore, tally: loop },
        { core: freshCore, tally: fresh },
      ];
      for (let round = 0; round < ROUNDS; round++) {
        let strataPhase: Rate | null = null;
        for (let i = 0; i < phases.length; i++) {
          const phase = phases[(round + i) % phases.length]!;
          await settled();
          const rate = await appendPhase(phase.core, TOPIC, producers, () => 0);
          phase.tally.add(rate);
          if (phase.core === core) strataPhase = rate;
        }
        groups += strataPhase!.groups;
        const appendsPerSync = strataPhase!.msgs / Math.max(1, strataPhase!.groups);
        await settled();
        const rawLoops: [Tally, () => { msgs: number; ms: number }][] = [
          [raw, () => rawSyncLoop(dataDir, appendsPerSync)],
          [double, () => rawSyncLoop(dataDir, appendsPerSync, true)],
          [recycled, () => rawSyncLoop(dataDir, appendsPerSync, false, true)],
        ];
        // One fsync per `producers` appends: each producer's append in the same fsync, as whole
        // groups do, with no halves in between (a harder baseline than the loop that follows
        // Strata's average group).
        if (producers > 1) rawLoops.push([wholeRound, () => rawSyncLoop(dataDir, producers)]);
        for (const [tally, run] of rawLoops) {
          syncFileSystem(dataDir);
          tally.add(run());
        }
      }
      const perGroup = strata.msgs / Math.max(1, groups);
      const strataRate = strata.perSecond;
      const rawRate = raw.perSecond;
      report(
        `append, ${producers} producer(s), fsync always`,
        `${fmt(strataRate)} msg/s ${fmt(mbPerS(strata.msgs * MESSAGE_BYTES, strata.ms), 1)} MB/s`,
        `${fmt(rawRate)} msg/s ${fmt(mbPerS(raw.msgs * MESSAGE_BYTES, raw.ms), 1)} MB/s`,
        `${fmt((strataRate / rawRate) * 100)}%`,
      );
      console.log(`  round by round: ${roundByRound(strata, raw)}`);
      report('  raw variant: same bytes also to a 2nd file', '', `${fmt(double.perSecond)} msg/s`, `${fmt((strataRate / double.perSecond) * 100)}%`);
      report('  raw variant: overwriting a written file', '', `${fmt(recycled.perSecond)} msg/s`, `${fmt((strataRate / recycled.perSecond) * 100)}%`);
      if (producers > 1) report(`  raw variant: one fsync per ${producers} appends`, '', `${fmt(wholeRound.perSecond)} msg/s`, `${fmt((strataRate / wholeRound.perSecond) * 100)}%`);
      report('  strata variant: fdatasync on the event loop', `${fmt(loop.perSecond)} msg/s`, `${fmt(rawRate)} msg/s`, `${fmt((loop.perSecond / rawRate) * 100)}%`);
      report('  strata variant: journal I/O in the thread pool', `${fmt(pool.perSecond)} msg/s`, `${fmt(rawRate)} msg/s`, `${fmt((pool.perSecond / rawRate) * 100)}%`);
      report('  strata variant: fresh journal file (extended)', `${fmt(fresh.perSecond)} msg/s`, `${fmt(rawRate)} msg/s`, `${fmt((fresh.perSecond / rawRate) * 100)}%`);
      console.log(`  (${fmt(perGroup, 1)} appends per group commit / fsync; the raw loop writes ${fmt(Math.max(1, Math.round(perGroup)) * journalRecordBytes)} B per fsync)`);
    }

    // The variants' cores are done: closed before the read phases, so that their write-behind and
    // timers do not run beside the measurements of the main core.
    await poolCore.close();
    await loopCore.close();
    await freshCore.close();
    const catchUp = await catchUpPhase(core, dataDir);
    report('catch-up read, 1 MiB reads (page cache warm)', `${fmt(catchUp.coreMbS)} MB/s`, `${fmt(catchUp.rawMbS)} MB/s`, `${fmt((catchUp.coreMbS / catchUp.rawMbS) * 100)}%`);
    report('  raw variant: async, fresh buffer per read', '', `${fmt(catchUp.freshMbS)} MB/s`, `${fmt((catchUp.coreMbS / catchUp.freshMbS) * 100)}%`);

    gc();
    const heapBefore = process.memoryUsage().heapUsed;
    await core.topics.create(WIDE_TOPIC, { partitions: WIDE_PARTITIONS });
    gc();
    const heapEmpty = process.memoryUsage().heapUsed;
    const warm: Promise<unknown>[] = [];
    for (let p = 0; p < WIDE_PARTITIONS; p++) warm.push(core.append(WIDE_TOPIC, p, { kind: 'messages', messages: oneMessage }));
    await Promise.all(warm);
    await core.log.checkpoint();
    for (let p = 0; p < WIDE_PARTITIONS; p++) core.log.tailCache.drop(core.log.getLog(WIDE_TOPIC, p).tail);
    gc();
    const heapIdle = process.memoryUsage().heapUsed;
    const wide = new Tally();
    const single = new Tally();
    let wideGroups = 0;
    const smallWritesBefore = core.log.stats().smallSegmentWrites;
    for (let round = 0; round < ROUNDS; round++) {
      single.add(await appendPhase(core, TOPIC, 100, () => 0));
      const wideRound = await appendPhase(core, WIDE_TOPIC, 100, () => Math.floor(Math.random() * WIDE_PARTITIONS));
      wide.add(wideRound);
      wideGroups += wideRound.groups;
    }
    const wideRate = wide.perSecond;
    const singleRate = single.perSecond;
    report(
      `append, ${fmt(WIDE_PARTITIONS)} partitions, 100 producers`,
      `${fmt(wideRate)} msg/s`,
      `${fmt(singleRate)} msg/s (1 partition)`,
      `${fmt((wideRate / singleRate) * 100)}%`,
    );
    console.log(`  round by round: ${roundByRound(wide, single)}`);
    const smallWrites = core.log.stats().smallSegmentWrites - smallWritesBefore;
    console.log(`  (${fmt(wide.msgs / Math.max(1, wideGroups), 1)} appends per group commit; open files ${core.log.stats().openFiles} <= 512; ${fmt(smallWrites)} segment writes by the segment write thread)`);
    report('memory per idle partition (never written)', `${fmt((heapEmpty - heapBefore) / WIDE_PARTITIONS)} B`, '', '');
    report('memory per idle partition (written, idle)', `${fmt((heapIdle - heapBefore) / WIDE_PARTITIONS)} B`, '', '');

    const latency = await latencyPhase(core);
    report(`produce-to-read latency at ${LATENCY_RATE_PER_S} msg/s`, `p50 ${fmt(latency.p50, 2)} ms p99 ${fmt(latency.p99, 2)} ms`, `${latency.count} msgs`, '');
    await core.close();
  } finally {
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});

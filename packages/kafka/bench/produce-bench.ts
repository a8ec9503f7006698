/**
 * The handler's produce cost against the core's own, in one process, alternated: per round, (a) the
 * core's append of the same ~950 x 1 KiB record batch, 8 in flight (as kafka-bench's "core append
 * (raw)"), then (b) the bare Produce v7 loop (bench/fetch-client.ts in a worker thread: 8 requests
 * in flight, acks=-1, the same batch per ~1 MB request) against Strata in this process, fsync
 * always, both on the same warmed-up core; then (c) the same loop against a second handler (its own
 * warmed-up core) with `socketReadInto: false`, i.e. Node's 'data' events and a copy into the frame
 * (the read path before 2026-11-22 09:00). Per phase: msgs/s, the server's main-thread busy
 * microseconds per message (event-loop utilization x wall time), and the server isolate's garbage
 * collections (count and pause ms by kind, from perf_hooks 'gc' entries; the client's worker has
 * its own isolate and is not counted). The machine's noise moves both phases of a round alike:
 * compare the columns of one round, and the medians. Run with --trace-gc for the details.
 * STRATA_BENCH_CPU_PROFILE_DIR=<dir>: each phase's server CPU profile goes to
 * <dir>/<round>-<phase>.cpuprofile (node:inspector; profiling itself adds CPU time).
 * STRATA_BENCH_PHASES=core,kafka,data: run only those phases (e.g. under `perf record`).
 * Usage: node produce-bench.js [messages=200000] [rounds=3]
 */
// First: UV_THREADPOOL_SIZE as strata serve sets it (the script runs again with it when unset).
import './server-thread-pool.js';
import fs from 'node:fs/promises';
import { Session } from 'node:inspector/promises';
import { PerformanceObserver, constants as perfConstants, type PerformanceEntry } from 'node:perf_hooks';
import { encodeRecordBatch, type Core } from '@strata/core';
import { BENCH_JOURNAL_FILE_BYTES, warmUpJournal } from '@strata/testing';
import { startKafkaServer } from '../test/helpers/kafka-server.js';
import { JOURNAL_IO } from './journal-io.js';
import { runWorker } from './fetch-phases.js';
import { mainThreadSchedNs } from './thread-cpu.js';

const MESSAGES = Math.max(1000, Number(process.argv[2] ?? 200_000));
const ROUNDS = Math.min(10, Math.max(1, Number(process.argv[3] ?? 3)));
const MESSAGE_BYTES = 1024;
const RECORDS_PER_BATCH = 950;
const IN_FLIGHT = 8;
const PROFILE_DIR = process.env['STRATA_BENCH_CPU_PROFILE_DIR'];
const PHASES = (process.env['STRATA_BENCH_PHASES'] ?? 'core,kafka,data').split(',');

interface GcTally {
  scavenges: number;
  scavengeMs: number;
  markCompacts: number;
  markCompactMs: number;
}

const gc: GcTally = { scavenges: 0, scavengeMs: 0, markCompacts: 0, markCompactMs: 0 };
const observer = new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) {
    const kind = ((entry as PerformanceEntry & { detail?: { kind?: number } }).detail)?.kind;
    if (kind === perfConstants.NODE_PERFORMANCE_GC_MINOR) {
      gc.scavenges++;
      gc.scavengeMs += entry.duration;
    } else if (kind === perfConstants.NODE_PERFORMANCE_GC_MAJOR) {
      gc.markCompacts++;
      gc.markCompactMs += entry.duration;
    }
  }
});

interface PhaseResult {
  readonly msgsPerS: number;
  readonly usPerMsg: number;
  /** Main-thread CPU time per message (schedstat), NaN without /proc. */
  readonly cpuUsPerMsg: number;
  /** Main-thread time runnable but preempted, per message (schedstat), NaN without /proc. */
  readonly waitUsPerMsg: number;
  readonly gc: GcTally;
  readonly messages: number;
}

let session: Session | null = null;

/** Runs `phase` (resolving to [messages, wall ms of the work]) with the main thread's busy time and the GCs it caused. */
async function measured(name: string, phase: () => Promise<[number, number]>): Promise<PhaseResult> {
  if (PROFILE_DIR) {
    if (!session) {
      session = new Session();
      session.connect();
      await session.post('Profiler.enable');
    }
    await session.post('Profiler.start');
  }
  const before = { ...gc };
  const eluBefore = performance.eventLoopUtilization();
  const schedBefore = mainThreadSchedNs();
  const started = performance.now();
  const [messages, workMs] = await phase();
  const ms = performance.now() - started;
  const schedAfter = mainThreadSchedNs();
  const busyMs = performance.eventLoopUtilization(eluBefore).utilization * ms;
  if (PROFILE_DIR && session) {
    const { profile } = await session.post('Profiler.stop');
    await fs.mkdir(PROFILE_DIR, { recursive: true });
    await fs.writeFile(`${PROFILE_DIR}/${name}.cpuprofile`, JSON.stringify(profile));
  }
  await new Promise((resolve) => setTimeout(resolve, 50)); // let the observer deliver this phase's entries
  return {
    msgsPerS: messages / (workMs / 1000),
    usPerMsg: (busyMs * 1000) / messages,
    cpuUsPerMsg: schedBefore === null || schedAfter === null ? NaN : (schedAfter.cpuNs - schedBefore.cpuNs) / 1000 / messages,
    waitUsPerMsg: schedBefore === null || schedAfter === null ? NaN : (schedAfter.waitNs - schedBefore.waitNs) / 1000 / messages,
    messages,
    gc: {
      scavenges: gc.scavenges - before.scavenges,
      scavengeMs: gc.scavengeMs - before.scavengeMs,
      markCompacts: gc.markCompacts - before.markCompacts,
      markCompactMs: gc.markCompactMs - before.markCompactMs,
    },
  };
}

/** kafka-bench's "core append (raw)": the same batch appended (the core copies it), IN_FLIGHT in flight. */
async function coreAppend(core: Core, topic: string, batch: Buffer, batches: number): Promise<[number, number]> {
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: IN_FLIGHT }, async () => {
      while (next < batches) {
        next++;
        await core.append(topic, 0, { kind: 'batches', data: batch });
      }
    }),
  );
  return [batches * RECORDS_PER_BATCH, performance.now() - started];
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? NaN;
}

function row(round: string, phase: string, r: PhaseResult): string {
  const per100k = (n: number) => ((n * 100_000) / r.messages).toFixed(1);
  return (
    `${round.padEnd(6)}| ${phase.padEnd(13)}| ${Math.round(r.msgsPerS).toLocaleString('en-US').padStart(9)} | ${r.usPerMsg.toFixed(2).padStart(6)} | ${r.cpuUsPerMsg.toFixed(2).padStart(6)} | ${r.waitUsPerMsg.toFixed(2).padStart(6)} | ` +
    `${String(r.gc.scavenges).padStart(3)} (${r.gc.scavengeMs.toFixed(0).padStart(4)}) | ${String(r.gc.markCompacts).padStart(3)} (${r.gc.markCompactMs.toFixed(0).padStart(4)}) | ${per100k(r.gc.markCompacts)}`
  );
}

async function main(): Promise<void> {
  const coreInternals = { tuning: { journalFileBytesMax: BENCH_JOURNAL_FILE_BYTES } };
  const server = await startKafkaServer({ journalIo: JOURNAL_IO, coreInternals });
  await warmUpJournal(server.core);
  const dataServer = PHASES.includes('data') ? await startKafkaServer({ journalIo: JOURNAL_IO, coreInternals, config: { socketReadInto: false } }) : null;
  if (dataServer) await warmUpJournal(dataServer.core);
  observer.observe({ entryTypes: ['gc'] });
  try {
    const batches = Math.ceil(MESSAGES / RECORDS_PER_BATCH);
    const value = Buffer.alloc(MESSAGE_BYTES, 0x61);
    const batch = encodeRecordBatch(Array.from({ length: RECORDS_PER_BATCH }, () => ({ key: null, value, headers: [], timestamp: Date.now() })));
    console.log(`${batches} batches of ${RECORDS_PER_BATCH} x ${MESSAGE_BYTES} B per phase, ${IN_FLIGHT} in flight, journal I/O ${JOURNAL_IO}`);
    console.log('round | phase        |    msgs/s | busy us/msg | cpu us/msg | preempted us/msg | scavenges (ms) | mark-compacts (ms) | MC per 100k msgs');
    const core: PhaseResult[] = [];
    const kafka: PhaseResult[] = [];
    const dataEvents: PhaseResult[] = [];
    const produceLoop = async (target: typeof server, topic: string): Promise<[number, number]> => {
      await target.core.topics.create(`persistent://public/default/${topic}`, { partitions: 1 });
      const result = await runWorker({
        mode: 'produce', port: target.port, topic, records: batches * RECORDS_PER_BATCH, recordsPerBatch: RECORDS_PER_BATCH, batchBytes: 0,
        maxBytes: 0, depth: IN_FLIGHT, bytes: 0, messageBytes: MESSAGE_BYTES,
      });
      return [result.records, result.ms];
    };
    for (let round = 0; round < ROUNDS; round++) {
      if (PHASES.includes('core')) {
        const coreTopic = `persistent://public/default/core-append-${round}`;
        await server.core.topics.create(coreTopic, { partitions: 1 });
        const c = await measured(`${round}-core-append`, () => coreAppend(server.core, coreTopic, batch, batches));
        console.log(row(String(round), 'core append', c));
        core.push(c);
      }
      if (PHASES.includes('kafka')) {
        const k = await measured(`${round}-produce-loop`, () => produceLoop(server, `produce-bench-${round}`));
        console.log(row(String(round), 'Produce loop', k));
        kafka.push(k);
      }
      if (dataServer) {
        const d = await measured(`${round}-produce-loop-data-events`, () => produceLoop(dataServer, `produce-bench-data-${round}`));
        console.log(row(String(round), "  'data' path", d));
        dataEvents.push(d);
      }
    }
    const coreUs = median(core.map((r) => r.usPerMsg));
    const kafkaUs = median(kafka.map((r) => r.usPerMsg));
    const coreCpuUs = median(core.map((r) => r.cpuUsPerMsg));
    const kafkaCpuUs = median(kafka.map((r) => r.cpuUsPerMsg));
    const coreRate = median(core.map((r) => r.msgsPerS));
    const kafkaRate = median(kafka.map((r) => r.msgsPerS));
    const dataCpuUs = median(dataEvents.map((r) => r.cpuUsPerMsg));
    const dataRate = median(dataEvents.map((r) => r.msgsPerS));
    console.log(
      `medians: core append ${coreUs.toFixed(2)} busy / ${coreCpuUs.toFixed(2)} cpu us/msg, ${Math.round(coreRate).toLocaleString('en-US')} msgs/s; ` +
        `Produce loop ${kafkaUs.toFixed(2)} busy / ${kafkaCpuUs.toFixed(2)} cpu us/msg (+${(kafkaUs - coreUs).toFixed(2)} / +${(kafkaCpuUs - coreCpuUs).toFixed(2)}), ` +
        `${Math.round(kafkaRate).toLocaleString('en-US')} msgs/s (${((100 * kafkaRate) / coreRate).toFixed(0)}% of core append)`,
    );
    if (dataServer) {
      console.log(
        `  'data' path (socketReadInto false): ${dataCpuUs.toFixed(2)} cpu us/msg, ${Math.round(dataRate).toLocaleString('en-US')} msgs/s (${((100 * dataRate) / coreRate).toFixed(0)}% of core append)`,
      );
    }
  } finally {
    observer.disconnect();
    session?.disconnect();
    await server.close();
    await dataServer?.close();
  }
}

await main();

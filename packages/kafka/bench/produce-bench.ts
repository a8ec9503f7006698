/**
 * The handler's produce cost alone, one phase of kafka-bench.ts repeated: the bare Produce v7 loop
 * (bench/fetch-client.ts in a worker thread: 8 requests in flight, acks=-1, ~950 x 1 KiB records
 * per ~1 MB request) against Strata in this process, fsync always. Per round: msgs/s, the server's
 * main-thread busy microseconds per message (event-loop utilization x wall time), and the server
 * isolate's garbage collections (count and pause ms by kind, from perf_hooks 'gc' entries; the
 * client's worker has its own isolate and is not counted). Run with --trace-gc for the details.
 * Usage: node produce-bench.js [messages=200000] [rounds=3]
 */
import { PerformanceObserver, constants as perfConstants, type PerformanceEntry } from 'node:perf_hooks';
import { startKafkaServer } from '../test/helpers/kafka-server.js';
import { JOURNAL_IO } from './journal-io.js';
import { runWorker } from './fetch-phases.js';

const MESSAGES = Math.max(1000, Number(process.argv[2] ?? 200_000));
const ROUNDS = Math.min(10, Math.max(1, Number(process.argv[3] ?? 3)));
const MESSAGE_BYTES = 1024;
const RECORDS_PER_BATCH = 950;
const IN_FLIGHT = 8;

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

async function main(): Promise<void> {
  const server = await startKafkaServer({ journalIo: JOURNAL_IO });
  observer.observe({ entryTypes: ['gc'] });
  try {
    const records = Math.ceil(MESSAGES / RECORDS_PER_BATCH) * RECORDS_PER_BATCH;
    console.log('round | msgs/s | server us/msg | scavenges (ms) | mark-compacts (ms)');
    for (let round = 0; round < ROUNDS; round++) {
      const topic = `produce-bench-${round}`;
      await server.core.topics.create(`persistent://public/default/${topic}`, { partitions: 1 });
      const before = { ...gc };
      const eluBefore = performance.eventLoopUtilization();
      const started = performance.now();
      const result = await runWorker({
        mode: 'produce', port: server.port, topic, records, recordsPerBatch: RECORDS_PER_BATCH, batchBytes: 0,
        maxBytes: 0, depth: IN_FLIGHT, bytes: 0, messageBytes: MESSAGE_BYTES,
      });
      const ms = performance.now() - started;
      const busyMs = performance.eventLoopUtilization(eluBefore).utilization * ms;
      await new Promise((resolve) => setTimeout(resolve, 50)); // let the observer deliver this round's entries
      const msgsPerS = result.records / (result.ms / 1000);
      const usPerMsg = (busyMs * 1000) / result.records;
      console.log(
        `${round} | ${Math.round(msgsPerS).toLocaleString('en-US')} | ${usPerMsg.toFixed(2)} | ` +
          `${gc.scavenges - before.scavenges} (${(gc.scavengeMs - before.scavengeMs).toFixed(0)}) | ` +
          `${gc.markCompacts - before.markCompacts} (${(gc.markCompactMs - before.markCompactMs).toFixed(0)})`,
      );
    }
  } finally {
    observer.disconnect();
    await server.close();
  }
}

await main();

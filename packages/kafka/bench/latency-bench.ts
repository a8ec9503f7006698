/**
 * The produce-latency phase of `bench:kafka` alone (bench/produce-latency.ts), repeated and
 * alternated with its references: `node packages/kafka/dist/bench/latency-bench.js [runs=3]`.
 * STRATA_BENCH_FSYNC_INTERVAL_MS=<ms> runs the server with fsync `interval:<ms>` instead of `always`:
 * with a long interval no fsync is on the acknowledgement path, which separates what durability
 * adds to the p99 from what the client and the machine add. STRATA_BENCH_LINGER_MS sets the
 * client's linger.ms (default 5). STRATA_BENCH_JOURNAL_IO_MODES=auto,thread-pool runs one server per
 * journal I/O mode and alternates them run by run.
 */
// First: UV_THREADPOOL_SIZE as strata serve sets it (the script runs again with it when unset).
import './server-thread-pool.js';
import fs from 'node:fs/promises';
import { BENCH_JOURNAL_FILE_BYTES, findTool, warmUpJournal } from '@strata/testing';
import { startKafkaServer } from '../test/helpers/kafka-server.js';
import type { JournalIo } from '@strata/core';
import { JOURNAL_IO, journalIoNamed } from './journal-io.js';
import { coreLatency, fsyncLatency, kafkaProduceLatency, LATENCY_RATE_PER_S, LINGER_MS, type Quantiles } from './produce-latency.js';

const RUNS = Math.min(10, Math.max(1, Number(process.argv[2] ?? 3)));
const python = findTool('python3:confluent_kafka');
if (!python) throw new Error('needs python3-confluent-kafka');
// The server's core in its steady state (recycled journal files); "core alone" runs on fresh cores.
const fsyncIntervalMs = Number(process.env['STRATA_BENCH_FSYNC_INTERVAL_MS'] ?? 0);
const fsync = fsyncIntervalMs > 0 ? { kind: 'interval' as const, intervalMs: fsyncIntervalMs } : { kind: 'always' as const };
const modes = (process.env['STRATA_BENCH_JOURNAL_IO_MODES'] ?? JOURNAL_IO).split(',').map((name) => journalIoNamed(name.trim()));
const servers: { mode: JournalIo; server: Awaited<ReturnType<typeof startKafkaServer>> }[] = [];
for (const mode of modes) {
  const server = await startKafkaServer({
    config: { defaultPartitions: 1 },
    journalIo: mode,
    fsync,
    coreInternals: { tuning: { journalFileBytesMax: BENCH_JOURNAL_FILE_BYTES } },
  });
  servers.push({ mode, server });
  await warmUpJournal(server.core);
}
const f = (x: Quantiles) => `${x.p50.toFixed(1).padStart(5)} ${x.p99.toFixed(1).padStart(6)} ${x.max.toFixed(1).padStart(6)}`;
try {
  console.log(`produce latency at ${LATENCY_RATE_PER_S} msgs/s, ms as p50 p99 max; linger.ms ${LINGER_MS}; server fsync ${fsync.kind === 'always' ? 'always' : `interval:${fsync.intervalMs}`}`);
  console.log('  journal I/O | client callback     | librdkafka latency() | core.append in handler | event-loop delay | core alone         | write+fdatasync');
  for (let i = 0; i < RUNS; i++) {
    for (const { mode, server } of servers) {
      const l = await kafkaProduceLatency(server.core, python, server.bootstrap, `latency-${i}`);
      const core = await coreLatency(`${server.dataDir}-core-${i}`, mode);
      const disk = await fsyncLatency(`${server.dataDir}-fsync-${i}`);
      for (const suffix of [`-core-${i}`, `-fsync-${i}`]) await fs.rm(`${server.dataDir}${suffix}`, { recursive: true, force: true });
      console.log(`  ${mode.padEnd(11)} | ${f(l.client)} | ${f(l.clientLibrary)}   | ${f(l.coreAppendInHandler)}    | ${f(l.eventLoopDelay)} | ${f(core)} | ${f(disk)}`);
    }
  }
} finally {
  for (const { server } of servers) await server.close();
}

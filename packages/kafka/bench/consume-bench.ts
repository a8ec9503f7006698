/**
 * The consume phases of `bench:kafka` alone (bench/fetch-phases.ts), for profiling the Fetch path
 * without the producers: `node packages/kafka/dist/bench/consume-bench.js [MiB=48] [depth=4] [rounds=5]`.
 */
// First: UV_THREADPOOL_SIZE as strata serve sets it (the script runs again with it when unset).
import './server-thread-pool.js';
import { startKafkaServer } from '../test/helpers/kafka-server.js';
import { JOURNAL_IO } from './journal-io.js';
import { consumePhases, type PhaseRate } from './fetch-phases.js';

const MIB = Math.max(1, Number(process.argv[2] ?? 48));
const DEPTH = Math.max(1, Number(process.argv[3] ?? 4));
const ROUNDS = Math.min(20, Math.max(1, Number(process.argv[4] ?? 5)));

const server = await startKafkaServer({ config: { defaultPartitions: 1 }, journalIo: JOURNAL_IO });
try {
  console.log(`consume: ${MIB} MiB of 1 KiB records, batches of 950, 8 MiB fetches, ${ROUNDS} rounds; MB/s (MiB/s) median (best)`);
  const n = await consumePhases(server.core, server.port, { bytes: MIB * 1048576, recordsPerBatch: 950, messageBytes: 1024, depth: DEPTH, rounds: ROUNDS });
  const rows: Array<[string, PhaseRate]> = [
    ['loopback TCP ceiling', n.tcpCeiling],
    ['core read, tail cache', n.coreTail],
    ['kafka Fetch, tail, 1 in flight', n.fetchTail1],
    [`kafka Fetch, tail, ${DEPTH} in flight`, n.fetchTailN],
    ['core read, disk', n.coreDisk],
    ['core read, disk -> socket, no protocol', n.coreDiskToSocket],
    ['kafka Fetch, disk, 1 in flight', n.fetchDisk1],
    [`kafka Fetch, disk, ${DEPTH} in flight`, n.fetchDiskN],
  ];
  for (const [name, r] of rows) {
    const busy = r.serverBusy === undefined ? '' : `  server main thread busy ${(100 * r.serverBusy).toFixed(0)}%`;
    console.log(`  ${name.padEnd(40)} ${r.median.toFixed(0).padStart(8)} (${r.best.toFixed(0)})${busy}`);
  }
} finally {
  await server.close();
}

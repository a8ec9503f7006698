/**
 * The consume phases of `bench:kafka` alone (bench/fetch-phases.ts), for profiling the Fetch path
 * without the producers: `node packages/kafka/dist/bench/consume-bench.js [MiB=48] [depth=4] [runs=1]`.
 */
import { startKafkaServer } from '../test/helpers/kafka-server.js';
import { consumePhases } from './fetch-phases.js';

const MIB = Math.max(1, Number(process.argv[2] ?? 48));
const DEPTH = Math.max(1, Number(process.argv[3] ?? 4));
const RUNS = Math.min(10, Math.max(1, Number(process.argv[4] ?? 1)));

const server = await startKafkaServer({ config: { defaultPartitions: 1 } });
try {
  console.log(`consume: ${MIB} MiB of 1 KiB records, batches of 950, 8 MiB fetches; MB/s (MiB/s)`);
  console.log('  core tail | kafka tail x1 | kafka tail x' + DEPTH + ' | core disk | kafka disk x1 | kafka disk x' + DEPTH + ' | tcp ceiling');
  for (let run = 0; run < RUNS; run++) {
    const n = await consumePhases(server.core, server.port, { bytes: MIB * 1048576, recordsPerBatch: 950, messageBytes: 1024, depth: DEPTH });
    const f = (x: number) => x.toFixed(0).padStart(6);
    console.log(`  ${f(n.coreTail)} | ${f(n.fetchTail1)} | ${f(n.fetchTailN)} | ${f(n.coreDisk)} | ${f(n.fetchDisk1)} | ${f(n.fetchDiskN)} | ${f(n.tcpCeiling)}`);
  }
} finally {
  await server.close();
}

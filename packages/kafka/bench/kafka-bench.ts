/**
 * Kafka handler benchmark (`npm run bench:kafka`), issue 3 "Performance". In one run:
 *   1. produce throughput with librdkafka (python3-confluent-kafka: 1 KiB records, acks=all,
 *      linger.ms=5) against Strata in this process;
 *   1a. the same with kcat -P (librdkafka's own C CLI: no Python per message; bench/kcat-produce.ts),
 *      alternated with phase 1 and phase 4;
 *   1b. the same with a bare Produce v7 loop over one connection from a worker thread (no client
 *      library: the handler's own cost; batches like phase 1's, 8 requests in flight like the core
 *      phase; bench/fetch-client.ts);
 *   2. consume throughput (bench/fetch-phases.ts): the same N bytes read by core.read and fetched
 *      by a bare pipelined Fetch v11 client (in a worker thread, no copies of the records), on each
 *      of the core's read paths: tail cache (a consumer keeping up) and disk (a consumer catching
 *      up, evicted from the tail cache), beside the loopback TCP ceiling for the same bytes; and
 *      end to end with librdkafka (kcat -C, no group; includes kcat's start-up and its per-message
 *      output) of what phase 1 produced;
 *   3. p99 produce latency (produce() call → delivery report) at 10,000 msgs/s and where its
 *      milliseconds go: core.append inside the handler, the server's event-loop delay, the core
 *      alone at the same rate, a bare write+fdatasync on the same disk (bench/produce-latency.ts);
 *   4. the core's own append on the same machine, same data dir kind, same 1 KiB records batched
 *      like the producer's batches (~950 records), alternated with phase 1 over PRODUCE_ROUNDS
 *      rounds; the medians are printed side by side.
 * Bounded: fixed message counts, every child process killed after a deadline.
 * STRATA_BENCH_SOCKET_READ_INTO=false runs the handler with `socketReadInto: false` (Node's 'data'
 * events, the read path before 2026-11-22 09:00), to compare runs.
 * Usage: node kafka-bench.js [messages=100000]
 */
// First: UV_THREADPOOL_SIZE as strata serve sets it (the script runs again with it when unset).
import './server-thread-pool.js';
import fs from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { encodeRecordBatch, openCore, type Core, type Message } from '@strata/core';
import { BENCH_JOURNAL_FILE_BYTES, findTool, warmUpJournal } from '@strata/testing';
import { startKafkaServer } from '../test/helpers/kafka-server.js';
import { run } from './child.js';
import { JOURNAL_IO } from './journal-io.js';
import { consumePhases, runWorker, type PhaseRate } from './fetch-phases.js';
import { kcatProduce, kcatStartupSeconds, writeKcatInput } from './kcat-produce.js';
import { coreLatency, fsyncLatency, kafkaProduceLatency, type Quantiles } from './produce-latency.js';
import { mainThreadCpuNs } from './thread-cpu.js';

const MESSAGES = Math.max(1000, Number(process.argv[2] ?? 100_000));
/** kcat -P gets at least this many messages: >= 2 s at its rates here, so its start-up (measured apart) weighs little. */
const KCAT_MESSAGES_MIN = 400_000;
const KCAT_MESSAGES = Math.max(MESSAGES, KCAT_MESSAGES_MIN);
const MESSAGE_BYTES = 1024;
const CORE_APPENDS_IN_FLIGHT = 8;
/** Bytes read by each consume phase: less than the core's tail cache (64 MiB), so the tail phase stays in it. */
const CONSUME_BYTES = 48 * 1024 * 1024;
const FETCHES_IN_FLIGHT = 4;
/** Interleaved repetitions of each consume phase (median and best reported). */
const CONSUME_ROUNDS = 5;
/**
 * Alternated rounds of core append and librdkafka produce: 5 since 2026-11-22 17:20 UTC (3 before),
 * as one round of either side lasts half a second and the disk's speed moves between rounds.
 */
const PRODUCE_ROUNDS = 5;
/** librdkafka's batches at linger 5 ms and batch.size 1,000,000 hold ~950 1 KiB records. */
const EXPECTED_RECORDS_PER_BATCH = 950;

const PRODUCE_PY = String.raw`
import sys, time, json
from confluent_kafka import Producer
bootstrap, topic, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
p = Producer({'bootstrap.servers': bootstrap, 'acks': 'all', 'linger.ms': 5, 'queue.buffering.max.messages': 1000000, 'queue.buffering.max.kbytes': 1048576})
value = b'a' * 1024
p.produce(topic, value); p.flush(10)
t = time.perf_counter()
for i in range(n):
    while True:
        try:
            p.produce(topic, value, partition=0)
            break
        except BufferError:
            p.poll(0.001)
    if i % 1000 == 0: p.poll(0)
left = p.flush(60)
print(json.dumps({'seconds': time.perf_counter() - t, 'left': left}))
`;


/** Rate and main-thread busy and CPU microseconds per message of one produce phase. */
interface ProduceRate {
  readonly msgsPerS: number;
  readonly busyUsPerMsg: number;
  /** Main-thread CPU time per message (bench/thread-cpu.ts; busy also counts time preempted); NaN without /proc. */
  readonly cpuUsPerMsg: number;
}

/** Times `phase` (which returns the messages it stored) with the main thread's busy time (event-loop utilization) and CPU time. */
async function timed(phase: () => Promise<number>): Promise<ProduceRate> {
  const eluBefore = performance.eventLoopUtilization();
  const cpuBefore = mainThreadCpuNs();
  const started = performance.now();
  const messages = await phase();
  const ms = performance.now() - started;
  const cpuAfter = mainThreadCpuNs();
  const busyMs = performance.eventLoopUtilization(eluBefore).utilization * ms;
  const cpuUsPerMsg = cpuBefore === null || cpuAfter === null ? NaN : (cpuAfter - cpuBefore) / 1000 / messages;
  return { msgsPerS: messages / (ms / 1000), busyUsPerMsg: (busyMs * 1000) / messages, cpuUsPerMsg };
}

/** The core's own append of `recordsPerBatch`-record batches to a new topic of `core`, CORE_APPENDS_IN_FLIGHT in flight. */
async function coreAppend(core: Core, topic: string, recordsPerBatch: number): Promise<ProduceRate> {
  await core.topics.create(topic, { partitions: 1 });
  const value = Buffer.alloc(MESSAGE_BYTES, 0x61);
  const messages: Message[] = Array.from({ length: recordsPerBatch }, () => ({ key: null, value, headers: [], timestamp: Date.now() }));
  const batch = encodeRecordBatch(messages);
  const batches = Math.ceil(MESSAGES / recordsPerBatch);
  let next = 0;
  return await timed(async () => {
    await Promise.all(
      Array.from({ length: CORE_APPENDS_IN_FLIGHT }, async () => {
        while (next < batches) {
          next++;
          await core.append(topic, 0, { kind: 'batches', data: batch });
        }
      }),
    );
    return batches * recordsPerBatch;
  });
}

/** The element with the median msgsPerS. */
function medianBy<T extends { msgsPerS: number }>(rounds: readonly T[]): T {
  const sorted = [...rounds].sort((a, b) => a.msgsPerS - b.msgsPerS);
  return sorted[Math.floor(sorted.length / 2)]!;
}

function fmt(n: number, digits = 0): string {
  return n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

async function main(): Promise<void> {
  const python = findTool('python3:confluent_kafka');
  const kcat = findTool('kcat');
  if (!python || !kcat) {
    console.error('bench:kafka needs kcat and python3-confluent-kafka (apt-get install -y kcat python3-confluent-kafka)');
    process.exitCode = 1;
    return;
  }
  // Both cores with the same journal file size, warmed up to recycled journal files: a running
  // server's steady state (@strata/testing warm-up-journal.ts).
  const coreInternals = { tuning: { journalFileBytesMax: BENCH_JOURNAL_FILE_BYTES } };
  const socketReadInto = process.env['STRATA_BENCH_SOCKET_READ_INTO'] !== 'false';
  const server = await startKafkaServer({ config: { defaultPartitions: 1, socketReadInto }, journalIo: JOURNAL_IO, coreInternals });
  await server.core.topics.create('persistent://public/default/bench-loop', { partitions: 1 });
  const coreDir = `${server.dataDir}-core`;
  const core = await openCore({ dataDir: coreDir, journalIo: JOURNAL_IO }, coreInternals);
  const warmUpMs = [await warmUpJournal(server.core), await warmUpJournal(core)];
  const kcatInput = `${coreDir}-kcat-input`;
  await writeKcatInput(kcatInput, KCAT_MESSAGES, MESSAGE_BYTES);
  const kcatStartup = await kcatStartupSeconds(kcat, server.bootstrap, 'bench-kcat-startup', path.dirname(kcatInput));
  let batchesSeen = 0;
  let recordsSeen = 0;
  const unsubscribe = server.core.onAppend((e) => {
    batchesSeen++;
    recordsSeen += e.lastOffset - e.baseOffset + 1;
  });
  try {
    // PRODUCE_ROUNDS alternated rounds of the core's own append and of librdkafka through the
    // handler (the shared disk's speed drifts by 2-3x within minutes: alternation lets the drift hit
    // both alike); the medians are compared.
    const coreRounds: ProduceRate[] = [];
    const produceRounds: ProduceRate[] = [];
    const kcatRounds: ProduceRate[] = [];
    for (let round = 0; round < PRODUCE_ROUNDS; round++) {
      coreRounds.push(await coreAppend(core, `persistent://public/default/core-bench-${round}`, EXPECTED_RECORDS_PER_BATCH));
      let produced!: Awaited<ReturnType<typeof run>>;
      const busy = await timed(async () => {
        produced = await run(python, ['-c', PRODUCE_PY, server.bootstrap, 'bench', String(MESSAGES)]);
        return MESSAGES;
      });
      if (produced.code !== 0) throw new Error(`producer failed: ${produced.stderr.slice(-2000)}`);
      const p = JSON.parse(produced.stdout.trim()) as { seconds: number; left: number };
      if (p.left !== 0) throw new Error(`${p.left} messages not delivered`);
      produceRounds.push({ msgsPerS: MESSAGES / p.seconds, busyUsPerMsg: busy.busyUsPerMsg, cpuUsPerMsg: busy.cpuUsPerMsg });
      // kcat -P to a topic created first (its creation's fsyncs are not counted); wall time spawn to exit.
      const kcatTopic = `bench-kcat-${round}`;
      await server.core.topics.create(`persistent://public/default/${kcatTopic}`, { partitions: 1 });
      let kcatSeconds = 0;
      const kcatBusy = await timed(async () => {
        kcatSeconds = await kcatProduce(kcat, server.bootstrap, kcatTopic, kcatInput);
        return KCAT_MESSAGES;
      });
      const stored = server.core.offsets(`persistent://public/default/${kcatTopic}`, 0).highWatermark;
      if (stored !== KCAT_MESSAGES) throw new Error(`kcat -P stored ${stored} of ${KCAT_MESSAGES} messages`);
      kcatRounds.push({ msgsPerS: KCAT_MESSAGES / kcatSeconds, busyUsPerMsg: kcatBusy.busyUsPerMsg, cpuUsPerMsg: kcatBusy.cpuUsPerMsg });
    }
    const kcatMedian = medianBy(kcatRounds);
    const produceMedian = medianBy(produceRounds);
    const produceMsgsPerS = produceMedian.msgsPerS;
    const produceBusy = produceMedian;
    const recordsPerBatch = Math.max(1, Math.round(recordsSeen / Math.max(1, batchesSeen)));
    unsubscribe();

    const consumeStarted = performance.now();
    const consumed = await run(kcat, ['-b', server.bootstrap, '-C', '-t', 'bench', '-p', '0', '-o', 'beginning', '-e', '-q', '-f', '%o\n']);
    const consumeMs = performance.now() - consumeStarted;
    const lines = consumed.stdout.trim().split('\n').length;
    if (lines < MESSAGES) throw new Error(`consumer read ${lines} of ${MESSAGES}: ${consumed.stderr.slice(-1000)}`);
    const consumeMsgsPerS = lines / (consumeMs / 1000);

    // The handler's own produce cost: the same batches as the core phase, pipelined over one
    // connection from a worker thread (its socket work is not the server's), as many requests in
    // flight as the core phase has appends in flight.
    let produceLoop!: Awaited<ReturnType<typeof runWorker>>;
    const produceLoopBusy = await timed(async () => {
      produceLoop = await runWorker({
        mode: 'produce', port: server.port, topic: 'bench-loop', records: Math.ceil(MESSAGES / recordsPerBatch) * recordsPerBatch,
        recordsPerBatch, batchBytes: 0, maxBytes: 0, depth: CORE_APPENDS_IN_FLIGHT, bytes: 0, messageBytes: MESSAGE_BYTES,
      });
      return produceLoop.records;
    });
    const produceLoopMsgsPerS = produceLoop.records / (produceLoop.ms / 1000);

    const consume = await consumePhases(server.core, server.port, { bytes: CONSUME_BYTES, recordsPerBatch, messageBytes: MESSAGE_BYTES, depth: FETCHES_IN_FLIGHT, rounds: CONSUME_ROUNDS });

    await sleep(200);
    const l = await kafkaProduceLatency(server.core, python, server.bootstrap, 'latency');

    const coreAppendBest = medianBy(coreRounds);
    const coreAppendMsgsPerS = coreAppendBest.msgsPerS;
    const coreLat = await coreLatency(`${coreDir}-latency`);
    const diskLat = await fsyncLatency(`${coreDir}-fsync`);
    const mb = (msgs: number) => (msgs * MESSAGE_BYTES) / (1024 * 1024);
    console.log(`Kafka handler benchmark: ${fmt(MESSAGES)} x 1 KiB records, acks=all, linger.ms=5, fsync always, journal I/O ${JOURNAL_IO}, socketReadInto ${socketReadInto}`);
    console.log(
      `  produce: ${PRODUCE_ROUNDS} alternated rounds, medians; core ${coreRounds.map((r) => fmt(r.msgsPerS)).join(' / ')}, librdkafka (Python) ${produceRounds.map((r) => fmt(r.msgsPerS)).join(' / ')}, ` +
        `kcat -P ${kcatRounds.map((r) => fmt(r.msgsPerS)).join(' / ')} msgs/s`,
    );
    // Each librdkafka round against the core round just before it: the drift between rounds hits
    // both sides of a pair alike, so the median of these ratios is steadier than the ratio of medians.
    const pairRatios = produceRounds.map((round, i) => round.msgsPerS / coreRounds[i]!.msgsPerS).sort((a, b) => a - b);
    console.log(`  librdkafka / core, round by round: ${pairRatios.map((r) => `${fmt(100 * r)}%`).join(' ')} (median ${fmt(100 * pairRatios[pairRatios.length >> 1]!)}%)`);
    console.log(`  kcat -P: ${fmt(KCAT_MESSAGES)} messages per round, timed spawn to exit, start-up included: kcat -P with no input takes ${fmt(kcatStartup, 2)} s`);
    console.log(`  producer batches seen by the core: ${fmt(batchesSeen)} (avg ${recordsPerBatch} records)`);
    console.log(`  both cores warmed up to recycled journal files of ${fmt(BENCH_JOURNAL_FILE_BYTES / 1048576)} MiB first (${warmUpMs.map((ms) => `${fmt(ms / 1000, 1)} s`).join(', ')}); the latency phase's "core alone" runs on a fresh core`);
    console.log('');
    const row = (name: string, msgsPerS: number, base: number | null, rate: ProduceRate) =>
      console.log(
        `  ${name.padEnd(32)} ${fmt(msgsPerS).padStart(11)} ${fmt(mb(msgsPerS), 1).padStart(9)} ${base === null ? ''.padStart(9) : `${fmt((100 * msgsPerS) / base).padStart(8)}%`} ` +
          `${fmt(rate.busyUsPerMsg, 1).padStart(9)} ${fmt(rate.cpuUsPerMsg, 2).padStart(8)}`,
      );
    console.log('  produce                                msgs/s      MB/s  vs core   server us/msg: busy    cpu');
    row('core append (raw)', coreAppendMsgsPerS, null, coreAppendBest);
    row('kafka produce (librdkafka, Python)', produceMsgsPerS, coreAppendMsgsPerS, produceBusy);
    row('kafka produce (kcat -P)', kcatMedian.msgsPerS, coreAppendMsgsPerS, kcatMedian);
    row('kafka Produce loop', produceLoopMsgsPerS, coreAppendMsgsPerS, produceLoopBusy);
    console.log('  (busy: the server main thread\'s event-loop utilization x wall time, which counts time it sat preempted; cpu: its CPU time)');
    console.log('');
    const pct = (x: number, base: number) => `${fmt((100 * x) / base).padStart(7)}%`;
    const mbRow = (name: string, r: PhaseRate, coreBase: PhaseRate | null) =>
      console.log(`  ${name.padEnd(31)} ${fmt(r.median, 1).padStart(11)} ${fmt(r.best, 1).padStart(11)} ${coreBase === null ? ''.padStart(8) : pct(r.median, coreBase.median)} ${pct(r.median, consume.tcpCeiling.median)}${r.serverBusy === undefined ? '' : `   server busy ${fmt(100 * r.serverBusy).padStart(3)}%`}`);
    console.log(`  consume (${fmt(consume.bytes / 1048576, 1)} MiB, ${consume.rounds} rounds)     MB/s median        best  vs core   vs TCP`);
    mbRow('loopback TCP ceiling', consume.tcpCeiling, null);
    mbRow('core read, tail cache', consume.coreTail, null);
    mbRow('kafka Fetch, tail, 1 in flight', consume.fetchTail1, consume.coreTail);
    mbRow(`kafka Fetch, tail, ${consume.depth} in flight`, consume.fetchTailN, consume.coreTail);
    mbRow('core read, disk', consume.coreDisk, null);
    mbRow('kafka Fetch, disk, 1 in flight', consume.fetchDisk1, consume.coreDisk);
    mbRow(`kafka Fetch, disk, ${consume.depth} in flight`, consume.fetchDiskN, consume.coreDisk);
    mbRow('core read, disk -> socket', consume.coreDiskToSocket, consume.coreDisk);
    console.log(`    (no protocol: the storage-to-socket floor in Node, two copies; Kafka Fetch, disk, against it: ${fmt((100 * consume.fetchDisk1.median) / consume.coreDiskToSocket.median)}% / ${fmt((100 * consume.fetchDiskN.median) / consume.coreDiskToSocket.median)}%)`);
    const kcatMbPerS = mb(consumeMsgsPerS);
    mbRow('kafka consume (kcat, e2e)', { median: kcatMbPerS, best: kcatMbPerS }, consume.coreDisk);
    console.log('');
    const q = (x: Quantiles) => `p50 ${fmt(x.p50, 2).padStart(6)}  p99 ${fmt(x.p99, 2).padStart(6)}  max ${fmt(x.max, 2).padStart(6)} ms`;
    console.log(`  produce latency at ${fmt(l.rate)} msgs/s (${fmt(l.count)} acked):`);
    console.log(`    librdkafka produce() -> callback   ${q(l.client)}   (includes linger.ms=5 and the Python loop)`);
    console.log(`    librdkafka Message.latency()       ${q(l.clientLibrary)}   (its own clock, includes linger.ms=5)`);
    console.log(`    core.append inside the handler     ${q(l.coreAppendInHandler)}`);
    console.log(`    server event-loop delay            ${q(l.eventLoopDelay)}`);
    console.log(`    core alone, same rate and batching ${q(coreLat)}`);
    console.log(`    bare write + fdatasync every 5 ms  ${q(diskLat)}`);
    for (const suffix of ['-latency', '-fsync']) await fs.rm(`${coreDir}${suffix}`, { recursive: true, force: true });
  } finally {
    await core.close();
    await fs.rm(coreDir, { recursive: true, force: true });
    await fs.rm(kcatInput, { force: true });
    await server.close();
  }
}

await main();

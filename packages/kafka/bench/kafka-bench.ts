/**
 * Kafka handler benchmark (`npm run bench:kafka`), issue 3 "Performance". In one run:
 *   1. produce throughput with librdkafka (python3-confluent-kafka: 1 KiB records, acks=all,
 *      linger.ms=5) against Strata in this process;
 *   1b. the same with a bare Produce v7 loop over one connection (no client library: the handler's
 *      own cost; batches like phase 1's, 8 requests in flight like the core phase);
 *   2. consume throughput of what was produced: with librdkafka (kcat -C, no group; includes kcat's
 *      start-up and its per-message output), and with a bare Fetch v11 loop over one connection
 *      (8 MiB per fetch, as much as the core read phase reads per call: the handler's own cost, no client library);
 *   3. p99 produce latency (produce() call → delivery report) at 10,000 msgs/s (client with
 *      socket.nagle.disable=true: with Nagle on, librdkafka's partial segments wait for our delayed
 *      ACKs, tens of ms, whatever the broker does);
 *   4. the core's own append and read on the same machine, same data dir kind, same 1 KiB
 *      records batched like the producer's batches (average observed in phase 1), run before and
 *      after the Kafka phases (best of the two), printed side by side with 1 and 2.
 * Bounded: fixed message counts, every child process killed after a deadline.
 * Usage: node kafka-bench.js [messages=100000]
 */
import { spawn } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { encodeRecordBatch, openCore, type Core, type Message } from '@strata/core';
import { findTool } from '@strata/testing';
import { API_KEY } from '../src/protocol/messages/index.js';
import { startKafkaServer } from '../test/helpers/kafka-server.js';
import { RawClient } from '../test/helpers/raw-client.js';

const MESSAGES = Math.max(1000, Number(process.argv[2] ?? 100_000));
const MESSAGE_BYTES = 1024;
const LATENCY_RATE_PER_S = 10_000;
const LATENCY_SECONDS = 3;
const CHILD_DEADLINE_MS = 120_000;
const CORE_APPENDS_IN_FLIGHT = 8;
const READ_BYTES_MAX = 8 * 1024 * 1024;
/** librdkafka's batches at linger 5 ms and batch.size 1,000,000 hold ~950 1 KiB records. */
const EXPECTED_RECORDS_PER_BATCH = 950;

function run(program: string, args: readonly string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(program, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), CHILD_DEADLINE_MS);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

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

const LATENCY_PY = String.raw`
import sys, time, json
from confluent_kafka import Producer
bootstrap, topic, rate, seconds = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
p = Producer({'bootstrap.servers': bootstrap, 'acks': 'all', 'linger.ms': 5, 'socket.nagle.disable': True})
value = b'a' * 1024
lat = []
def cb(sent):
    return lambda err, msg: lat.append(time.perf_counter() - sent) if err is None else None
p.produce(topic, value); p.flush(10)
start = time.perf_counter()
total = int(rate * seconds)
tick = 0.001
per_tick = max(1, int(rate * tick))
sent = 0
while sent < total:
    target = start + sent / rate
    now = time.perf_counter()
    if now < target:
        p.poll(min(tick, target - now))
        continue
    for _ in range(per_tick):
        p.produce(topic, value, partition=0, on_delivery=cb(time.perf_counter()))
        sent += 1
    p.poll(0)
p.flush(30)
lat.sort()
q = lambda f: lat[min(len(lat) - 1, int(f * len(lat)))] * 1000
print(json.dumps({'count': len(lat), 'p50': q(0.5), 'p99': q(0.99), 'max': lat[-1] * 1000, 'rate': total / (time.perf_counter() - start)}))
`;

async function coreAppendAndRead(dataDir: string, recordsPerBatch: number): Promise<{ appendMsgsPerS: number; readMsgsPerS: number }> {
  const core: Core = await openCore({ dataDir });
  try {
    const topic = 'persistent://public/default/core-bench';
    await core.topics.create(topic, { partitions: 1 });
    const value = Buffer.alloc(MESSAGE_BYTES, 0x61);
    const messages: Message[] = Array.from({ length: recordsPerBatch }, () => ({ key: null, value, headers: [], timestamp: Date.now() }));
    const batch = encodeRecordBatch(messages);
    const batches = Math.ceil(MESSAGES / recordsPerBatch);
    let next = 0;
    const started = performance.now();
    await Promise.all(
      Array.from({ length: CORE_APPENDS_IN_FLIGHT }, async () => {
        while (next < batches) {
          next++;
          await core.append(topic, 0, { kind: 'batches', data: batch });
        }
      }),
    );
    const appendMs = performance.now() - started;
    const total = batches * recordsPerBatch;
    const readStarted = performance.now();
    let offset = 0;
    for (let rounds = 0; offset < total && rounds < 10_000_000; rounds++) {
      const result = await core.read(topic, 0, { offset, maxBytes: READ_BYTES_MAX });
      if (result.entries.length === 0) break;
      offset = result.entries[result.entries.length - 1]!.lastOffset + 1;
    }
    const readMs = performance.now() - readStarted;
    return { appendMsgsPerS: total / (appendMs / 1000), readMsgsPerS: offset / (readMs / 1000) };
  } finally {
    await core.close();
  }
}

/**
 * The core's own append latency at the same rate, batched as librdkafka batches at linger 5 ms
 * (rate x 5 ms records per batch, one batch every 5 ms): the floor under the Kafka p99.
 */
async function coreLatency(dataDir: string): Promise<{ p50: number; p99: number; max: number }> {
  const core: Core = await openCore({ dataDir });
  try {
    const topic = 'persistent://public/default/core-latency';
    await core.topics.create(topic, { partitions: 1 });
    const lingerMs = 5;
    const perBatch = Math.max(1, Math.round((LATENCY_RATE_PER_S * lingerMs) / 1000));
    const value = Buffer.alloc(MESSAGE_BYTES, 0x61);
    const batch = encodeRecordBatch(Array.from({ length: perBatch }, () => ({ key: null, value, headers: [], timestamp: Date.now() })));
    const latencies: number[] = [];
    const pending: Promise<void>[] = [];
    const started = performance.now();
    for (let i = 0; performance.now() - started < LATENCY_SECONDS * 1000 && i < 100_000; i++) {
      const at = performance.now();
      pending.push(core.append(topic, 0, { kind: 'batches', data: batch }).then(() => void latencies.push(performance.now() - at)));
      const next = started + (i + 1) * lingerMs;
      await sleep(Math.max(0, next - performance.now()));
    }
    await Promise.all(pending);
    latencies.sort((a, b) => a - b);
    const q = (f: number) => latencies[Math.min(latencies.length - 1, Math.floor(f * latencies.length))]!;
    return { p50: q(0.5), p99: q(0.99), max: latencies[latencies.length - 1]! };
  } finally {
    await core.close();
  }
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
  const server = await startKafkaServer({ config: { defaultPartitions: 1 } });
  await server.core.topics.create('persistent://public/default/bench-loop', { partitions: 1 });
  const coreDir = `${server.dataDir}-core`;
  let batchesSeen = 0;
  let recordsSeen = 0;
  const unsubscribe = server.core.onAppend((e) => {
    batchesSeen++;
    recordsSeen += e.lastOffset - e.baseOffset + 1;
  });
  try {
    const coreBefore = await coreAppendAndRead(`${coreDir}-before`, EXPECTED_RECORDS_PER_BATCH);
    const produced = await run(python, ['-c', PRODUCE_PY, server.bootstrap, 'bench', String(MESSAGES)]);
    if (produced.code !== 0) throw new Error(`producer failed: ${produced.stderr.slice(-2000)}`);
    const p = JSON.parse(produced.stdout.trim()) as { seconds: number; left: number };
    if (p.left !== 0) throw new Error(`${p.left} messages not delivered`);
    const produceMsgsPerS = MESSAGES / p.seconds;
    const recordsPerBatch = Math.max(1, Math.round(recordsSeen / Math.max(1, batchesSeen)));
    unsubscribe();

    const consumeStarted = performance.now();
    const consumed = await run(kcat, ['-b', server.bootstrap, '-C', '-t', 'bench', '-p', '0', '-o', 'beginning', '-e', '-q', '-f', '%o\n']);
    const consumeMs = performance.now() - consumeStarted;
    const lines = consumed.stdout.trim().split('\n').length;
    if (lines < MESSAGES) throw new Error(`consumer read ${lines} of ${MESSAGES}: ${consumed.stderr.slice(-1000)}`);
    const consumeMsgsPerS = lines / (consumeMs / 1000);

    // The handler's own produce cost: the same batches as the core phase, pipelined over one
    // connection with as many requests in flight as the core phase has appends in flight.
    const producerRaw = await RawClient.connect(server.port);
    const produceBatch = encodeRecordBatch(
      Array.from({ length: recordsPerBatch }, () => ({ key: null, value: Buffer.alloc(MESSAGE_BYTES, 0x61), headers: [], timestamp: Date.now() })),
    );
    const produceRequests = Math.ceil(MESSAGES / recordsPerBatch);
    const produceLoopStarted = performance.now();
    let inFlight = 0;
    let answered = 0;
    for (let i = 0; i < produceRequests; i++) {
      producerRaw.request(API_KEY.Produce, 7, i, {
        transactionalId: null, acks: -1, timeoutMs: 30_000,
        topicData: [{ name: 'bench-loop', partitionData: [{ index: 0, records: produceBatch }] }],
      });
      if (++inFlight >= CORE_APPENDS_IN_FLIGHT) {
        const r = await producerRaw.response(API_KEY.Produce, 7, 30_000);
        if (r?.body.responses[0].partitionResponses[0].errorCode !== 0) throw new Error('produce loop failed');
        inFlight--;
        answered++;
      }
    }
    for (; answered < produceRequests; answered++) await producerRaw.response(API_KEY.Produce, 7, 30_000);
    const produceLoopMsgsPerS = (produceRequests * recordsPerBatch) / ((performance.now() - produceLoopStarted) / 1000);
    producerRaw.close();

    const raw = await RawClient.connect(server.port);
    const rawStarted = performance.now();
    let fetched = 0;
    let fetchOffset = 0;
    for (let i = 0; fetchOffset < MESSAGES && i < 1_000_000; i++) {
      raw.request(API_KEY.Fetch, 11, i, {
        replicaId: -1, maxWaitMs: 0, minBytes: 1, maxBytes: READ_BYTES_MAX, isolationLevel: 0, sessionId: 0, sessionEpoch: -1,
        topics: [{ topic: 'bench', partitions: [{ partition: 0, currentLeaderEpoch: -1, fetchOffset, lastFetchedEpoch: -1, logStartOffset: -1, partitionMaxBytes: READ_BYTES_MAX }] }],
        forgottenTopicsData: [], rackId: '',
      });
      const response = await raw.response(API_KEY.Fetch, 11);
      const records = response?.body.responses[0].partitions[0].records as Buffer | null;
      if (!records || records.length < 61) break;
      // Walk the batches: base offset (8) + length (4) ... lastOffsetDelta at 23.
      for (let pos = 0; pos + 61 <= records.length; ) {
        const base = Number(records.readBigInt64BE(pos));
        const length = records.readInt32BE(pos + 8);
        const last = base + records.readInt32BE(pos + 23);
        if (last >= fetchOffset) fetched += last + 1 - Math.max(base, fetchOffset);
        fetchOffset = Math.max(fetchOffset, last + 1);
        pos += 12 + length;
      }
    }
    const rawMs = performance.now() - rawStarted;
    raw.close();
    const rawFetchMsgsPerS = fetched / (rawMs / 1000);

    await sleep(200);
    const latency = await run(python, ['-c', LATENCY_PY, server.bootstrap, 'latency', String(LATENCY_RATE_PER_S), String(LATENCY_SECONDS)]);
    if (latency.code !== 0) throw new Error(`latency producer failed: ${latency.stderr.slice(-2000)}`);
    const l = JSON.parse(latency.stdout.trim()) as { count: number; p50: number; p99: number; max: number; rate: number };

    const coreAfter = await coreAppendAndRead(`${coreDir}-after`, recordsPerBatch);
    // Best of a run before and a run after the Kafka phases: the machine is shared and its disk
    // speed drifts, so one core run alone favours whichever side ran in the quieter moment.
    const core = {
      appendMsgsPerS: Math.max(coreBefore.appendMsgsPerS, coreAfter.appendMsgsPerS),
      readMsgsPerS: Math.max(coreBefore.readMsgsPerS, coreAfter.readMsgsPerS),
    };
    const coreLat = await coreLatency(`${coreDir}-latency`);
    const mb = (msgs: number) => (msgs * MESSAGE_BYTES) / (1024 * 1024);
    console.log(`Kafka handler benchmark: ${fmt(MESSAGES)} x 1 KiB records, acks=all, linger.ms=5, fsync always`);
    console.log(`  producer batches seen by the core: ${fmt(batchesSeen)} (avg ${recordsPerBatch} records)`);
    console.log('');
    console.log('  phase                     msgs/s        MB/s    vs core');
    console.log(`  core append (raw)    ${fmt(core.appendMsgsPerS).padStart(11)} ${fmt(mb(core.appendMsgsPerS), 1).padStart(11)}`);
    console.log(`  kafka produce (rdk)  ${fmt(produceMsgsPerS).padStart(11)} ${fmt(mb(produceMsgsPerS), 1).padStart(11)} ${fmt((100 * produceMsgsPerS) / core.appendMsgsPerS).padStart(9)}%`);
    console.log(`  kafka Produce loop   ${fmt(produceLoopMsgsPerS).padStart(11)} ${fmt(mb(produceLoopMsgsPerS), 1).padStart(11)} ${fmt((100 * produceLoopMsgsPerS) / core.appendMsgsPerS).padStart(9)}%`);
    console.log(`  core read (raw)      ${fmt(core.readMsgsPerS).padStart(11)} ${fmt(mb(core.readMsgsPerS), 1).padStart(11)}`);
    console.log(`  kafka consume (kcat) ${fmt(consumeMsgsPerS).padStart(11)} ${fmt(mb(consumeMsgsPerS), 1).padStart(11)} ${fmt((100 * consumeMsgsPerS) / core.readMsgsPerS).padStart(9)}%`);
    console.log(`  kafka Fetch loop     ${fmt(rawFetchMsgsPerS).padStart(11)} ${fmt(mb(rawFetchMsgsPerS), 1).padStart(11)} ${fmt((100 * rawFetchMsgsPerS) / core.readMsgsPerS).padStart(9)}%`);
    console.log('');
    console.log(`  produce latency at ${fmt(l.rate)} msgs/s (${fmt(l.count)} acked): p50 ${fmt(l.p50, 2)} ms, p99 ${fmt(l.p99, 2)} ms, max ${fmt(l.max, 2)} ms`);
    console.log(`  core append latency, same rate and batching:  p50 ${fmt(coreLat.p50, 2)} ms, p99 ${fmt(coreLat.p99, 2)} ms, max ${fmt(coreLat.max, 2)} ms`);
    const fs = await import('node:fs/promises');
    for (const suffix of ['-before', '-after', '-latency']) await fs.rm(`${coreDir}${suffix}`, { recursive: true, force: true });
  } finally {
    await server.close();
  }
}

await main();

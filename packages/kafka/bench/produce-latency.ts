/**
 * Produce latency at 10,000 msgs/s (issue 3: p99 <= 10 ms) and where its milliseconds go. One
 * measurement runs librdkafka (python3-confluent-kafka, acks=all, linger.ms=5,
 * socket.nagle.disable=true: with Nagle on, its partial segments wait for our delayed ACKs) against
 * the bench's server and records, in the server process at the same time:
 *   - core.append as the Produce handler calls it (call -> promise resolved): group commit queueing,
 *     the journal write and its fdatasync;
 *   - the server's event-loop delay (perf_hooks.monitorEventLoopDelay): time a ready socket or
 *     timer waits for the loop;
 * beside, run separately on the same disk: the core's own append at the same rate and batching (no
 * Kafka), and a bare write of one batch's bytes + fdatasync every 5 ms (the disk's floor).
 * client p50 - core p50 ~ linger (5 ms) + the Kafka path; a p99 that follows the core's and the
 * bare fdatasync's p99 is the disk's, not the handler's.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { encodeRecordBatch, openCore, type Core } from '@strata/core';
import type { JournalIo } from '@strata/core';
import { JOURNAL_IO } from './journal-io.js';
import { run } from './child.js';

export const LATENCY_RATE_PER_S = 10_000;
/**
 * Seconds of each latency measurement: STRATA_BENCH_LATENCY_SECONDS (default 3, at most 60). At
 * 10,000 msgs/s a 3-second p99 is the worst ~6 client batches, so one checkpoint (every few seconds
 * at this rate) lands in some runs and not in others; 10-20 s runs include a few each.
 */
const LATENCY_SECONDS = Math.min(60, Math.max(1, Number(process.env['STRATA_BENCH_LATENCY_SECONDS'] ?? 3)));
const MESSAGE_BYTES = 1024;
/**
 * librdkafka's linger.ms: STRATA_BENCH_LINGER_MS (default 5, librdkafka 2.0's own default and the
 * throughput phase's setting; 0 sends each poll's records at once, as latency-minded producers do).
 */
export const LINGER_MS = Math.min(100, Math.max(0, Number(process.env['STRATA_BENCH_LINGER_MS'] ?? 5)));
/** How often the client sends a batch: every linger, or every 1 ms poll tick of the script at linger 0. */
const BATCH_INTERVAL_MS = Math.max(1, LINGER_MS);
/** Quiet time after creating the topic, before the measured run. */
const SETTLE_MS = 500;

export interface Quantiles {
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
}

export interface ProduceLatency {
  readonly rate: number;
  readonly count: number;
  /** produce() call -> Python delivery callback (includes when the Python loop gets to poll()). */
  readonly client: Quantiles;
  /** librdkafka's own Message.latency(): produce() -> delivery report, measured in its broker thread. */
  readonly clientLibrary: Quantiles;
  readonly coreAppendInHandler: Quantiles;
  readonly eventLoopDelay: Quantiles;
}

export function quantiles(values: number[]): Quantiles {
  if (values.length === 0) return { p50: NaN, p99: NaN, max: NaN };
  values.sort((a, b) => a - b);
  const q = (f: number) => values[Math.min(values.length - 1, Math.floor(f * values.length))]!;
  return { p50: q(0.5), p99: q(0.99), max: values[values.length - 1]! };
}

const LATENCY_PY = String.raw`
import sys, time, json
from confluent_kafka import Producer
bootstrap, topic, rate, seconds, linger = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5])
p = Producer({'bootstrap.servers': bootstrap, 'acks': 'all', 'linger.ms': linger, 'socket.nagle.disable': True})
value = b'a' * 1024
lat = []
lib = []
def cb(sent):
    def done(err, msg):
        if err is None:
            lat.append(time.perf_counter() - sent)
            lib.append(msg.latency())
    return done
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
        # At least 1 ms: librdkafka's poll() takes whole milliseconds, so a shorter timeout is 0 and
        # the loop would spin, burning a whole CPU that the server it measures needs (2 vCPUs here).
        p.poll(max(tick, target - now))
        continue
    for _ in range(per_tick):
        p.produce(topic, value, partition=0, on_delivery=cb(time.perf_counter()))
        sent += 1
    p.poll(0)
p.flush(30)
lat.sort()
lib.sort()
q = lambda xs, f: xs[min(len(xs) - 1, int(f * len(xs)))] * 1000
print(json.dumps({'count': len(lat), 'p50': q(lat, 0.5), 'p99': q(lat, 0.99), 'max': lat[-1] * 1000,
  'lib': {'p50': q(lib, 0.5), 'p99': q(lib, 0.99), 'max': lib[-1] * 1000}, 'rate': total / (time.perf_counter() - start)}))
`;

/** librdkafka at LATENCY_RATE_PER_S against `core`'s server, with the server-side timings. */
export async function kafkaProduceLatency(core: Core, python: string, bootstrap: string, topic: string): Promise<ProduceLatency> {
  // The topic exists before the clock starts: librdkafka's warm-up message would otherwise create
  // it, and the creation's own fsyncs (metadata, directories, first segment) stall the first
  // measured groups by tens of ms, a one-off that is not what this phase measures.
  await core.topics.create(`persistent://public/default/${topic}`, { partitions: 1 });
  await sleep(SETTLE_MS);
  const appendMs: number[] = [];
  const original = core.append;
  // Bench-only instrumentation: the handler calls core.append on this same object.
  core.append = function (this: Core, ...args: Parameters<Core['append']>) {
    const at = performance.now();
    const result = original.apply(this, args);
    void result.then(() => appendMs.push(performance.now() - at), () => {});
    return result;
  } as Core['append'];
  const loop = monitorEventLoopDelay({ resolution: 1 });
  loop.enable();
  try {
    const latency = await run(python, ['-c', LATENCY_PY, bootstrap, topic, String(LATENCY_RATE_PER_S), String(LATENCY_SECONDS), String(LINGER_MS)]);
    if (latency.code !== 0) throw new Error(`latency producer failed: ${latency.stderr.slice(-2000)}`);
    const l = JSON.parse(latency.stdout.trim()) as { count: number; p50: number; p99: number; max: number; lib: Quantiles; rate: number };
    loop.disable();
    const ns = 1e6;
    return {
      rate: l.rate,
      count: l.count,
      client: { p50: l.p50, p99: l.p99, max: l.max },
      clientLibrary: l.lib,
      coreAppendInHandler: quantiles(appendMs),
      eventLoopDelay: { p50: loop.percentile(50) / ns, p99: loop.percentile(99) / ns, max: loop.max / ns },
    };
  } finally {
    loop.disable();
    core.append = original;
  }
}

/**
 * The core's own append latency at the same rate, batched as librdkafka batches (at linger 5 ms,
 * rate x 5 ms records per batch, one batch every 5 ms): the floor under the Kafka p99.
 */
export async function coreLatency(dataDir: string, journalIo: JournalIo = JOURNAL_IO): Promise<Quantiles> {
  const core: Core = await openCore({ dataDir, journalIo });
  try {
    const topic = 'persistent://public/default/core-latency';
    await core.topics.create(topic, { partitions: 1 });
    const lingerMs = BATCH_INTERVAL_MS;
    const perBatch = Math.max(1, Math.round((LATENCY_RATE_PER_S * lingerMs) / 1000));
    const value = Buffer.alloc(MESSAGE_BYTES, 0x61);
    const batch = encodeRecordBatch(Array.from({ length: perBatch }, () => ({ key: null, value, headers: [], timestamp: Date.now() })));
    const latencies: number[] = [];
    const pending: Promise<void>[] = [];
    const started = performance.now();
    for (let i = 0; performance.now() - started < LATENCY_SECONDS * 1000 && i < 1_000_000; i++) {
      const at = performance.now();
      pending.push(core.append(topic, 0, { kind: 'batches', data: batch }).then(() => void latencies.push(performance.now() - at)));
      const next = started + (i + 1) * lingerMs;
      await sleep(Math.max(0, next - performance.now()));
    }
    await Promise.all(pending);
    return quantiles(latencies);
  } finally {
    await core.close();
  }
}

/** One batch's bytes written and fdatasync'd every batch interval, as the journal does: the disk's floor. */
export async function fsyncLatency(dir: string): Promise<Quantiles> {
  await fs.mkdir(dir, { recursive: true });
  const file = await fs.open(path.join(dir, 'fsync-probe'), 'w');
  try {
    const bytes = Buffer.alloc(Math.round((LATENCY_RATE_PER_S * BATCH_INTERVAL_MS) / 1000) * (MESSAGE_BYTES + 70), 0x61);
    const latencies: number[] = [];
    const started = performance.now();
    let position = 0;
    for (let i = 0; performance.now() - started < LATENCY_SECONDS * 1000 && i < 1_000_000; i++) {
      const at = performance.now();
      await file.write(bytes, 0, bytes.length, position);
      await file.datasync();
      latencies.push(performance.now() - at);
      position += bytes.length;
      await sleep(Math.max(0, started + (i + 1) * BATCH_INTERVAL_MS - performance.now()));
    }
    return quantiles(latencies);
  } finally {
    await file.close();
  }
}

/**
 * Consume phases of the Kafka bench: the same N bytes read by the core itself and fetched by a bare
 * Kafka client, on each of the core's two read paths:
 *   - tail: the partition's entries are in the core's tail cache (what a consumer keeping up reads);
 *     core.read returns them by reference, so the core side costs no byte copies at all;
 *   - disk: the entries were evicted from the tail cache (another topic was written after them), so
 *     both read them from the segment file (page cache, 8 MiB positioned reads): a catch-up consumer.
 * Beside them, the loopback TCP ceiling: the same number of bytes written to a socket in 8 MiB
 * buffers and counted by the same worker (what any server could hope to send on this machine), and
 * the core's disk reads written to a socket with no protocol (coreToSocket).
 * The Kafka client runs in a worker thread (bench/fetch-client.ts) with 1 and with several fetches
 * in flight.
 */
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { Worker } from 'node:worker_threads';
import { encodeRecordBatch, type Core } from '@strata/core';
import type { FetchClientJob, FetchClientResult } from './fetch-client.js';
import { joinEntries } from '../src/apis/fetch.js';

export const FETCH_BYTES_MAX = 8 * 1024 * 1024;
const TOPIC_PREFIX = 'persistent://public/default/';

/** MB/s (MiB/s) of one phase over its rounds. */
export interface PhaseRate {
  readonly median: number;
  readonly best: number;
  /** Fetch phases: the server's main thread busy fraction (event-loop utilization), median. */
  readonly serverBusy?: number;
}

export interface ConsumeNumbers {
  readonly bytes: number;
  readonly records: number;
  readonly rounds: number;
  readonly coreTail: PhaseRate;
  readonly coreDisk: PhaseRate;
  readonly fetchTail1: PhaseRate;
  readonly fetchTailN: PhaseRate;
  readonly fetchDisk1: PhaseRate;
  readonly fetchDiskN: PhaseRate;
  readonly tcpCeiling: PhaseRate;
  /** core.read from disk written to a socket, no protocol (coreToSocket). */
  readonly coreDiskToSocket: PhaseRate;
  readonly depth: number;
}

function median(samples: readonly number[]): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.floor((sorted.length - 1) / 2)]!;
}

function rate(samples: number[], phase?: string): PhaseRate {
  const busy = phase === undefined ? undefined : serverBusy.get(phase);
  return { median: median(samples), best: Math.max(...samples), ...(busy ? { serverBusy: median(busy) } : {}) };
}

export function runWorker(job: FetchClientJob): Promise<FetchClientResult> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL('./fetch-client.js', import.meta.url), { workerData: { fetchClientJob: job } });
    const timer = setTimeout(() => void worker.terminate(), 120_000);
    worker.once('message', (result: FetchClientResult) => {
      clearTimeout(timer);
      void worker.terminate();
      if (result.error) reject(new Error(`fetch client: ${result.error}`));
      else resolve(result);
    });
    worker.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
}

/** Fills a topic with `batches` identical batches; returns the batch size on disk. */
async function fill(core: Core, topic: string, batches: number, recordsPerBatch: number, messageBytes: number): Promise<number> {
  await core.topics.create(TOPIC_PREFIX + topic, { partitions: 1 });
  const value = Buffer.alloc(messageBytes, 0x62);
  const batch = encodeRecordBatch(Array.from({ length: recordsPerBatch }, () => ({ key: null, value, headers: [], timestamp: Date.now() })));
  const inFlight = 8;
  let next = 0;
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (next < batches) {
        next++;
        await core.append(TOPIC_PREFIX + topic, 0, { kind: 'batches', data: batch });
      }
    }),
  );
  return batch.length;
}

/** core.read of the whole partition in FETCH_BYTES_MAX reads: MB/s. */
async function coreRead(core: Core, topic: string, records: number): Promise<number> {
  const started = performance.now();
  let offset = 0;
  let bytes = 0;
  for (let rounds = 0; offset < records && rounds < 1_000_000; rounds++) {
    const result = await core.read(TOPIC_PREFIX + topic, 0, { offset, maxBytes: FETCH_BYTES_MAX });
    if (result.entries.length === 0) break;
    for (const entry of result.entries) bytes += entry.bytes.length;
    offset = result.entries[result.entries.length - 1]!.lastOffset + 1;
  }
  if (offset < records) throw new Error(`core read stopped at ${offset} of ${records}`);
  return bytes / 1048576 / ((performance.now() - started) / 1000);
}

/**
 * MB/s of `bytes` sent by a plain TCP server with no protocol and counted by the worker in 'sink'
 * mode: `send` writes them to the socket once the worker's first bytes arrive.
 */
async function sinkRate(bytes: number, send: (socket: Socket) => void): Promise<number> {
  const server = createServer((socket) => {
    socket.once('data', () => send(socket));
    socket.on('error', () => {});
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const port = (server.address() as AddressInfo).port;
    const result = await runWorker({ mode: 'sink', port, topic: '', records: 0, recordsPerBatch: 1, batchBytes: 1, maxBytes: 0, depth: 1, bytes, messageBytes: 0 });
    return result.bytes / 1048576 / (result.ms / 1000);
  } finally {
    server.close();
  }
}

/** The same bytes through loopback TCP with no protocol: 8 MiB writes, the worker counts them. */
function tcpCeiling(bytes: number): Promise<number> {
  const block = Buffer.alloc(FETCH_BYTES_MAX, 0x63);
  return sinkRate(bytes, (socket) => {
    let left = bytes;
    const pump = (): void => {
      while (left > 0) {
        const n = Math.min(left, block.length);
        left -= n;
        if (!socket.write(n === block.length ? block : block.subarray(0, n))) return void socket.once('drain', pump);
      }
    };
    pump();
  });
}

/**
 * The storage-to-socket floor of a catch-up consumer, with no protocol: the same core.read calls
 * as `coreRead` (8 MiB, from disk), each result's bytes joined as the Fetch handler joins them
 * (`joinEntries`: one view per contiguous run) and written to the socket, released once written;
 * the worker counts the bytes. Node has no sendfile, so every server in it copies a disk read
 * twice (page cache -> buffer -> socket): this is what the Kafka handler is compared with to see
 * what the protocol adds over storage.
 */
function coreToSocket(core: Core, topic: string, records: number, bytes: number): Promise<number> {
  return sinkRate(bytes, (socket) => {
    void (async () => {
      let offset = 0;
      for (let rounds = 0; offset < records && rounds < 1_000_000 && !socket.destroyed; rounds++) {
        const result = await core.read(TOPIC_PREFIX + topic, 0, { offset, maxBytes: FETCH_BYTES_MAX });
        if (result.entries.length === 0) break;
        const joined = joinEntries(result.entries);
        const runs = Array.isArray(joined) ? joined : [joined];
        for (let i = 0; i < runs.length - 1; i++) socket.write(runs[i]!);
        const drained = socket.write(runs[runs.length - 1]!, () => result.release());
        offset = result.entries[result.entries.length - 1]!.lastOffset + 1;
        if (!drained) await new Promise((resolve) => socket.once('drain', resolve));
      }
    })().catch(() => socket.destroy());
  });
}

/** Main-thread (server) busy fraction per fetch phase, by phase name: is the server the bottleneck? */
const serverBusy = new Map<string, number[]>();

async function fetchLoop(port: number, topic: string, records: number, recordsPerBatch: number, batchBytes: number, depth: number, phase: string): Promise<number> {
  const before = performance.eventLoopUtilization();
  const result = await runWorker({ mode: 'fetch', port, topic, records, recordsPerBatch, batchBytes, maxBytes: FETCH_BYTES_MAX, depth, bytes: 0, messageBytes: 0 });
  const busy = performance.eventLoopUtilization(before).utilization;
  if (result.records !== records) throw new Error(`fetched ${result.records} of ${records} records`);
  serverBusy.set(phase, [...(serverBusy.get(phase) ?? []), busy]);
  return result.bytes / 1048576 / (result.ms / 1000);
}

/**
 * Writes `diskTopic` then `tailTopic` (each `bytes` long, together more than the tail cache, so the
 * first is evicted and read from disk) and measures every phase, alternating core and Kafka.
 */
export async function consumePhases(core: Core, port: number, options: { bytes: number; recordsPerBatch: number; messageBytes: number; depth: number; rounds: number }): Promise<ConsumeNumbers> {
  const { recordsPerBatch, messageBytes, depth } = options;
  const rounds = Math.min(20, Math.max(1, options.rounds));
  serverBusy.clear();
  const batches = Math.max(1, Math.round(options.bytes / (recordsPerBatch * messageBytes)));
  const records = batches * recordsPerBatch;
  const diskTopic = `consume-disk-${Date.now()}`;
  const tailTopic = `consume-tail-${Date.now()}`;
  const batchBytes = await fill(core, diskTopic, batches, recordsPerBatch, messageBytes);
  await fill(core, tailTopic, batches, recordsPerBatch, messageBytes);
  const bytes = batches * batchBytes;

  // Each phase moves only ~50 ms of bytes, so one pass is at the mercy of the shared machine's
  // scheduler: every phase runs `rounds` times, interleaved, and is reported as median and best.
  const samples: Record<'coreDisk' | 'coreDiskToSocket' | 'fetchDisk1' | 'fetchDiskN' | 'coreTail' | 'fetchTail1' | 'fetchTailN' | 'tcpCeiling', number[]> = {
    coreDisk: [], coreDiskToSocket: [], fetchDisk1: [], fetchDiskN: [], coreTail: [], fetchTail1: [], fetchTailN: [], tcpCeiling: [],
  };
  for (let round = 0; round < rounds; round++) {
    samples.coreDisk.push(await coreRead(core, diskTopic, records));
    samples.coreDiskToSocket.push(await coreToSocket(core, diskTopic, records, bytes));
    samples.fetchDisk1.push(await fetchLoop(port, diskTopic, records, recordsPerBatch, batchBytes, 1, 'fetchDisk1'));
    samples.fetchDiskN.push(await fetchLoop(port, diskTopic, records, recordsPerBatch, batchBytes, depth, 'fetchDiskN'));
    samples.coreTail.push(await coreRead(core, tailTopic, records));
    samples.fetchTail1.push(await fetchLoop(port, tailTopic, records, recordsPerBatch, batchBytes, 1, 'fetchTail1'));
    samples.fetchTailN.push(await fetchLoop(port, tailTopic, records, recordsPerBatch, batchBytes, depth, 'fetchTailN'));
    samples.tcpCeiling.push(await tcpCeiling(bytes));
  }
  const coreDisk = rate(samples.coreDisk);
  const fetchDisk1 = rate(samples.fetchDisk1, 'fetchDisk1');
  const fetchDiskN = rate(samples.fetchDiskN, 'fetchDiskN');
  const coreTail = rate(samples.coreTail);
  const fetchTail1 = rate(samples.fetchTail1, 'fetchTail1');
  const fetchTailN = rate(samples.fetchTailN, 'fetchTailN');
  const ceiling = rate(samples.tcpCeiling);
  return { bytes, records, rounds, coreTail, coreDisk, fetchTail1, fetchTailN, fetchDisk1, fetchDiskN, tcpCeiling: ceiling, coreDiskToSocket: rate(samples.coreDiskToSocket), depth };
}

/**
 * Consume phases of the Kafka bench: the same N bytes read by the core itself and fetched by a bare
 * Kafka client, on each of the core's two read paths:
 *   - tail: the partition's entries are in the core's tail cache (what a consumer keeping up reads);
 *     core.read returns them by reference, so the core side costs no byte copies at all;
 *   - disk: the entries were evicted from the tail cache (another topic was written after them), so
 *     both read them from the segment file (page cache, 8 MiB positioned reads): a catch-up consumer.
 * Beside them, the loopback TCP ceiling: the same number of bytes written to a socket in 8 MiB
 * buffers and counted by the same worker (what any server could hope to send on this machine).
 * The Kafka client runs in a worker thread (bench/fetch-client.ts) with 1 and with several fetches
 * in flight.
 */
import { createServer, type AddressInfo } from 'node:net';
import { Worker } from 'node:worker_threads';
import { encodeRecordBatch, type Core } from '@strata/core';
import type { FetchClientJob, FetchClientResult } from './fetch-client.js';

export const FETCH_BYTES_MAX = 8 * 1024 * 1024;
const TOPIC_PREFIX = 'persistent://public/default/';

export interface ConsumeNumbers {
  readonly bytes: number;
  readonly records: number;
  /** MB/s (MiB/s) per phase. */
  readonly coreTail: number;
  readonly coreDisk: number;
  readonly fetchTail1: number;
  readonly fetchTailN: number;
  readonly fetchDisk1: number;
  readonly fetchDiskN: number;
  readonly tcpCeiling: number;
  readonly depth: number;
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

/** The same bytes through loopback TCP with no protocol: 8 MiB writes, the worker counts them. */
async function tcpCeiling(bytes: number): Promise<number> {
  const block = Buffer.alloc(FETCH_BYTES_MAX, 0x63);
  const server = createServer((socket) => {
    socket.once('data', () => {
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

async function fetchLoop(port: number, topic: string, records: number, recordsPerBatch: number, batchBytes: number, depth: number): Promise<number> {
  const result = await runWorker({ mode: 'fetch', port, topic, records, recordsPerBatch, batchBytes, maxBytes: FETCH_BYTES_MAX, depth, bytes: 0, messageBytes: 0 });
  if (result.records !== records) throw new Error(`fetched ${result.records} of ${records} records`);
  return result.bytes / 1048576 / (result.ms / 1000);
}

/**
 * Writes `diskTopic` then `tailTopic` (each `bytes` long, together more than the tail cache, so the
 * first is evicted and read from disk) and measures every phase, alternating core and Kafka.
 */
export async function consumePhases(core: Core, port: number, options: { bytes: number; recordsPerBatch: number; messageBytes: number; depth: number }): Promise<ConsumeNumbers> {
  const { recordsPerBatch, messageBytes, depth } = options;
  const batches = Math.max(1, Math.round(options.bytes / (recordsPerBatch * messageBytes)));
  const records = batches * recordsPerBatch;
  const diskTopic = `consume-disk-${Date.now()}`;
  const tailTopic = `consume-tail-${Date.now()}`;
  const batchBytes = await fill(core, diskTopic, batches, recordsPerBatch, messageBytes);
  await fill(core, tailTopic, batches, recordsPerBatch, messageBytes);
  const bytes = batches * batchBytes;

  const coreDisk = await coreRead(core, diskTopic, records);
  const fetchDisk1 = await fetchLoop(port, diskTopic, records, recordsPerBatch, batchBytes, 1);
  const fetchDiskN = await fetchLoop(port, diskTopic, records, recordsPerBatch, batchBytes, depth);
  const coreTail = await coreRead(core, tailTopic, records);
  const fetchTail1 = await fetchLoop(port, tailTopic, records, recordsPerBatch, batchBytes, 1);
  const fetchTailN = await fetchLoop(port, tailTopic, records, recordsPerBatch, batchBytes, depth);
  const ceiling = await tcpCeiling(bytes);
  return { bytes, records, coreTail, coreDisk, fetchTail1, fetchTailN, fetchDisk1, fetchDiskN, tcpCeiling: ceiling, depth };
}

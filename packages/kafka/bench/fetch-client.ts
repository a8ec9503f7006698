/**
 * The bench's bare Fetch client, run in a worker thread so that its socket reads and parsing do not
 * share the server's event loop (the server and the client in one thread would each count the
 * other's work as their own). It keeps `depth` Fetch v11 requests in flight on one connection and
 * does not copy the records: the socket reads into one reused 1 MiB buffer (net `onread`), the
 * first bytes of each response frame (its fixed fields) are copied aside and parsed, the record
 * bytes are only counted. (With Node's default 64 KiB reads into fresh buffers the client alone
 * tops out near 300 MB/s on this machine; with `onread` loopback moves 1 GB/s.)
 *
 * Pipelining several fetches needs their offsets before the answers arrive: the bench topics hold
 * uniform batches (`recordsPerBatch` records of `batchBytes` each), so a fetch of `maxBytes`
 * returns floor(maxBytes / batchBytes) whole batches (KIP-74: at least one), and fetch i starts at
 * i x that many records. Every response is checked against that prediction (first base offset
 * and byte count), so a wrong answer fails the bench instead of inflating it.
 *
 * Mode 'produce' keeps `depth` Produce v7 requests (acks=-1) of one `recordsPerBatch` batch in
 * flight, the request encoded once (only its header is written anew per request), checking every
 * response's error code: the handler's produce cost without a client library or its copies.
 * Mode 'sink' reads raw bytes with no protocol: the loopback TCP ceiling for the same bytes.
 */
import { connect, type Socket } from 'node:net';
import { parentPort, workerData } from 'node:worker_threads';
import { encodeRecordBatch } from '@strata/core';
import { API_KEY } from '../src/protocol/messages/index.js';
import { RawClient } from '../test/helpers/raw-client.js';

export interface FetchClientJob {
  readonly mode: 'fetch' | 'produce' | 'sink';
  readonly port: number;
  readonly topic: string;
  readonly records: number;
  readonly recordsPerBatch: number;
  readonly batchBytes: number;
  readonly maxBytes: number;
  readonly depth: number;
  /** produce mode: bytes per record value. */
  readonly messageBytes: number;
  /** sink mode: bytes to expect. */
  readonly bytes: number;
}

export interface FetchClientResult {
  readonly bytes: number;
  readonly records: number;
  readonly fetches: number;
  readonly ms: number;
  readonly error?: string;
}

/** Fixed part of a Fetch v11 response up to the records length, for one topic and one partition. */
function parseFetchV11(header: Buffer, topicLength: number): { errorCode: number; partitionError: number; recordsBytes: number; firstBaseOffset: number; headerBytes: number } {
  let at = 4 + 4 + 2 + 4; // correlationId, throttleTimeMs, errorCode, sessionId
  const errorCode = header.readInt16BE(8);
  at += 4 + 2 + topicLength + 4; // responses count, topic name, partitions count
  at += 4; // partitionIndex
  const partitionError = header.readInt16BE(at);
  at += 2 + 8 + 8 + 8; // errorCode, highWatermark, lastStableOffset, logStartOffset
  const aborted = header.readInt32BE(at);
  at += 4 + Math.max(0, aborted) * 16 + 4; // abortedTransactions, preferredReadReplica
  const recordsBytes = header.readInt32BE(at);
  at += 4;
  const firstBaseOffset = recordsBytes >= 8 && header.length >= at + 8 ? Number(header.readBigInt64BE(at)) : -1;
  return { errorCode, partitionError, recordsBytes, firstBaseOffset, headerBytes: at };
}

function fetchRequest(job: FetchClientJob, correlationId: number, fetchOffset: number): Buffer {
  return RawClient.encode(API_KEY.Fetch, 11, correlationId, {
    replicaId: -1, maxWaitMs: 0, minBytes: 1, maxBytes: job.maxBytes, isolationLevel: 0, sessionId: 0, sessionEpoch: -1,
    topics: [{ topic: job.topic, partitions: [{ partition: 0, currentLeaderEpoch: -1, fetchOffset, lastFetchedEpoch: -1, logStartOffset: -1, partitionMaxBytes: job.maxBytes }] }],
    forgottenTopicsData: [], rackId: '',
  });
}

/** Size of the socket's read buffer (net onread): large reads, no allocation per chunk. */
const READ_BUFFER_BYTES = 1024 * 1024;
/** Bytes of a response frame kept for parsing: the fixed fields before the records and their first base offset. */
const HEADER_KEPT_BYTES = 256;

/** A Produce v7 request of one batch, split at the correlation id: [size, apiKey, apiVersion] and the rest after it. */
function produceRequestParts(job: FetchClientJob): { head: Buffer; tail: Buffer } {
  const value = Buffer.alloc(job.messageBytes, 0x61);
  const batch = encodeRecordBatch(Array.from({ length: job.recordsPerBatch }, () => ({ key: null, value, headers: [], timestamp: Date.now() })));
  const frame = RawClient.encode(API_KEY.Produce, 7, 0, {
    transactionalId: null, acks: -1, timeoutMs: 30_000,
    topicData: [{ name: job.topic, partitionData: [{ index: 0, records: batch }] }],
  });
  return { head: frame.subarray(0, 8), tail: frame.subarray(12) };
}

/** Error code of a Produce v7 response for one topic and one partition. */
function produceErrorCode(header: Buffer, topicLength: number): number {
  return header.readInt16BE(4 + 4 + 2 + topicLength + 4 + 4); // correlationId, count, name, count, index
}

export function runFetchClient(job: FetchClientJob): Promise<FetchClientResult> {
  return new Promise((resolve) => {
    const batchesPerFetch = Math.max(1, Math.floor(job.maxBytes / job.batchBytes));
    const recordsPerFetch = batchesPerFetch * job.recordsPerBatch;
    const fetchesTotal = job.mode === 'sink' ? 1 : job.mode === 'produce' ? Math.ceil(job.records / job.recordsPerBatch) : Math.ceil(job.records / recordsPerFetch);
    const produce = job.mode === 'produce' ? produceRequestParts(job) : null;
    const topicLength = Buffer.byteLength(job.topic);
    let sent = 0;
    let answered = 0;
    let bytes = 0;
    let records = 0;
    let started = 0;
    let finished = false;
    // Streaming frame parser over the reused read buffer: the first bytes of each frame are
    // copied into `header`, the rest (the records) is only counted.
    const header = Buffer.allocUnsafe(4 + HEADER_KEPT_BYTES);
    let headerFilled = 0;
    let headerWanted = 4;
    let frameLeft = -1; // bytes of the current frame still to come (prefix included), -1 before its size is known

    const finish = (error?: string): void => {
      if (finished) return;
      finished = true;
      socket.destroy();
      resolve({ bytes, records, fetches: answered, ms: performance.now() - started, ...(error ? { error } : {}) });
    };
    const sendMore = (): void => {
      while (sent < fetchesTotal && sent - answered < job.depth) {
        if (produce) {
          const correlationId = Buffer.allocUnsafe(4);
          correlationId.writeInt32BE(sent, 0);
          socket.cork();
          socket.write(produce.head);
          socket.write(correlationId);
          socket.write(produce.tail);
          socket.uncork();
        } else {
          socket.write(fetchRequest(job, sent, sent * recordsPerFetch));
        }
        sent++;
      }
    };
    /** A whole response frame went by: check it against the prediction. */
    const onFrame = (): string | null => {
      if (produce) {
        const errorCode = produceErrorCode(header.subarray(4, headerFilled), topicLength);
        if (errorCode !== 0) return `produce ${answered}: error ${errorCode}`;
        records += Math.min(job.recordsPerBatch, job.records - answered * job.recordsPerBatch);
        bytes += produce.tail.length;
        answered++;
        return null;
      }
      const parsed = parseFetchV11(header.subarray(4, headerFilled), topicLength);
      const expectedBase = answered * recordsPerFetch;
      const expectedBatches = Math.min(batchesPerFetch, Math.ceil((job.records - expectedBase) / job.recordsPerBatch));
      if (parsed.errorCode !== 0 || parsed.partitionError !== 0) return `fetch ${answered}: error ${parsed.errorCode}/${parsed.partitionError}`;
      if (parsed.firstBaseOffset !== expectedBase || parsed.recordsBytes !== expectedBatches * job.batchBytes) {
        return `fetch ${answered}: got base ${parsed.firstBaseOffset}, ${parsed.recordsBytes} bytes; expected ${expectedBase}, ${expectedBatches * job.batchBytes}`;
      }
      bytes += parsed.recordsBytes;
      records += Math.min(recordsPerFetch, job.records - expectedBase);
      answered++;
      return null;
    };
    const onRead = (n: number, buf: Buffer): boolean => {
      if (finished) return false;
      if (job.mode === 'sink') {
        bytes += n;
        if (bytes >= job.bytes) finish();
        return true;
      }
      let at = 0;
      while (at < n) {
        if (headerFilled < headerWanted) {
          const take = Math.min(headerWanted - headerFilled, n - at);
          buf.copy(header, headerFilled, at, at + take);
          headerFilled += take;
          if (frameLeft >= 0) frameLeft -= take;
          at += take;
          if (frameLeft < 0 && headerFilled === 4) {
            const size = header.readInt32BE(0);
            frameLeft = size; // the prefix is already consumed
            headerWanted = 4 + Math.min(size, HEADER_KEPT_BYTES);
          }
        } else {
          const take = Math.min(frameLeft, n - at);
          frameLeft -= take;
          at += take;
        }
        if (frameLeft === 0) {
          const error = onFrame();
          if (error) { finish(error); return false; }
          headerFilled = 0;
          headerWanted = 4;
          frameLeft = -1;
          if (answered === fetchesTotal) { finish(); return false; }
        }
      }
      sendMore();
      return true;
    };
    const socket: Socket = connect({ port: job.port, host: '127.0.0.1', onread: { buffer: Buffer.allocUnsafe(READ_BUFFER_BYTES), callback: onRead } });
    socket.setNoDelay(true);
    socket.on('error', (error) => finish(error.message));
    socket.on('close', () => finish(answered < fetchesTotal && job.mode !== 'sink' ? 'connection closed early' : undefined));
    socket.on('connect', () => {
      started = performance.now();
      if (job.mode === 'sink') socket.write('go');
      else sendMore();
    });
  });
}

if (parentPort && workerData?.fetchClientJob) {
  const port = parentPort;
  void runFetchClient(workerData.fetchClientJob as FetchClientJob).then((result) => port.postMessage(result));
}

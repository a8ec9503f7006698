/**
 * Fetch hands its core reads back (ReadResult.release) once the response is written to the socket,
 * so catch-up reads reuse the core's read-ahead buffers. That is only safe if nothing is released
 * before its write completed: this test fetches a partition larger than several read-ahead chunks
 * many times over, with pipelined fetches and a connection cut mid-stream, and checks every record
 * batch received byte for byte against copies taken from reads that are never released.
 */
import assert from 'node:assert/strict';
import { Duplex } from 'node:stream';
import { after, before, test } from 'node:test';
import { FrameDecoder } from '../src/protocol/frame.js';
import { API_KEY, messageCodecs } from '../src/protocol/messages/index.js';
import { Reader } from '../src/protocol/reader.js';
import { decodeResponseHeader, responseHeaderVersion } from '../src/protocol/request-header.js';
import { startKafkaServer, type KafkaTestServer } from './helpers/kafka-server.js';
import { RawClient } from './helpers/raw-client.js';

const TOPIC = 'fetch-release';
const FULL = `persistent://public/default/${TOPIC}`;
const BATCHES = 240;
const VALUE_BYTES = 12_000;
const FETCH_VERSION = 11;

/** The engine behind openCore (tests reach it by shape; it is not part of the Core contract). */
interface CoreEngine {
  readonly log: {
    flushSegments(): Promise<boolean>;
    getLog(topic: string, partition: number): { tail: unknown };
    readonly tailCache: { drop(tail: unknown): void };
    readAheadStats(): { pooledReuses: number };
  };
}

let server: KafkaTestServer;
/** Copy of every stored batch by base offset. */
const reference = new Map<bigint, Buffer>();
let highWatermark = 0;

before(async () => {
  server = await startKafkaServer();
  await server.core.topics.create(FULL, { partitions: 1 });
  for (let i = 0; i < BATCHES; i++) {
    const messages = Array.from({ length: 3 }, (_, m) => ({ key: null, value: Buffer.alloc(VALUE_BYTES, (i * 3 + m) & 0xff), headers: [], timestamp: 1_000 + i }));
    await server.core.append(FULL, 0, { kind: 'messages', messages });
  }
  const engine = (server.core as unknown as CoreEngine).log;
  await engine.flushSegments();
  engine.tailCache.drop(engine.getLog(FULL, 0).tail); // fetches below are catch-up reads from segment files
  highWatermark = server.core.offsets(FULL, 0).highWatermark;
  for (let offset = 0; offset < highWatermark; ) {
    const result = await server.core.read(FULL, 0, { offset, maxBytes: 1 << 20 });
    for (const entry of result.entries) reference.set(BigInt(entry.baseOffset), Buffer.from(entry.bytes));
    offset = result.entries[result.entries.length - 1]!.lastOffset + 1; // never released: never reused
  }
});

after(async () => {
  await server?.close();
});

function fetchBody(fetchOffset: number, partitionMaxBytes: number) {
  return {
    replicaId: -1,
    maxWaitMs: 0,
    minBytes: 1,
    maxBytes: 1 << 20,
    isolationLevel: 0,
    sessionId: 0,
    sessionEpoch: -1,
    topics: [{ topic: TOPIC, partitions: [{ partition: 0, currentLeaderEpoch: -1, fetchOffset, lastFetchedEpoch: -1, logStartOffset: -1, partitionMaxBytes }] }],
    forgottenTopicsData: [],
    rackId: '',
  };
}

/**
 * Checks a records field fetched from `fetchOffset`: the batches follow each other from the one
 * holding `fetchOffset` (a batch overwritten by other stored bytes would still be a valid batch,
 * just the wrong one), each byte for byte as stored. Returns the next offset to fetch.
 */
function checkRecords(records: Buffer, fetchOffset: number, label: string): number {
  assert.ok(records.length > 0, `${label}: records`);
  let next = -1;
  for (let at = 0; at < records.length; ) {
    const length = 12 + records.readInt32BE(at + 8);
    const batch = records.subarray(at, at + length);
    const base = Number(batch.readBigInt64BE(0));
    const last = base + batch.readInt32BE(23); // lastOffsetDelta (KIP-98 layout)
    if (next < 0) assert.ok(base <= fetchOffset && fetchOffset <= last, `${label}: the first batch [${base}, ${last}] holds ${fetchOffset}`);
    else assert.equal(base, next, `${label}: batches in order`);
    const expected = reference.get(BigInt(base));
    assert.ok(expected && batch.equals(expected), `${label}: batch at ${base} byte for byte`);
    next = last + 1;
    at += length;
  }
  return next;
}

async function fetchThrough(client: RawClient, partitionMaxBytes: number, pipelined: number, label: string): Promise<void> {
  let correlationId = 0;
  for (let offset = 0; offset < highWatermark; ) {
    // Several fetches in flight: the first from `offset`, the others re-reading the same range,
    // so responses queue on the socket while later reads run.
    for (let i = 0; i < pipelined; i++) client.request(API_KEY.Fetch, FETCH_VERSION, correlationId++, fetchBody(offset, partitionMaxBytes));
    let next = offset;
    for (let i = 0; i < pipelined; i++) {
      const response = await client.response(API_KEY.Fetch, FETCH_VERSION, 10_000);
      assert.ok(response, `${label}: response`);
      const partition = response.body.responses[0].partitions[0];
      assert.equal(partition.errorCode, 0);
      next = checkRecords(partition.records, offset, `${label} offset ${offset}`);
    }
    offset = next;
  }
}

test('catch-up fetches reuse released read buffers and every batch arrives intact', async () => {
  const engine = (server.core as unknown as CoreEngine).log;
  const reusesBefore = engine.readAheadStats().pooledReuses;
  const client = await RawClient.connect(server.port);
  try {
    await fetchThrough(client, 300_000, 1, 'sequential');
    await fetchThrough(client, 700_000, 4, 'pipelined');
    await fetchThrough(client, 90_000, 2, 'small');
  } finally {
    client.close();
  }
  assert.ok(engine.readAheadStats().pooledReuses > reusesBefore, 'the released buffers were reused');
});

test('a connection cut with fetches in flight: later fetches on another connection still read intact bytes', async () => {
  for (let round = 0; round < 3; round++) {
    const doomed = await RawClient.connect(server.port);
    for (let i = 0; i < 6; i++) doomed.request(API_KEY.Fetch, FETCH_VERSION, i, fetchBody(Math.floor((highWatermark * i) / 6), 1 << 20));
    await new Promise((resolve) => setTimeout(resolve, round)); // cut at varying points
    doomed.close();
  }
  const client = await RawClient.connect(server.port);
  try {
    await fetchThrough(client, 500_000, 3, 'after the cut');
  } finally {
    client.close();
  }
});

/**
 * A connection whose writes complete only when the test says so: a client that does not read,
 * without depending on how much the kernel's socket buffers absorb.
 */
class StalledSocket extends Duplex {
  private readonly pending: { chunk: Buffer; callback: () => void }[] = [];
  private readonly frames = new FrameDecoder(256 * 1024 * 1024);
  readonly responses: Buffer[] = [];

  override _read(): void {}

  override _write(chunk: Buffer, _encoding: string, callback: () => void): void {
    this.pending.push({ chunk, callback });
  }

  /** Completes every write so far and those they let through, decoding the frames written. */
  async flush(): Promise<void> {
    for (let idle = 0; idle < 3; ) {
      const next = this.pending.shift();
      if (!next) {
        idle++;
        await new Promise((resolve) => setImmediate(resolve));
        continue;
      }
      idle = 0;
      this.responses.push(...this.frames.push(Buffer.from(next.chunk))); // read the bytes only now
      next.callback();
    }
  }
}

function decodeFetchResponse(frame: Buffer): { correlationId: number; body: any } {
  const reader = new Reader(frame);
  const { correlationId } = decodeResponseHeader(reader, responseHeaderVersion(API_KEY.Fetch, FETCH_VERSION));
  return { correlationId, body: messageCodecs.get(API_KEY.Fetch)!.versions.get(FETCH_VERSION)!.decodeResponse(reader) };
}

test('responses whose socket writes have not completed keep their bytes while other reads reuse buffers', async () => {
  // The stalled connection's responses wait in its write queue, referencing read-ahead chunks.
  // Releasing those before the write completes would let the fast client's reads overwrite them.
  // The pool is emptied first (reads held here): a chunk released early would then go back to it.
  const held = [];
  // Descending offsets: each misses the chunk cached by the previous read and takes a buffer.
  for (let i = 11; i >= 0; i--) held.push(await server.core.read(FULL, 0, { offset: Math.floor((highWatermark * i) / 12), maxBytes: 1 }));
  const stalled = new StalledSocket();
  server.handler.handleConnection(stalled, { listenerId: 'kafka', remoteAddress: '127.0.0.1', remotePort: 1, localAddress: '127.0.0.1', localPort: server.port, tls: false });
  const fast = await RawClient.connect(server.port);
  try {
    // One batch (3 records) past the fast reader's chunk starts: a buffer read again by the fast
    // reader then gets different bytes at each place, so an early release cannot go unseen.
    const offsets = Array.from({ length: 8 }, (_, i) => Math.floor((highWatermark * i) / 8) + 3);
    offsets.forEach((offset, i) => stalled.push(RawClient.encode(API_KEY.Fetch, FETCH_VERSION, i, fetchBody(offset, 1 << 20))));
    await new Promise((resolve) => setTimeout(resolve, 100)); // let the server read and answer them
    for (let pass = 0; pass < 2; pass++) await fetchThrough(fast, 400_000, 1, `fast pass ${pass}`);
    await stalled.flush();
    assert.equal(stalled.responses.length, offsets.length);
    stalled.responses.forEach((frame, i) => {
      const response = decodeFetchResponse(frame);
      assert.equal(response.correlationId, i);
      const partition = response.body.responses[0].partitions[0];
      assert.equal(partition.errorCode, 0);
      checkRecords(partition.records, offsets[i]!, `stalled response ${i}`);
    });
  } finally {
    stalled.destroy();
    fast.close();
    for (const result of held) result.release();
  }
});

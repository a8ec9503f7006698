/**
 * src/socket-read-into.ts on this Node: an accepted plain TCP socket switches to reading into our
 * buffers, and everything around it still behaves: bytes arrive whole and in order (including
 * what the socket buffered before the switch), pause() stops reads (backpressure) and resume()
 * restarts them, the peer's end and reset close the socket the usual way. Anything else (not a
 * socket, TLS, a socket someone already reads) is refused, so the caller uses 'data' events.
 * Then through the Kafka handler: a TCP connection reads into frames, an in-memory stream does not.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { PassThrough } from 'node:stream';
import { test } from 'node:test';
import { TLSSocket } from 'node:tls';
import { setTimeout as sleep } from 'node:timers/promises';
import { seededRandom } from '@strata/core';
import { readSocketInto, type ReadIntoSink } from '../src/socket-read-into.js';
import type { KafkaConnection } from '../src/connection.js';
import { API_KEY } from '../src/protocol/messages/index.js';
import { startKafkaServer } from './helpers/kafka-server.js';
import { RawClient } from './helpers/raw-client.js';

/** A sink that collects what it receives, reading into targets of `targetBytes` (cycled). */
class CollectingSink implements ReadIntoSink {
  readonly received_: Buffer[] = [];
  bytes = 0;
  reads = 0;
  private next = 0;
  private current: Buffer | null = null;
  constructor(private readonly targetSizes: readonly number[]) {}
  target(): Buffer {
    this.current = Buffer.alloc(this.targetSizes[this.next++ % this.targetSizes.length]!);
    return this.current;
  }
  received(target: Buffer, bytes: number): void {
    assert.equal(target, this.current, 'the read landed in the buffer target() gave last');
    this.received_.push(Buffer.from(target.subarray(0, bytes)));
    this.bytes += bytes;
    this.reads++;
  }
  all(): Buffer {
    return Buffer.concat(this.received_);
  }
}

async function serverAndClient(): Promise<{ server: Server; serverSocket: Socket; client: Socket }> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as { port: number }).port;
  const accepted = once(server, 'connection') as Promise<[Socket]>;
  const client = connect(port, '127.0.0.1');
  await once(client, 'connect');
  const [serverSocket] = await accepted;
  return { server, serverSocket, client };
}

async function waitUntil(condition: () => boolean, what: string, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

function randomBytes(bytes: number, seed: number): Buffer {
  const random = seededRandom(seed);
  const out = Buffer.allocUnsafe(bytes);
  for (let i = 0; i < bytes; i++) out[i] = Math.floor(random() * 256);
  return out;
}

test('an accepted TCP socket reads into the sink: every byte, in order, then end and close as usual', async () => {
  const { server, serverSocket, client } = await serverAndClient();
  try {
    const sink = new CollectingSink([100, 70_000, 1, 4096, 300_000]);
    const buffered = readSocketInto(serverSocket, sink);
    assert.deepEqual(buffered, []);
    const ended = once(serverSocket, 'end');
    const closed = once(serverSocket, 'close');
    serverSocket.resume();
    const data = randomBytes(3 * 1024 * 1024 + 17, 1);
    const random = seededRandom(2);
    for (let offset = 0; offset < data.length; ) {
      const bytes = 1 + Math.floor(random() * 200_000);
      client.write(data.subarray(offset, offset + bytes));
      offset += bytes;
    }
    client.end();
    await ended;
    await closed;
    assert.ok(sink.all().equals(data), 'the bytes arrived whole and in order');
    assert.ok(sink.reads > 1);
    assert.equal(serverSocket.bytesRead, data.length);
  } finally {
    client.destroy();
    server.close();
  }
});

test('bytes the socket buffered before the switch are handed back first', async () => {
  const { server, serverSocket, client } = await serverAndClient();
  try {
    const before = randomBytes(5000, 3);
    client.write(before);
    await waitUntil(() => serverSocket.readableLength >= before.length, 'the socket to buffer the first bytes');
    const sink = new CollectingSink([64 * 1024]);
    const buffered = readSocketInto(serverSocket, sink);
    assert.ok(buffered);
    assert.ok(Buffer.concat(buffered).equals(before));
    serverSocket.resume();
    const after = randomBytes(200_000, 4);
    client.end(after);
    await once(serverSocket, 'end');
    assert.ok(sink.all().equals(after));
  } finally {
    client.destroy();
    server.close();
  }
});

test('pause() stops reads into the sink and resume() restarts them (backpressure)', async () => {
  const { server, serverSocket, client } = await serverAndClient();
  try {
    const sink = new CollectingSink([16 * 1024]);
    assert.ok(readSocketInto(serverSocket, sink));
    serverSocket.resume();
    const data = randomBytes(8 * 1024 * 1024, 5);
    client.write(data.subarray(0, 1000));
    await waitUntil(() => sink.bytes === 1000, 'the first bytes');
    serverSocket.pause();
    client.write(data.subarray(1000));
    await sleep(150);
    const whilePaused = sink.bytes;
    assert.equal(whilePaused, 1000, 'no read while paused');
    assert.ok(client.writableLength > 0, 'the client backs up: the kernel buffers filled and stayed full');
    serverSocket.resume();
    await waitUntil(() => sink.bytes === data.length, 'the rest after resume()');
    assert.ok(sink.all().equals(data));
  } finally {
    client.destroy();
    server.close();
  }
});

test('a reset by the peer closes the socket with an error or an end, never an exception', async () => {
  const { server, serverSocket, client } = await serverAndClient();
  try {
    const sink = new CollectingSink([1024]);
    assert.ok(readSocketInto(serverSocket, sink));
    const errors: Error[] = [];
    serverSocket.on('error', (error) => errors.push(error));
    const closed = new Promise<void>((resolve) => serverSocket.once('close', () => resolve()));
    serverSocket.resume();
    client.write(randomBytes(10_000, 6));
    await waitUntil(() => sink.bytes > 0, 'some bytes');
    client.resetAndDestroy();
    await closed;
    for (const error of errors) assert.equal((error as NodeJS.ErrnoException).code, 'ECONNRESET');
  } finally {
    server.close();
  }
});

test('refused: not a socket, TLS, a socket already read by someone, or a socket switched before', async () => {
  const sink = new CollectingSink([1024]);
  assert.equal(readSocketInto(new PassThrough(), sink), null);
  const { server, serverSocket, client } = await serverAndClient();
  try {
    const tls = new TLSSocket(serverSocket, { isServer: false });
    tls.on('error', () => {});
    assert.equal(readSocketInto(tls, sink), null, 'TLS');
    tls.destroy();
  } finally {
    client.destroy();
    server.close();
  }
  const second = await serverAndClient();
  try {
    const onData = (): void => {};
    second.serverSocket.on('data', onData);
    assert.equal(readSocketInto(second.serverSocket, sink), null, "someone listens to 'data'");
    second.serverSocket.off('data', onData);
    second.serverSocket.pause();
    assert.ok(readSocketInto(second.serverSocket, sink), 'once nobody reads it, it switches');
    assert.equal(readSocketInto(second.serverSocket, sink), null, 'and not twice');
  } finally {
    second.client.destroy();
    second.server.close();
  }
});

test('the Kafka handler reads TCP connections into frames and serves in-memory streams by data events', async () => {
  const server = await startKafkaServer();
  try {
    const connections = (server.handler as unknown as { connections: Set<KafkaConnection> }).connections;
    const client = await RawClient.connect(server.port);
    try {
      client.send(RawClient.encode(API_KEY.ApiVersions, 3, 1, { clientSoftwareName: 't', clientSoftwareVersion: '1' }));
      assert.ok(await client.response(API_KEY.ApiVersions, 3, 5_000));
      assert.equal(connections.size, 1);
      assert.equal([...connections][0]!.readsInto, true);
    } finally {
      client.close();
    }
    // An in-memory stream (as a TLS socket or a test pair would be): the 'data' path.
    const toServer = new PassThrough();
    const fromServer = new PassThrough();
    const { Duplex } = await import('node:stream');
    const duplex = Duplex.from({ readable: toServer, writable: fromServer });
    server.handler.handleConnection(duplex, { listenerId: 'kafka', remoteAddress: 'memory', remotePort: 0, localAddress: 'memory', localPort: 0, tls: false });
    const inMemory = [...connections].find((c) => !c.isClosed && !c.readsInto);
    assert.ok(inMemory, 'the in-memory connection reads by data events');
    const request = RawClient.encode(API_KEY.ApiVersions, 3, 2, { clientSoftwareName: 't', clientSoftwareVersion: '1' });
    const answered = once(fromServer, 'data');
    toServer.write(request);
    const [chunk] = (await answered) as [Buffer];
    assert.equal(chunk.readInt32BE(4), 2, 'answered with its correlation id');
    duplex.destroy();
  } finally {
    await server.close();
  }
});

test('socketReadInto: false reads every connection by data events', async () => {
  const server = await startKafkaServer({ config: { socketReadInto: 'false' } });
  try {
    const connections = (server.handler as unknown as { connections: Set<KafkaConnection> }).connections;
    const client = await RawClient.connect(server.port);
    try {
      client.send(RawClient.encode(API_KEY.ApiVersions, 3, 1, { clientSoftwareName: 't', clientSoftwareVersion: '1' }));
      assert.ok(await client.response(API_KEY.ApiVersions, 3, 5_000));
      assert.equal([...connections][0]!.readsInto, false);
    } finally {
      client.close();
    }
  } finally {
    await server.close();
  }
});

test('a connection reading into frames stops reading at requestQueueMax and answers everything in order after', async () => {
  const REQUEST_QUEUE_MAX = 4;
  const FETCH_WAIT_MS = 600;
  const server = await startKafkaServer({ config: { requestQueueMax: REQUEST_QUEUE_MAX, fetchWaitMsMax: FETCH_WAIT_MS } });
  try {
    await server.core.topics.create('persistent://public/default/bp', { partitions: 1 });
    const connections = (server.handler as unknown as { connections: Set<KafkaConnection> }).connections;
    const client = await RawClient.connect(server.port);
    try {
      // Long-polling Fetches (nothing to read) hold their slots; the ApiVersions behind them wait.
      const fetch = (id: number) =>
        RawClient.encode(API_KEY.Fetch, 11, id, {
          replicaId: -1, maxWaitMs: FETCH_WAIT_MS, minBytes: 1, maxBytes: 1 << 16, isolationLevel: 0, sessionId: 0, sessionEpoch: -1,
          topics: [{ topic: 'bp', partitions: [{ partition: 0, currentLeaderEpoch: -1, fetchOffset: 0, logStartOffset: -1, partitionMaxBytes: 1 << 16 }] }],
          forgottenTopicsData: [], rackId: '',
        });
      const requests: Buffer[] = [];
      for (let id = 0; id < REQUEST_QUEUE_MAX; id++) requests.push(fetch(id));
      const TOTAL = 2_000;
      // ~230 bytes each: several reads' worth in all, so that the server pauses between reads.
      const name = 'n'.repeat(200);
      for (let id = REQUEST_QUEUE_MAX; id < TOTAL; id++) requests.push(RawClient.encode(API_KEY.ApiVersions, 3, id, { clientSoftwareName: name, clientSoftwareVersion: '1' }));
      const bytes = Buffer.concat(requests);
      client.send(bytes);
      await sleep(FETCH_WAIT_MS / 3);
      const connection = [...connections][0]!;
      assert.equal(connection.readsInto, true);
      const stream = (connection as unknown as { stream: Socket }).stream;
      const readWhilePaused = stream.bytesRead;
      assert.ok(readWhilePaused < bytes.length, `paused after ${readWhilePaused} of ${bytes.length} bytes`);
      await sleep(50);
      assert.equal(stream.bytesRead, readWhilePaused, 'no reads while the queue is full');
      for (let id = 0; id < TOTAL; id++) {
        const response = id < REQUEST_QUEUE_MAX ? await client.response(API_KEY.Fetch, 11, 5_000) : await client.response(API_KEY.ApiVersions, 3, 5_000);
        assert.ok(response, `response ${id}`);
        assert.equal(response.correlationId, id);
      }
      assert.equal(stream.bytesRead, bytes.length);
    } finally {
      client.close();
    }
  } finally {
    await server.close();
  }
});

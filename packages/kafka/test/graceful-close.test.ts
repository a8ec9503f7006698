/**
 * Graceful close of the handler (SIGTERM of `strata serve`): requests already read are answered
 * before the sockets end. A Produce whose append was under way is stored, so it must be answered —
 * else the client sees an error for a write that succeeded — and a long-polling Fetch answers at
 * once with what it has instead of holding the shutdown for its maxWaitMs.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { encodeRecordBatch } from '@strata/core';
import { API_KEY } from '../src/protocol/messages/index.js';
import { startKafkaServer, type KafkaTestServer } from './helpers/kafka-server.js';
import { RawClient } from './helpers/raw-client.js';

const PRODUCE_REQUESTS = 200;
const RECORDS_PER_REQUEST = 5;
const FETCH_WAIT_MS = 30_000;
/** The close must not wait out the Fetch's long poll. */
const CLOSE_MS_MAX = 4_000;

let server: KafkaTestServer;

before(async () => {
  server = await startKafkaServer({ config: { fetchWaitMsMax: FETCH_WAIT_MS } });
  await server.core.topics.create('persistent://public/default/drain', { partitions: 1 });
  await server.core.topics.create('persistent://public/default/idle', { partitions: 1 });
});

after(async () => {
  await server?.close();
});

const produceBody = (topic: string, records: Buffer) => ({
  transactionalId: null,
  acks: -1,
  timeoutMs: 10_000,
  topicData: [{ name: topic, partitionData: [{ index: 0, records }] }],
});

const fetchBody = (topic: string, fetchOffset: number, maxWaitMs: number) => ({
  replicaId: -1,
  maxWaitMs,
  minBytes: 1,
  maxBytes: 1 << 20,
  isolationLevel: 0,
  sessionId: 0,
  sessionEpoch: -1,
  topics: [{ topic, partitions: [{ partition: 0, currentLeaderEpoch: -1, fetchOffset, lastFetchedEpoch: -1, logStartOffset: -1, partitionMaxBytes: 1 << 20 }] }],
});

test('close() answers every request already read: stored produces get their responses, long polls end at once', async (t) => {
  const poller = await RawClient.connect(server.port);
  const producer = await RawClient.connect(server.port);
  try {
    // A Fetch parked on an empty partition for up to 30 s.
    poller.request(API_KEY.ApiVersions, 3, 1, { clientSoftwareName: 'drain-test', clientSoftwareVersion: '1' });
    assert.ok(await poller.nextFrame(), 'ApiVersions answered');
    poller.request(API_KEY.Fetch, 11, 2, fetchBody('idle', 0, FETCH_WAIT_MS));
    await new Promise((resolve) => setTimeout(resolve, 300)); // let the server read it and park it

    // Many pipelined acks=all Produce requests in one write: some answered, some appending, some
    // unread (the connection pauses at requestQueueMax) when close() starts.
    const requests: Buffer[] = [];
    for (let i = 0; i < PRODUCE_REQUESTS; i++) {
      const batch = encodeRecordBatch(
        Array.from({ length: RECORDS_PER_REQUEST }, (_, r) => ({ key: null, value: Buffer.from(`m-${i}-${r}`), headers: [], timestamp: 1_000 + i })),
      );
      requests.push(RawClient.encode(API_KEY.Produce, 7, 100 + i, produceBody('drain', batch)));
    }
    producer.send(Buffer.concat(requests));
    const first = await producer.response(API_KEY.Produce, 7, 10_000);
    assert.ok(first, 'a first produce response before the close');

    const closeStartedMs = Date.now();
    await server.handler.close();
    const closeMs = Date.now() - closeStartedMs;
    assert.ok(closeMs < CLOSE_MS_MAX, `close took ${closeMs} ms; a parked Fetch must not hold it`);

    const fetched = await poller.response(API_KEY.Fetch, 11, 1_000);
    assert.ok(fetched, 'the long-polling Fetch was answered before its socket ended');
    assert.equal(fetched.correlationId, 2);
    assert.equal(fetched.body.errorCode, 0);
    assert.equal(fetched.body.responses[0].partitions[0].errorCode, 0);
    assert.ok(await poller.closedWithin(2_000), 'the poller connection ended after its answer');

    const answered = [first];
    for (;;) {
      const next = await producer.response(API_KEY.Produce, 7, 2_000);
      if (!next) break;
      answered.push(next);
    }
    assert.ok(producer.closed, 'the producer connection ended after its answers');
    answered.forEach((response, index) => {
      assert.equal(response.correlationId, 100 + index, 'answered in request order, none skipped');
      const partition = response.body.responses[0].partitionResponses[0];
      assert.equal(partition.errorCode, 0);
      assert.equal(Number(partition.baseOffset), index * RECORDS_PER_REQUEST);
    });

    t.diagnostic(`${answered.length} of ${PRODUCE_REQUESTS} produce requests answered; close took ${closeMs} ms`);
    // Everything stored got its answer, and nothing answered is missing (read after a restart).
    await server.restart();
    const { highWatermark } = server.core.offsets('persistent://public/default/drain', 0);
    assert.equal(highWatermark, answered.length * RECORDS_PER_REQUEST, `${answered.length} of ${PRODUCE_REQUESTS} requests answered; stored records must match`);
  } finally {
    poller.close();
    producer.close();
  }
});

/**
 * Produce frames are reused (protocol/frame-pool.ts) once their appends have settled. That is only
 * safe while the core keeps no view of a caller's batch: this test sends many large, distinct
 * batches pipelined over one connection (their frames arrive split over socket reads, so they come
 * from the pool and go back to it) and reads everything back from the core, byte for byte. If a
 * reused frame were still referenced anywhere (tail cache, journal queue), later requests would
 * overwrite earlier records and this would fail.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { encodeRecordBatch } from '@strata/core';
import type { KafkaBroker } from '../src/broker.js';
import { API_KEY } from '../src/protocol/messages/index.js';
import { startKafkaServer, type KafkaTestServer } from './helpers/kafka-server.js';
import { RawClient } from './helpers/raw-client.js';

const TOPIC = 'frame-reuse';
const REQUESTS = 24;
const RECORDS_PER_BATCH = 30;
const VALUE_BYTES = 10_000;

let server: KafkaTestServer;

before(async () => {
  server = await startKafkaServer();
  await server.core.topics.create(`persistent://public/default/${TOPIC}`, { partitions: 1 });
});

after(async () => {
  await server?.close();
});

test('reused Produce frames: every stored batch is byte-identical to what was sent', async () => {
  const client = await RawClient.connect(server.port);
  try {
    const batches = Array.from({ length: REQUESTS }, (_, request) =>
      encodeRecordBatch(
        Array.from({ length: RECORDS_PER_BATCH }, (_, record) => ({
          key: null,
          value: Buffer.alloc(VALUE_BYTES, (request * 31 + record) & 0xff),
          headers: [],
          timestamp: 1_000 + request,
        })),
      ),
    );
    const frames = batches.map((records, i) =>
      RawClient.encode(API_KEY.Produce, 7, i, { transactionalId: null, acks: -1, timeoutMs: 10_000, topicData: [{ name: TOPIC, partitionData: [{ index: 0, records }] }] }),
    );
    // In waves, so that later frames are assembled after earlier ones went back to the pool.
    for (let wave = 0; wave < REQUESTS; wave += 4) {
      client.send(Buffer.concat(frames.slice(wave, wave + 4)));
      for (let i = wave; i < wave + 4; i++) {
        const response = await client.response(API_KEY.Produce, 7, 10_000);
        assert.ok(response, `response ${i}`);
        assert.equal(response.correlationId, i);
        assert.equal(response.body.responses[0].partitionResponses[0].errorCode, 0);
      }
    }
    const pool = (server.handler as unknown as { broker: KafkaBroker }).broker.framePool;
    assert.ok(pool.idleBytes > 0, 'the large frames went through the pool');

    const result = await server.core.read(`persistent://public/default/${TOPIC}`, 0, { offset: 0, maxBytes: 64 << 20 });
    assert.equal(result.entries.length, REQUESTS);
    result.entries.forEach((entry, i) => {
      // Bytes 0-7 are the base offset the core assigns; everything after is the producer's.
      assert.ok(entry.bytes.subarray(8).equals(batches[i]!.subarray(8)), `batch ${i} stored byte for byte`);
    });
  } finally {
    client.close();
  }
});

/**
 * Produce frames are reused (protocol/frame-pool.ts) once their appends have settled. That is only
 * safe while the core keeps no view of a caller's batch it copies (batches below
 * PRODUCE_TRANSFER_BYTES_MIN); larger ones are given to the core (`transfer`) and their frames must
 * then never be reused: this test sends many large, distinct
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
import { PRODUCE_TRANSFER_BYTES_MIN } from '../src/apis/produce.js';
import { startKafkaServer, type KafkaTestServer } from './helpers/kafka-server.js';
import { RawClient } from './helpers/raw-client.js';

const REQUESTS = 24;
const RECORDS_PER_BATCH = 30;
const VALUE_BYTES = 10_000;

let server: KafkaTestServer;

before(async () => {
  server = await startKafkaServer();
});

after(async () => {
  await server?.close();
});

/**
 * Sends REQUESTS pipelined Produce requests (in waves of 4) of `partitions` distinct batches of
 * `recordsPerBatch` records each, then reads every partition back and compares byte for byte.
 */
async function sendAndCheck(topic: string, partitions: number, recordsPerBatch: number): Promise<void> {
  await server.core.topics.create(`persistent://public/default/${topic}`, { partitions });
  const client = await RawClient.connect(server.port);
  try {
    const batches = Array.from({ length: REQUESTS }, (_, request) =>
      Array.from({ length: partitions }, (_, partition) =>
        encodeRecordBatch(
          Array.from({ length: recordsPerBatch }, (_, record) => ({
            key: null,
            value: Buffer.alloc(VALUE_BYTES, (request * 31 + partition * 7 + record) & 0xff),
            headers: [],
            timestamp: 1_000 + request,
          })),
        ),
      ),
    );
    const frames = batches.map((perPartition, i) =>
      RawClient.encode(API_KEY.Produce, 7, i, {
        transactionalId: null,
        acks: -1,
        timeoutMs: 10_000,
        topicData: [{ name: topic, partitionData: perPartition.map((records, index) => ({ index, records })) }],
      }),
    );
    // In waves, so that later frames are assembled after earlier ones went back to the pool.
    for (let wave = 0; wave < REQUESTS; wave += 4) {
      client.send(Buffer.concat(frames.slice(wave, wave + 4)));
      for (let i = wave; i < wave + 4; i++) {
        const response = await client.response(API_KEY.Produce, 7, 10_000);
        assert.ok(response, `response ${i}`);
        assert.equal(response.correlationId, i);
        for (const partitionResponse of response.body.responses[0].partitionResponses) assert.equal(partitionResponse.errorCode, 0);
      }
    }
    for (let partition = 0; partition < partitions; partition++) {
      const result = await server.core.read(`persistent://public/default/${topic}`, partition, { offset: 0, maxBytes: 64 << 20 });
      assert.equal(result.entries.length, REQUESTS);
      result.entries.forEach((entry, i) => {
        // Bytes 0-7 are the base offset the core assigns; everything after is the producer's.
        assert.ok(entry.bytes.subarray(8).equals(batches[i]![partition]!.subarray(8)), `batch ${i} of partition ${partition} stored byte for byte`);
      });
    }
  } finally {
    client.close();
  }
}

function framePool(): KafkaBroker['framePool'] {
  return (server.handler as unknown as { broker: KafkaBroker }).broker.framePool;
}

test('reused Produce frames: batches the core copies leave their frames to the pool, and every stored batch is byte-identical', async () => {
  // Two partitions of ~100 KB each: frames above the pool's minimum, batches below the transfer size.
  const recordsPerBatch = Math.floor((PRODUCE_TRANSFER_BYTES_MIN - 4096) / VALUE_BYTES);
  await sendAndCheck('frame-reuse-copied', 2, recordsPerBatch);
  assert.ok(framePool().idleBytes > 0, 'the large frames went through the pool');
});

test('transferred Produce batches: the core keeps them without a copy, their frames never go back to the pool', async () => {
  const idleBefore = framePool().idleBytes;
  const recordsPerBatch = Math.ceil((PRODUCE_TRANSFER_BYTES_MIN + 4096) / VALUE_BYTES);
  await sendAndCheck('frame-reuse-transferred', 1, recordsPerBatch);
  // Frames taken from the pool for these requests were kept by the core: nothing came back.
  assert.ok(framePool().idleBytes <= idleBefore, 'no transferred frame returned to the pool');
});

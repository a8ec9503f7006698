/**
 * kafkajs 2.2.4 on a compacted topic whose compaction left an empty batch (a superseded idempotent
 * batch that no neighbour could absorb: another producer follows it). kafkajs resolves no offset
 * for a fetch that holds no record and fetches the same offset again, at once: before reads went
 * past empty batches, this consumer sent ~1,300 Fetches a second for offset 0 and read nothing.
 * So a read must never stop after empty batches when a batch with records follows, even a batch
 * larger than what the fetch asked for; and when nothing but empty batches can be answered (the
 * records after them belong to an open transaction), the Fetch long-polls.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import kafkajs from 'kafkajs';
import { CONTROL_TYPE_COMMIT, encodeRecordBatch, encodeTransactionMarker, readBatchHeader } from '@strata/core';
import { consumeUntil } from './helpers/kafkajs-consume.js';
import { startKafkaServer } from './helpers/kafka-server.js';

const { Kafka, logLevel } = kafkajs;

test('kafkajs reads past an empty batch left by compaction, even when the next batch exceeds maxBytesPerPartition', async () => {
  // Retention (and so compaction) and checkpoints every 100 ms: sealed segments are compacted soon.
  const server = await startKafkaServer({ coreInternals: { tuning: { retentionCheckIntervalMs: 100, checkpointIntervalMs: 100 } } });
  const kafka = new Kafka({ clientId: 'kafkajs-compaction', brokers: [server.bootstrap], logLevel: logLevel.NOTHING, retry: { retries: 2, initialRetryTime: 50 } });
  const topic = 'compacted-gaps';
  const full = `persistent://public/default/${topic}`;
  const admin = kafka.admin();
  await admin.connect();
  try {
    await admin.createTopics({ topics: [{ topic, numPartitions: 1, configEntries: [{ name: 'cleanup.policy', value: 'compact' }, { name: 'segment.bytes', value: '1024' }] }] });
    const first = await server.core.initProducer();
    const second = await server.core.initProducer();
    const record = (key: string, bytes: number) => ({ key: Buffer.from(key), value: Buffer.from(`${key}|`.padEnd(bytes, '.')), headers: [], timestamp: Date.now() });
    const append = (data: Buffer) => server.core.append(full, 0, { kind: 'batches', data });
    // Segments of 1 KiB: [0 a (first producer)] [1 big (second producer), 3 KiB] [2 a again]
    await append(encodeRecordBatch([record('a', 600)], { producer: { ...first, baseSequence: 0 } }));
    await append(encodeRecordBatch([record('big', 3000)], { producer: { ...second, baseSequence: 0 } }));
    await append(encodeRecordBatch([record('a', 600)]));

    // Compaction empties batch 0 (its key is superseded) and leaves it as an empty batch: the
    // batch after it belongs to another producer and cannot absorb it.
    const deadline = Date.now() + 10_000;
    const firstBatchRecords = async () => {
      const result = await server.core.read(full, 0, { offset: 0, maxBytes: 1 });
      try {
        return readBatchHeader(result.entries[0]!.bytes).recordCount;
      } finally {
        result.release();
      }
    };
    while ((await firstBatchRecords()) !== 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal(await firstBatchRecords(), 0, 'compaction left an empty batch at offset 0');

    const consumer = kafka.consumer({ groupId: 'compacted-gaps-reader', maxBytesPerPartition: 1024, maxWaitTimeInMs: 100 });
    const seen = (await consumeUntil(consumer, topic, (message) => message.offset === '2')).map((m) => `${m.offset}:${m.key!.toString()}`);
    assert.deepEqual(seen, ['1:big', '2:a']);
  } finally {
    await admin.disconnect();
    await server.close();
  }
});

test('a read_committed answer of nothing but empty batches long-polls instead of returning at once', async () => {
  const server = await startKafkaServer();
  const kafka = new Kafka({ clientId: 'kafkajs-empty-lso', brokers: [server.bootstrap], logLevel: logLevel.NOTHING, retry: { retries: 2, initialRetryTime: 50 } });
  const topic = 'empty-before-open';
  const full = `persistent://public/default/${topic}`;
  await server.core.topics.create(full, { partitions: 1 });
  // 0: an empty batch (as compaction leaves them); 1: a transaction's record, still open, so the
  // last stable offset is 1 and a read_committed Fetch at 0 gets the empty batch alone.
  await server.core.append(full, 0, { kind: 'batches', data: encodeRecordBatch([], { lastOffsetDelta: 0 }) });
  const producer = await server.core.initProducer('empty-before-open');
  const record = { key: null, value: Buffer.from('decided later'), headers: [], timestamp: Date.now() };
  await server.core.append(full, 0, { kind: 'batches', data: encodeRecordBatch([record], { isTransactional: true, producer: { ...producer, baseSequence: 0 } }) });
  assert.equal(server.core.offsets(full, 0).lastStableOffset, 1);

  let reads = 0;
  const read = server.core.read.bind(server.core);
  server.core.read = (name, partition, options) => {
    if (name === full) reads++;
    return read(name, partition, options);
  };
  const consumer = kafka.consumer({ groupId: 'empty-before-open-reader', maxWaitTimeInMs: 200 });
  const seen: string[] = [];
  try {
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    void consumer.run({ eachMessage: async ({ message }) => void seen.push(message.value!.toString()) });
    const deadline = Date.now() + 10_000;
    while (reads === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    const before = reads;
    await new Promise((resolve) => setTimeout(resolve, 1500));
    // Long polls of 200 ms, at most two core reads each: ~15 in 1.5 s. Answered at once, kafkajs
    // fetched ~2,000 times.
    assert.ok(reads - before <= 40, `${reads - before} reads in 1.5 s`);
    assert.deepEqual(seen, []);
    // The transaction commits: its record arrives.
    await server.core.append(full, 0, { kind: 'batches', data: encodeTransactionMarker(producer.producerId, producer.producerEpoch, CONTROL_TYPE_COMMIT, 0, Date.now()) });
    while (seen.length === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    assert.deepEqual(seen, ['decided later']);
  } finally {
    server.core.read = read;
    await consumer.disconnect();
    await server.close();
  }
});

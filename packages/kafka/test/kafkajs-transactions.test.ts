/**
 * Kafka transactions (KIP-98) with kafkajs 2.2.4: commit and abort seen through read_committed and
 * read_uncommitted consumers, offsets sent inside a transaction, fencing by a second producer with
 * the same transactional id, the transaction timeout, restarts with a transaction open or
 * decided but not yet written out, and a compacted topic written by transactions.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import kafkajs from 'kafkajs';
import { consumeUntil } from './helpers/kafkajs-consume.js';
import { startKafkaServer, type KafkaTestServer } from './helpers/kafka-server.js';
import { transactionKey } from '../src/transactions/transaction.js';
import { API_KEY } from '../src/protocol/messages/index.js';
import { RawClient } from './helpers/raw-client.js';

const { Kafka, logLevel } = kafkajs;

let server: KafkaTestServer;
let kafka: kafkajs.Kafka;

before(async () => {
  server = await startKafkaServer({ config: { transactionCheckIntervalMs: 100 } });
  kafka = new Kafka({ clientId: 'kafkajs-txn', brokers: [server.bootstrap], logLevel: logLevel.NOTHING, retry: { retries: 2, initialRetryTime: 50 } });
});

after(async () => {
  await server?.close();
});

const full = (topic: string): string => `persistent://public/default/${topic}`;

const READ_UNCOMMITTED = 0;
const READ_COMMITTED = 1;

/** One bare Fetch v11 of partition 0 from offset 0 at an isolation level. */
async function fetchPartition(topic: string, isolationLevel: number): Promise<{ lastStableOffset: number; highWatermark: number; records: Buffer | null; abortedTransactions: Array<{ producerId: number; firstOffset: number }> | null }> {
  const client = await RawClient.connect(server.port);
  try {
    client.request(API_KEY.Fetch, 11, 1, {
      replicaId: -1, maxWaitMs: 0, minBytes: 1, maxBytes: 1 << 20, isolationLevel, sessionId: 0, sessionEpoch: -1,
      topics: [{ topic, partitions: [{ partition: 0, currentLeaderEpoch: -1, fetchOffset: 0, lastFetchedEpoch: -1, logStartOffset: -1, partitionMaxBytes: 1 << 20 }] }],
      forgottenTopicsData: [], rackId: '',
    });
    const response = await client.response(API_KEY.Fetch, 11);
    assert.ok(response, 'fetch response');
    const partition = response.body.responses[0].partitions[0];
    assert.equal(partition.errorCode, 0);
    return { ...partition, lastStableOffset: Number(partition.lastStableOffset), highWatermark: Number(partition.highWatermark),
      abortedTransactions: partition.abortedTransactions?.map((a: { producerId: number; firstOffset: number }) => ({ producerId: Number(a.producerId), firstOffset: Number(a.firstOffset) })) ?? null };
  } finally {
    client.close();
  }
}

async function createTopic(topic: string): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    await admin.createTopics({ topics: [{ topic, numPartitions: 1 }] });
  } finally {
    await admin.disconnect();
  }
}

function transactionalProducer(transactionalId: string, transactionTimeout = 60_000): kafkajs.Producer {
  return kafka.producer({ transactionalId, idempotent: true, maxInFlightRequests: 1, transactionTimeout });
}

/** Values read by a group consumer from the beginning until `last` arrives (or the time runs out). */
function readUntil(topic: string, last: string, readUncommitted: boolean): Promise<string[]> {
  return readUntilOn(kafka, topic, last, readUncommitted);
}

test('kafkajs transactions: committed records are read, aborted ones only by read_uncommitted', async () => {
  await createTopic('txn-basic');
  const producer = transactionalProducer('txn-basic-producer');
  await producer.connect();
  try {
    const first = await producer.transaction();
    await first.send({ topic: 'txn-basic', messages: [{ value: 'c1' }, { value: 'c2' }] });
    // Open: the last stable offset holds a read_committed reader before the transaction's records.
    const open = server.core.offsets(full('txn-basic'), 0);
    assert.equal(open.lastStableOffset, 0);
    assert.equal(open.highWatermark, 2);
    const committedRead = await fetchPartition('txn-basic', READ_COMMITTED);
    assert.deepEqual([committedRead.lastStableOffset, committedRead.highWatermark, committedRead.records?.length ?? 0], [0, 2, 0], 'read_committed: nothing yet');
    const uncommittedRead = await fetchPartition('txn-basic', READ_UNCOMMITTED);
    assert.ok((uncommittedRead.records?.length ?? 0) > 0, 'read_uncommitted: the open transaction\'s records');
    assert.equal(uncommittedRead.abortedTransactions, null);
    await first.commit();

    const second = await producer.transaction();
    await second.send({ topic: 'txn-basic', messages: [{ value: 'a1' }, { value: 'a2' }] });
    await second.abort();

    const third = await producer.transaction();
    await third.send({ topic: 'txn-basic', messages: [{ value: 'c3' }] });
    await third.commit();
  } finally {
    await producer.disconnect();
  }
  const offsets = server.core.offsets(full('txn-basic'), 0);
  assert.equal(offsets.lastStableOffset, offsets.highWatermark, 'nothing left open');
  assert.deepEqual(
    server.core.abortedTransactions(full('txn-basic'), 0, 0, offsets.highWatermark).map((a) => [a.firstOffset, a.lastOffset]),
    [[3, 5]],
    'one aborted transaction: records at 3-4, its marker at 5 (2 is the first commit marker)',
  );
  const afterwards = await fetchPartition('txn-basic', READ_COMMITTED);
  assert.deepEqual(afterwards.abortedTransactions?.map((a) => a.firstOffset), [3], 'read_committed Fetch lists the abort');
  assert.deepEqual(await readUntil('txn-basic', 'c3', false), ['c1', 'c2', 'c3']);
  assert.deepEqual(await readUntil('txn-basic', 'c3', true), ['c1', 'c2', 'a1', 'a2', 'c3']);
});

test('kafkajs transactions: offsets sent in a transaction reach the group only when it commits', async () => {
  await createTopic('txn-offsets');
  const admin = kafka.admin();
  await admin.connect();
  const producer = transactionalProducer('txn-offsets-producer');
  await producer.connect();
  try {
    const committedOffset = async (): Promise<string> => (await admin.fetchOffsets({ groupId: 'txn-offsets-group', topics: ['txn-offsets'] }))[0]!.partitions[0]!.offset;
    const aborted = await producer.transaction();
    await aborted.send({ topic: 'txn-offsets', messages: [{ value: 'x' }] });
    await aborted.sendOffsets({ consumerGroupId: 'txn-offsets-group', topics: [{ topic: 'txn-offsets', partitions: [{ partition: 0, offset: '7' }] }] });
    assert.equal(await committedOffset(), '-1', 'not visible while the transaction is open');
    await aborted.abort();
    assert.equal(await committedOffset(), '-1', 'dropped with the abort');

    const committed = await producer.transaction();
    await committed.send({ topic: 'txn-offsets', messages: [{ value: 'y' }] });
    await committed.sendOffsets({ consumerGroupId: 'txn-offsets-group', topics: [{ topic: 'txn-offsets', partitions: [{ partition: 0, offset: '9' }] }] });
    await committed.commit();
    assert.equal(await committedOffset(), '9');
  } finally {
    await producer.disconnect();
    await admin.disconnect();
  }
});

test('kafkajs transactions: a second producer with the same id fences the first and aborts its transaction', async () => {
  await createTopic('txn-fence');
  const zombie = transactionalProducer('txn-fence-producer');
  await zombie.connect();
  const successor = transactionalProducer('txn-fence-producer');
  try {
    const open = await zombie.transaction();
    await open.send({ topic: 'txn-fence', messages: [{ value: 'zombie' }] });
    await successor.connect();
    // kafkajs sends InitProducerId with its first transaction: the zombie's is aborted, the epoch bumped.
    const next = await successor.transaction();
    assert.equal(server.core.offsets(full('txn-fence'), 0).lastStableOffset, server.core.offsets(full('txn-fence'), 0).highWatermark);
    await assert.rejects(open.send({ topic: 'txn-fence', messages: [{ value: 'zombie-2' }] }), (error: Error & { type?: string }) => {
      assert.match(`${error.type ?? ''} ${error.message}`, /PRODUCER_EPOCH|fenced|epoch/i);
      return true;
    });
    await assert.rejects(open.commit());
    await next.send({ topic: 'txn-fence', messages: [{ value: 'successor' }] });
    await next.commit();
  } finally {
    await zombie.disconnect().catch(() => {});
    await successor.disconnect();
  }
  assert.deepEqual(await readUntil('txn-fence', 'successor', false), ['successor']);
});

test('kafkajs transactions: a transaction open past its timeout is aborted and its producer fenced', async () => {
  await createTopic('txn-timeout');
  const producer = transactionalProducer('txn-timeout-producer', 500);
  await producer.connect();
  try {
    const open = await producer.transaction();
    await open.send({ topic: 'txn-timeout', messages: [{ value: 'late' }] });
    const deadline = Date.now() + 10_000;
    while (server.core.offsets(full('txn-timeout'), 0).lastStableOffset === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    const offsets = server.core.offsets(full('txn-timeout'), 0);
    assert.equal(offsets.lastStableOffset, offsets.highWatermark, 'aborted by the coordinator');
    assert.equal(server.core.abortedTransactions(full('txn-timeout'), 0, 0, offsets.highWatermark).length, 1);
    await assert.rejects(open.commit());
  } finally {
    await producer.disconnect().catch(() => {});
  }
});

test('kafkajs transactions: restarts keep an open transaction unreadable and finish a decided one', async () => {
  await createTopic('txn-restart');
  const producer = transactionalProducer('txn-restart-producer');
  await producer.connect();
  const open = await producer.transaction();
  await open.send({ topic: 'txn-restart', messages: [{ value: 'r1' }, { value: 'r2' }] });
  await producer.disconnect().catch(() => {});
  await server.restart();
  assert.deepEqual(
    [server.core.offsets(full('txn-restart'), 0).lastStableOffset, server.core.offsets(full('txn-restart'), 0).highWatermark],
    [0, 2],
    'still open after a restart: nothing stable',
  );

  // The coordinator stored "commit" and the server died before any marker was written.
  const key = transactionKey('txn-restart-producer');
  const stored = (await server.core.metadata.get(key))!;
  const record = JSON.parse(stored.value.toString()) as { state: string };
  assert.equal(record.state, 'Ongoing');
  await server.core.metadata.put(key, Buffer.from(JSON.stringify({ ...record, state: 'PrepareCommit' })), { expectedVersion: stored.version });
  await server.restart();
  const offsets = server.core.offsets(full('txn-restart'), 0);
  assert.deepEqual([offsets.lastStableOffset, offsets.highWatermark], [3, 3], 'the commit marker was written at start');
  assert.deepEqual(await readUntil('txn-restart', 'r2', false), ['r1', 'r2']);
});

test('kafkajs transactions on a compacted topic: aborted records are removed, an aborted or open write never removes the committed value', async () => {
  // A server of its own whose retention runs (and so compaction) every 100 ms, with checkpoints as
  // often, so that sealed segments are settled in their files soon after they seal.
  const compacting = await startKafkaServer({ coreInternals: { tuning: { retentionCheckIntervalMs: 100, checkpointIntervalMs: 100 } } });
  const client = new Kafka({ clientId: 'kafkajs-txn-compact', brokers: [compacting.bootstrap], logLevel: logLevel.NOTHING, retry: { retries: 2, initialRetryTime: 50 } });
  const topic = 'txn-compacted';
  const admin = client.admin();
  await admin.connect();
  const producer = client.producer({ transactionalId: 'txn-compact-producer', idempotent: true, maxInFlightRequests: 1 });
  const pending = client.producer({ transactionalId: 'txn-compact-pending', idempotent: true, maxInFlightRequests: 1 });
  const plain = client.producer();
  try {
    // Segments of 1 KiB (the least allowed) and records of 600 bytes: one batch per segment, so
    // every batch but the last is sealed at once.
    await admin.createTopics({ topics: [{ topic, numPartitions: 1, configEntries: [{ name: 'cleanup.policy', value: 'compact' }, { name: 'segment.bytes', value: '1024' }] }] });
    await Promise.all([producer.connect(), pending.connect(), plain.connect()]);
    const committed = await producer.transaction();
    await committed.send({ topic, messages: [{ key: 'k', value: padded('committed') }] });
    await committed.commit();
    const aborted = await producer.transaction();
    await aborted.send({ topic, messages: [{ key: 'k', value: padded('aborted') }] });
    await aborted.abort();
    const open = await pending.transaction();
    await open.send({ topic, messages: [{ key: 'k', value: padded('pending') }] });
    await plain.send({ topic, messages: [{ key: 'pad', value: padded('pad1') }] });

    const values = async (readUncommitted: boolean, last: string) =>
      (await readUntilOn(client, topic, padded(last), readUncommitted)).map((value) => value.slice(0, value.indexOf('|')));
    // Compaction has run once the aborted record is gone from what read_uncommitted sees.
    const deadline = Date.now() + 15_000;
    let uncommitted = await values(true, 'pad1');
    while (uncommitted.includes('aborted') && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 200));
      uncommitted = await values(true, 'pad1');
    }
    assert.deepEqual(uncommitted, ['committed', 'pending', 'pad1'], 'the aborted record is removed; the committed one stays');
    await open.commit();
    await plain.send({ topic, messages: [{ key: 'pad', value: padded('pad2') }] });
    // Once the pending write is committed and decided below the stable offset, it supersedes; pad2
    // supersedes pad1. The two removals may come in separate passes (each segment is compacted once
    // its file is complete), so wait for both.
    const secondDeadline = Date.now() + 15_000;
    let committedRead = await values(false, 'pad2');
    while ((committedRead.includes('committed') || committedRead.includes('pad1')) && Date.now() < secondDeadline) {
      await new Promise((resolve) => setTimeout(resolve, 200));
      committedRead = await values(false, 'pad2');
    }
    assert.deepEqual(committedRead, ['pending', 'pad2'], 'k=pending superseded k=committed once decided; pad2 superseded pad1');
  } finally {
    await Promise.all([producer.disconnect(), pending.disconnect(), plain.disconnect(), admin.disconnect()]);
    await compacting.close();
  }
});

/** A value of 600 bytes that starts with `name|`. */
function padded(name: string): string {
  return `${name}|`.padEnd(600, '.');
}

/** Values read by a group consumer of `client` from the beginning until `last` arrives (or the time runs out). */
async function readUntilOn(client: kafkajs.Kafka, topic: string, last: string, readUncommitted: boolean): Promise<string[]> {
  const consumer = client.consumer({ groupId: `reader-${topic}-${readUncommitted}-${Math.random()}`, readUncommitted, maxWaitTimeInMs: 100, sessionTimeout: 10_000, heartbeatInterval: 500 });
  const messages = await consumeUntil(consumer, topic, (message) => message.value!.toString() === last);
  return messages.map((message) => message.value!.toString());
}

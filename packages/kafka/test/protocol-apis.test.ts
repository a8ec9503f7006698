/**
 * API behaviour at the protocol level (raw requests through the generated codecs): idempotence,
 * Fetch limits and long poll, old versions, topic ids, group admin APIs.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { crc32c, decodeRecordBatch, encodeRecordBatch, type Message } from '@strata/core';
import { API_KEY } from '../src/protocol/messages/index.js';
import { startKafkaServer, type KafkaTestServer } from './helpers/kafka-server.js';
import { RawClient } from './helpers/raw-client.js';

let server: KafkaTestServer;
let c: RawClient;
let correlationId = 0;

before(async () => {
  server = await startKafkaServer({ config: { autoCreateTopics: true } });
  c = await RawClient.connect(server.port);
});

after(async () => {
  c?.close();
  await server?.close();
});

async function call<T = any>(apiKey: number, version: number, body: unknown): Promise<T> {
  const id = ++correlationId;
  c.request(apiKey, version, id, body);
  const response = await c.response<T>(apiKey, version, 10_000);
  assert.ok(response, `response to api ${apiKey} v${version}`);
  assert.equal(response.correlationId, id);
  return response.body;
}

const messages = (n: number, size = 10): Message[] =>
  Array.from({ length: n }, (_, i) => ({ key: null, value: Buffer.alloc(size, 97 + (i % 26)), headers: [], timestamp: 1_700_000_000_000 + i }));

const produce = (topic: string, partition: number, records: Buffer) =>
  call(API_KEY.Produce, 8, { transactionalId: null, acks: -1, timeoutMs: 5000, topicData: [{ name: topic, partitionData: [{ index: partition, records }] }] }).then(
    (r) => r.responses[0].partitionResponses[0] as { errorCode: number; baseOffset: number; logStartOffset: number },
  );

const fetchBody = (topic: string, fetchOffset: number, options: { maxWaitMs?: number; minBytes?: number; maxBytes?: number; partitionMaxBytes?: number; partitions?: number[] } = {}) => ({
  replicaId: -1,
  maxWaitMs: options.maxWaitMs ?? 0,
  minBytes: options.minBytes ?? 1,
  maxBytes: options.maxBytes ?? 1 << 20,
  isolationLevel: 1,
  sessionId: 0,
  sessionEpoch: -1,
  topics: [
    {
      topic,
      partitions: (options.partitions ?? [0]).map((partition) => ({
        partition,
        currentLeaderEpoch: -1,
        fetchOffset,
        lastFetchedEpoch: -1,
        logStartOffset: -1,
        partitionMaxBytes: options.partitionMaxBytes ?? 1 << 20,
      })),
    },
  ],
  forgottenTopicsData: [],
  rackId: '',
});

test('idempotent producer: duplicates get the original offsets, gaps are refused', async () => {
  await server.core.topics.create('persistent://public/default/idem-raw', { partitions: 1 });
  const init = await call(API_KEY.InitProducerId, 4, { transactionalId: null, transactionTimeoutMs: 60_000, producerId: -1, producerEpoch: -1 });
  assert.equal(init.errorCode, 0);
  const producer = { producerId: init.producerId, producerEpoch: init.producerEpoch };
  const first = encodeRecordBatch(messages(3), { producer: { ...producer, baseSequence: 0 } });
  const second = encodeRecordBatch(messages(2), { producer: { ...producer, baseSequence: 3 } });
  const a = await produce('idem-raw', 0, first);
  const b = await produce('idem-raw', 0, second);
  assert.deepEqual([a.errorCode, a.baseOffset, b.errorCode, b.baseOffset], [0, 0, 0, 3]);
  const again = await produce('idem-raw', 0, first);
  assert.deepEqual([again.errorCode, again.baseOffset], [0, 0], 'a retried batch is answered with its original offset');
  const gap = await produce('idem-raw', 0, encodeRecordBatch(messages(1), { producer: { ...producer, baseSequence: 9 } }));
  assert.equal(gap.errorCode, 45, 'OUT_OF_ORDER_SEQUENCE_NUMBER');
  assert.equal(server.core.offsets('persistent://public/default/idem-raw', 0).highWatermark, 5);
  const control = await produce('idem-raw', 0, encodeRecordBatch(messages(1), { isControl: true }));
  assert.equal(control.errorCode, 87, 'clients may not write control batches');
  const transactional = await produce('idem-raw', 0, encodeRecordBatch(messages(1), { isTransactional: true, producer: { ...producer, baseSequence: 5 } }));
  assert.equal(transactional.errorCode, 48, 'a transactional batch outside a transaction: INVALID_TXN_STATE');
});

test('transactions on the wire: coordinator lookup, identity checks, all-or-nothing AddPartitionsToTxn, EndTxn states', async () => {
  await server.core.topics.create('persistent://public/default/txn-raw', { partitions: 1 });
  const coordinator = await call(API_KEY.FindCoordinator, 3, { key: 'raw-tx', keyType: 1, coordinatorKeys: [] });
  assert.equal(coordinator.errorCode, 0, 'key type 1: transaction coordinator');
  assert.equal(coordinator.port, server.port);
  const badType = await call(API_KEY.FindCoordinator, 3, { key: 'x', keyType: 7, coordinatorKeys: [] });
  assert.equal(badType.errorCode, 42, 'INVALID_REQUEST');

  const tooLong = await call(API_KEY.InitProducerId, 4, { transactionalId: 'raw-tx', transactionTimeoutMs: 3_600_000, producerId: -1, producerEpoch: -1 });
  assert.equal(tooLong.errorCode, 50, 'INVALID_TRANSACTION_TIMEOUT past transactionTimeoutMsMax');
  const init = await call(API_KEY.InitProducerId, 4, { transactionalId: 'raw-tx', transactionTimeoutMs: 60_000, producerId: -1, producerEpoch: -1 });
  assert.equal(init.errorCode, 0);
  const { producerId, producerEpoch } = init as { producerId: number; producerEpoch: number };
  const again = await call(API_KEY.InitProducerId, 4, { transactionalId: 'raw-tx', transactionTimeoutMs: 60_000, producerId, producerEpoch: producerEpoch + 5 });
  assert.equal(again.errorCode, 47, 'KIP-360: the producer must name the identity the id has');

  const add = (id: string, pid: number, epoch: number, topics: Array<{ name: string; partitions: number[] }>) =>
    call(API_KEY.AddPartitionsToTxn, 3, { v3AndBelowTransactionalId: id, v3AndBelowProducerId: pid, v3AndBelowProducerEpoch: epoch, v3AndBelowTopics: topics, transactions: [] }).then(
      (r) => r.resultsByTopicV3AndBelow.flatMap((t: { resultsByPartition: Array<{ partitionErrorCode: number }> }) => t.resultsByPartition.map((p) => p.partitionErrorCode)),
    );
  assert.deepEqual(await add('raw-tx', producerId + 1, producerEpoch, [{ name: 'txn-raw', partitions: [0] }]), [49], 'INVALID_PRODUCER_ID_MAPPING');
  assert.deepEqual(await add('raw-tx', producerId, producerEpoch - 1, [{ name: 'txn-raw', partitions: [0] }]), [47], 'INVALID_PRODUCER_EPOCH');
  assert.deepEqual(
    await add('raw-tx', producerId, producerEpoch, [{ name: 'txn-raw', partitions: [0, 5] }]),
    [55, 3],
    'a missing partition refuses the whole request: OPERATION_NOT_ATTEMPTED for the rest',
  );
  const endTxn = (committed: boolean, epoch = producerEpoch) =>
    call(API_KEY.EndTxn, 3, { transactionalId: 'raw-tx', producerId, producerEpoch: epoch, committed }).then((r) => r.errorCode as number);
  assert.equal(await endTxn(true), 48, 'nothing to end: INVALID_TXN_STATE');

  const produceTx = (partition: number, sequence: number) =>
    call(API_KEY.Produce, 8, {
      transactionalId: 'raw-tx',
      acks: -1,
      timeoutMs: 5000,
      topicData: [{ name: 'txn-raw', partitionData: [{ index: partition, records: encodeRecordBatch(messages(2), { isTransactional: true, producer: { producerId, producerEpoch, baseSequence: sequence } }) }] }],
    }).then((r) => r.responses[0].partitionResponses[0].errorCode as number);
  assert.equal(await produceTx(0, 0), 48, 'the partition was not added');
  assert.deepEqual(await add('raw-tx', producerId, producerEpoch, [{ name: 'txn-raw', partitions: [0] }]), [0]);
  assert.equal(await produceTx(0, 0), 0);
  assert.equal(server.core.offsets('persistent://public/default/txn-raw', 0).lastStableOffset, 0);

  // The admin view (KIP-664): the open transaction as the partition and the coordinator see it.
  const producers = await call(API_KEY.DescribeProducers, 0, { topics: [{ name: 'txn-raw', partitionIndexes: [0] }] });
  const active = producers.topics[0].partitions[0].activeProducers.map((p: Record<string, unknown>) => [Number(p.producerId), p.producerEpoch, p.lastSequence, Number(p.currentTxnStartOffset)]);
  assert.deepEqual(active, [[producerId, producerEpoch, 1, 0]], 'DescribeProducers: last sequence 1, transaction open from offset 0');
  const described = (await call(API_KEY.DescribeTransactions, 0, { transactionalIds: ['raw-tx', 'nobody'] })).transactionStates;
  assert.deepEqual([described[0].errorCode, described[0].transactionState, Number(described[0].producerId), described[0].topics], [0, 'Ongoing', producerId, [{ topic: 'txn-raw', partitions: [0] }]]);
  assert.equal(described[1].errorCode, 105, 'TRANSACTIONAL_ID_NOT_FOUND');
  const listed = await call(API_KEY.ListTransactions, 1, { stateFilters: ['Ongoing', 'Bogus'], producerIdFilters: [], durationFilter: -1 });
  assert.ok(listed.transactionStates.some((t: { transactionalId: string; transactionState: string }) => t.transactionalId === 'raw-tx' && t.transactionState === 'Ongoing'));
  assert.deepEqual(listed.unknownStateFilters, ['Bogus']);
  const none = await call(API_KEY.ListTransactions, 1, { stateFilters: ['Empty'], producerIdFilters: [producerId], durationFilter: -1 });
  assert.deepEqual(none.transactionStates, [], 'filters combine');

  assert.equal(await endTxn(true, producerEpoch + 1), 47);
  assert.equal(await endTxn(false), 0, 'abort');
  assert.equal(await endTxn(false), 0, 'a retried abort after it completed');
  assert.equal(await endTxn(true), 48, 'a commit after the abort completed');
  const offsets = server.core.offsets('persistent://public/default/txn-raw', 0);
  assert.deepEqual([offsets.lastStableOffset, offsets.highWatermark], [3, 3], 'records 0-1, the abort marker at 2');
  assert.equal(await produceTx(0, 2), 48, 'the transaction ended: its partitions with it');

  const txnCommit = await call(API_KEY.TxnOffsetCommit, 3, {
    transactionalId: 'raw-tx', groupId: 'raw-group', producerId, producerEpoch, generationId: -1, memberId: '', groupInstanceId: null,
    topics: [{ name: 'txn-raw', partitions: [{ partitionIndex: 0, committedOffset: 1, committedLeaderEpoch: -1, committedMetadata: null }] }],
  });
  assert.equal(txnCommit.topics[0].partitions[0].errorCode, 48, 'the group was not added to a transaction');

  // Offsets in a transaction: UNSTABLE_OFFSET_COMMIT for requireStable readers until it commits (KIP-447).
  const addOffsets = await call(API_KEY.AddOffsetsToTxn, 3, { transactionalId: 'raw-tx', producerId, producerEpoch, groupId: 'raw-group' });
  assert.equal(addOffsets.errorCode, 0);
  const pending = await call(API_KEY.TxnOffsetCommit, 3, { ...txnCommitBody(producerId, producerEpoch), groupId: 'raw-group' });
  assert.equal(pending.topics[0].partitions[0].errorCode, 0);
  const offsetFetch = (requireStable: boolean) =>
    call(API_KEY.OffsetFetch, 7, { groupId: 'raw-group', topics: [{ name: 'txn-raw', partitionIndexes: [0] }], requireStable }).then(
      (r) => [r.topics[0].partitions[0].errorCode, Number(r.topics[0].partitions[0].committedOffset)],
    );
  assert.deepEqual(await offsetFetch(true), [88, -1], 'UNSTABLE_OFFSET_COMMIT');
  assert.deepEqual(await offsetFetch(false), [0, -1], 'read_uncommitted readers see the last committed offset');
  assert.equal(await endTxn(true), 0);
  assert.deepEqual(await offsetFetch(true), [0, 1], 'committed with the transaction');
});

test('InitProducerId v3+ (KIP-360): the current identity or the one before it re-initializes; an older one is refused', async () => {
  const init = (producerId: number, producerEpoch: number) =>
    call(API_KEY.InitProducerId, 4, { transactionalId: 'kip360', transactionTimeoutMs: 60_000, producerId, producerEpoch }) as Promise<{ errorCode: number; producerId: number; producerEpoch: number }>;
  const first = await init(-1, -1);
  assert.equal(first.errorCode, 0);
  const second = await init(first.producerId, first.producerEpoch); // the current identity
  assert.deepEqual([second.errorCode, second.producerEpoch], [0, first.producerEpoch + 1]);
  const third = await init(first.producerId, first.producerEpoch); // the epoch before the current one
  assert.deepEqual([third.errorCode, third.producerEpoch], [0, first.producerEpoch + 2]);
  assert.equal((await init(first.producerId, first.producerEpoch)).errorCode, 47, 'two epochs back: INVALID_PRODUCER_EPOCH');
  assert.equal((await init(first.producerId + 1000, third.producerEpoch)).errorCode, 47, 'another producer id');
});

function txnCommitBody(producerId: number, producerEpoch: number) {
  return {
    transactionalId: 'raw-tx', groupId: 'raw-group', producerId, producerEpoch, generationId: -1, memberId: '', groupInstanceId: null,
    topics: [{ name: 'txn-raw', partitions: [{ partitionIndex: 0, committedOffset: 1, committedLeaderEpoch: -1, committedMetadata: null }] }],
  };
}

test('fetch from the tail cache: separate entries go out as chunks of one records field, byte exact (v11 and v12)', async () => {
  await server.core.topics.create('persistent://public/default/tail-chunks', { partitions: 1 });
  // Batches of ~20 KB (past the connection's 16 KiB by-reference threshold) and one small one
  // (copied into the frame), each its own tail-cache entry in its own buffer.
  const sent = [encodeRecordBatch(messages(20, 1000)), encodeRecordBatch(messages(3)), encodeRecordBatch(messages(20, 1000)), encodeRecordBatch(messages(20, 1000))];
  for (const batch of sent) assert.equal((await produce('tail-chunks', 0, batch)).errorCode, 0);
  for (const version of [11, 12]) {
    const response = await call(API_KEY.Fetch, version, fetchBody('tail-chunks', 0));
    const records: Buffer = response.responses[0].partitions[0].records;
    assert.equal(records.length, sent.reduce((n, b) => n + b.length, 0), `v${version}: every batch, nothing else`);
    const bases: number[] = [];
    for (let at = 0; at < records.length; ) {
      const length = 12 + records.readInt32BE(at + 8);
      const batch = records.subarray(at, at + length);
      assert.equal(crc32c(batch.subarray(21)), batch.readUInt32BE(17), 'CRC-32C intact'); // KIP-98 batch layout: crc at 17 covers attributes onward
      const decoded = decodeRecordBatch(batch);
      bases.push(Number(batch.readBigInt64BE(0)));
      assert.deepEqual(decoded.messages.map((m) => m.value), messages(decoded.messages.length, decoded.messages[0]!.value!.length).map((m) => m.value));
      at += length;
    }
    assert.deepEqual(bases, [0, 20, 23, 43], `v${version}: batches in order, base offsets assigned`);
  }
});

test('fetch: maxBytes and partitionMaxBytes, at least one batch, out of range, long poll', async () => {
  await server.core.topics.create('persistent://public/default/limits', { partitions: 2 });
  for (let i = 0; i < 4; i++) assert.equal((await produce('limits', 0, encodeRecordBatch(messages(10, 1000)))).errorCode, 0);
  await produce('limits', 1, encodeRecordBatch(messages(10, 1000)));
  const batchBytes = encodeRecordBatch(messages(10, 1000)).length;

  const small = await call(API_KEY.Fetch, 11, fetchBody('limits', 0, { maxBytes: 100, partitions: [0, 1] }));
  const [p0, p1] = small.responses[0].partitions;
  assert.equal(p0.records.length, batchBytes, 'KIP-74: one whole batch although larger than maxBytes');
  assert.equal(p1.records.length, 0, 'the budget is spent');
  assert.equal(p0.highWatermark, 40);
  assert.equal(p0.lastStableOffset, 40);
  assert.deepEqual(p0.abortedTransactions, []);

  const perPartition = await call(API_KEY.Fetch, 11, fetchBody('limits', 0, { partitionMaxBytes: batchBytes * 2 + 1 }));
  assert.equal(perPartition.responses[0].partitions[0].records.length, batchBytes * 2);
  const middle = await call(API_KEY.Fetch, 11, fetchBody('limits', 15));
  assert.equal(middle.responses[0].partitions[0].records.readBigInt64BE(0), 10n, 'the batch holding offset 15 starts at 10');

  const outOfRange = await call(API_KEY.Fetch, 11, fetchBody('limits', 41));
  assert.equal(outOfRange.responses[0].partitions[0].errorCode, 1);
  const unknown = await call(API_KEY.Fetch, 11, fetchBody('nope', 0));
  assert.equal(unknown.responses[0].partitions[0].errorCode, 3);
  const old = await call(API_KEY.Fetch, 3, { ...fetchBody('limits', 0), maxBytes: 1000 });
  assert.equal(old.responses[0].partitions[0].errorCode, 35, 'Fetch v0-3 need message format down-conversion');

  // Long poll at the log end: times out after maxWaitMs with no data...
  let started = Date.now();
  const empty = await call(API_KEY.Fetch, 11, fetchBody('limits', 40, { maxWaitMs: 300 }));
  assert.ok(Date.now() - started >= 250, 'waited for maxWaitMs');
  assert.equal(empty.responses[0].partitions[0].records.length, 0);
  // ...and is woken by an append through another path (the core directly: any protocol).
  started = Date.now();
  c.request(API_KEY.Fetch, 11, ++correlationId, fetchBody('limits', 40, { maxWaitMs: 5_000 }));
  setTimeout(() => void server.core.append('persistent://public/default/limits', 0, { kind: 'messages', messages: messages(1) }), 100);
  const woken = await c.response(API_KEY.Fetch, 11, 10_000);
  assert.ok(Date.now() - started < 3_000, 'woken by the append');
  assert.ok(woken!.body.responses[0].partitions[0].records.length > 0);
});

test('list offsets v0 and v1+, offset for leader epoch, describe cluster, find coordinator v4', async () => {
  await server.core.topics.create('persistent://public/default/lo', { partitions: 1 });
  await produce('lo', 0, encodeRecordBatch(messages(5)));
  const v0 = await call(API_KEY.ListOffsets, 0, { replicaId: -1, isolationLevel: 0, topics: [{ name: 'lo', partitions: [{ partitionIndex: 0, currentLeaderEpoch: -1, timestamp: -1, maxNumOffsets: 1 }] }] });
  assert.deepEqual(v0.topics[0].partitions[0].oldStyleOffsets, [5]);
  const byTime = await call(API_KEY.ListOffsets, 7, {
    replicaId: -1,
    isolationLevel: 1,
    topics: [{ name: 'lo', partitions: [{ partitionIndex: 0, currentLeaderEpoch: -1, timestamp: 1_700_000_000_003, maxNumOffsets: 1 }] }],
  });
  assert.equal(byTime.topics[0].partitions[0].offset, 3);
  assert.equal(byTime.topics[0].partitions[0].timestamp, 1_700_000_000_003);
  const future = await call(API_KEY.ListOffsets, 7, { replicaId: -1, isolationLevel: 1, topics: [{ name: 'lo', partitions: [{ partitionIndex: 0, currentLeaderEpoch: -1, timestamp: 2_000_000_000_000, maxNumOffsets: 1 }] }] });
  assert.equal(future.topics[0].partitions[0].offset, -1);
  // KIP-734: -3 is the first record with the largest timestamp (messages() stamps 1_700_000_000_000 + i).
  const listMax = (version: number) =>
    call(API_KEY.ListOffsets, version, { replicaId: -1, isolationLevel: 0, topics: [{ name: 'lo', partitions: [{ partitionIndex: 0, currentLeaderEpoch: -1, timestamp: -3, maxNumOffsets: 1 }] }] }).then(
      (r) => r.topics[0].partitions[0] as { errorCode: number; offset: number; timestamp: number },
    );
  const max = await listMax(7);
  assert.deepEqual([max.errorCode, Number(max.offset), Number(max.timestamp)], [0, 4, 1_700_000_000_004]);
  assert.equal((await listMax(6)).errorCode, 35, 'before v7 -3 is UNSUPPORTED_VERSION');

  const epoch = await call(API_KEY.OffsetForLeaderEpoch, 4, { replicaId: -1, topics: [{ topic: 'lo', partitions: [{ partition: 0, currentLeaderEpoch: -1, leaderEpoch: 0 }] }] });
  assert.deepEqual([epoch.topics[0].partitions[0].errorCode, epoch.topics[0].partitions[0].endOffset], [0, 5]);

  const cluster = await call(API_KEY.DescribeCluster, 1, { includeClusterAuthorizedOperations: false, endpointType: 1 });
  assert.equal(cluster.brokers[0].port, server.port);
  assert.equal(typeof cluster.clusterId, 'string');
  const coordinators = await call(API_KEY.FindCoordinator, 4, { key: '', keyType: 0, coordinatorKeys: ['a', 'b'] });
  assert.deepEqual(coordinators.coordinators.map((x: any) => [x.key, x.port, x.errorCode]), [['a', server.port, 0], ['b', server.port, 0]]);
});

test('metadata: auto-create on request, not when the client forbids it; topic ids; delete by id; validateOnly', async () => {
  const denied = await call(API_KEY.Metadata, 12, { topics: [{ topicId: Buffer.alloc(16), name: 'not-created' }], allowAutoTopicCreation: false, includeTopicAuthorizedOperations: false });
  assert.equal(denied.topics[0].errorCode, 3);
  const created = await call(API_KEY.Metadata, 12, { topics: [{ topicId: Buffer.alloc(16), name: 'auto-made' }], allowAutoTopicCreation: true, includeTopicAuthorizedOperations: false });
  assert.equal(created.topics[0].errorCode, 0);
  assert.equal(created.topics[0].partitions.length, 1);
  assert.equal(created.topics[0].partitions[0].leaderId, server.core.nodeId);
  assert.equal(created.brokers[0].nodeId, server.core.nodeId);
  const topicId = created.topics[0].topicId as Buffer;
  const byId = await call(API_KEY.Metadata, 12, { topics: [{ topicId, name: null }], allowAutoTopicCreation: false, includeTopicAuthorizedOperations: false });
  assert.equal(byId.topics[0].name, 'auto-made');
  const invalid = await call(API_KEY.Metadata, 9, { topics: [{ topicId: Buffer.alloc(16), name: 'bad name!' }], allowAutoTopicCreation: true, includeTopicAuthorizedOperations: false });
  assert.equal(invalid.topics[0].errorCode, 17);
  const coreOnly = await call(API_KEY.Metadata, 9, { topics: [{ topicId: Buffer.alloc(16), name: 'x=y' }], allowAutoTopicCreation: true, includeTopicAuthorizedOperations: false });
  assert.equal(coreOnly.topics[0].errorCode, 17, 'not creatable through Kafka');
  await server.core.topics.create('persistent://public/default/x=y', { partitions: 1 });
  const reachable = await call(API_KEY.Metadata, 9, { topics: [{ topicId: Buffer.alloc(16), name: 'x=y' }], allowAutoTopicCreation: false, includeTopicAuthorizedOperations: false });
  assert.equal(reachable.topics[0].errorCode, 0, 'but reachable when another protocol made it');

  const small = await call(API_KEY.CreateTopics, 5, {
    topics: [{ name: 'small', numPartitions: 1, replicationFactor: 1, assignments: [], configs: [{ name: 'max.message.bytes', value: '200' }, { name: 'cleanup.policy', value: 'compact' }] }],
    timeoutMs: 1000,
    validateOnly: false,
  });
  assert.equal(small.topics[0].errorCode, 0);
  assert.equal(small.topics[0].configs.find((c: any) => c.name === 'max.message.bytes').value, '200');
  assert.equal(server.core.topics.describe('persistent://public/default/small').policies.cleanupPolicy, 'compact');
  assert.equal((await produce('small', 0, encodeRecordBatch(messages(1, 1000)))).errorCode, 10, 'MESSAGE_TOO_LARGE');
  const exists = await call(API_KEY.CreateTopics, 5, { topics: [{ name: 'small', numPartitions: 1, replicationFactor: 1, assignments: [], configs: [] }], timeoutMs: 1000, validateOnly: false });
  assert.equal(exists.topics[0].errorCode, 36);

  const dry = await call(API_KEY.CreateTopics, 7, { topics: [{ name: 'dry', numPartitions: -1, replicationFactor: -1, assignments: [], configs: [] }], timeoutMs: 1000, validateOnly: true });
  assert.equal(dry.topics[0].errorCode, 0);
  assert.equal(server.core.topics.exists('persistent://public/default/dry'), false);

  const deleted = await call(API_KEY.DeleteTopics, 6, { topics: [{ name: null, topicId }], topicNames: [], timeoutMs: 1000 });
  assert.equal(deleted.responses[0].errorCode, 0);
  assert.equal(deleted.responses[0].name, 'auto-made');
  assert.equal(server.core.topics.exists('persistent://public/default/auto-made'), false);
});

test('group admin over the wire: v0 join, offsets, offset delete, describe, delete', async () => {
  await server.core.topics.create('persistent://public/default/gt', { partitions: 2 });
  const join = await call(API_KEY.JoinGroup, 0, {
    groupId: 'raw-g', sessionTimeoutMs: 10_000, rebalanceTimeoutMs: -1, memberId: '', groupInstanceId: null, protocolType: 'consumer',
    protocols: [{ name: 'range', metadata: Buffer.from([0, 0, 0, 0, 0, 1, 0, 2, 0x67, 0x74, 0xff, 0xff, 0xff, 0xff]) }], reason: null,
  });
  assert.equal(join.errorCode, 0, 'v0 joins without MEMBER_ID_REQUIRED');
  const sync = await call(API_KEY.SyncGroup, 0, { groupId: 'raw-g', generationId: join.generationId, memberId: join.memberId, groupInstanceId: null, protocolType: null, protocolName: null, assignments: [{ memberId: join.memberId, assignment: Buffer.from('x') }] });
  assert.equal(sync.errorCode, 0);
  const commit = await call(API_KEY.OffsetCommit, 8, {
    groupId: 'raw-g', generationIdOrMemberEpoch: join.generationId, memberId: join.memberId, groupInstanceId: null, retentionTimeMs: -1,
    topics: [{ name: 'gt', partitions: [0, 1].map((p) => ({ partitionIndex: p, committedOffset: 7 + p, committedLeaderEpoch: -1, commitTimestamp: -1, committedMetadata: 'm' })) }, { name: 'missing', partitions: [{ partitionIndex: 0, committedOffset: 1, committedLeaderEpoch: -1, commitTimestamp: -1, committedMetadata: null }] }],
  });
  assert.deepEqual(commit.topics.map((t: any) => t.partitions.map((p: any) => p.errorCode)), [[0, 0], [3]]);
  const stale = await call(API_KEY.OffsetCommit, 2, { groupId: 'raw-g', generationIdOrMemberEpoch: join.generationId + 5, memberId: join.memberId, groupInstanceId: null, retentionTimeMs: -1, topics: [{ name: 'gt', partitions: [{ partitionIndex: 0, committedOffset: 1, committedLeaderEpoch: -1, commitTimestamp: -1, committedMetadata: null }] }] });
  assert.equal(stale.topics[0].partitions[0].errorCode, 22);
  const fetched = await call(API_KEY.OffsetFetch, 8, { groupId: '', topics: [], groups: [{ groupId: 'raw-g', memberId: null, memberEpoch: -1, topics: null }], requireStable: false });
  assert.deepEqual(fetched.groups[0].topics[0].partitions.map((p: any) => [p.partitionIndex, p.committedOffset, p.metadata]), [[0, 7, 'm'], [1, 8, 'm']]);
  const subscribed = await call(API_KEY.OffsetDelete, 0, { groupId: 'raw-g', topics: [{ name: 'gt', partitions: [{ partitionIndex: 0 }] }] });
  assert.equal(subscribed.topics[0].partitions[0].errorCode, 86, 'GROUP_SUBSCRIBED_TO_TOPIC');
  const described = await call(API_KEY.DescribeGroups, 5, { groups: ['raw-g', 'none'], includeAuthorizedOperations: false });
  assert.deepEqual(described.groups.map((g: any) => g.groupState), ['Stable', 'Dead']);
  assert.equal(described.groups[0].members[0].memberAssignment.toString(), 'x');
  const busy = await call(API_KEY.DeleteGroups, 2, { groupsNames: ['raw-g'] });
  assert.equal(busy.results[0].errorCode, 68);
  const left = await call(API_KEY.LeaveGroup, 1, { groupId: 'raw-g', memberId: join.memberId, members: [] });
  assert.equal(left.errorCode, 0);
  const removed = await call(API_KEY.OffsetDelete, 0, { groupId: 'raw-g', topics: [{ name: 'gt', partitions: [{ partitionIndex: 0 }] }] });
  assert.equal(removed.topics[0].partitions[0].errorCode, 0);
  const listed = await call(API_KEY.ListGroups, 4, { statesFilter: ['Empty'] });
  assert.ok(listed.groups.some((g: any) => g.groupId === 'raw-g' && g.groupState === 'Empty'));
  const gone = await call(API_KEY.DeleteGroups, 2, { groupsNames: ['raw-g', 'never'] });
  assert.deepEqual(gone.results.map((r: any) => r.errorCode), [0, 69]);
  const after = await call(API_KEY.OffsetFetch, 1, { groupId: 'raw-g', topics: [{ name: 'gt', partitionIndexes: [1] }], groups: [], requireStable: false });
  assert.equal(after.topics[0].partitions[0].committedOffset, -1);
});

test('joinEntries: a view for back-to-back entries, chunks (no copy) otherwise', async () => {
  const { joinEntries } = await import('../src/apis/fetch.js');
  const backing = Buffer.from('aaabbbcccXddd');
  const contiguous = [backing.subarray(0, 3), backing.subarray(3, 6), backing.subarray(6, 9)].map((bytes) => ({ bytes }));
  const joined = joinEntries(contiguous);
  assert.ok(Buffer.isBuffer(joined));
  assert.equal(joined.toString(), 'aaabbbccc');
  assert.equal(joined.buffer, backing.buffer, 'no copy');
  const other = Buffer.from('eeefff');
  const gapped = [backing.subarray(0, 3), backing.subarray(3, 6), backing.subarray(10, 13), other.subarray(0, 3), other.subarray(3, 6)].map((bytes) => ({ bytes }));
  const chunks = joinEntries(gapped);
  assert.ok(Array.isArray(chunks));
  assert.deepEqual((chunks as Buffer[]).map((c) => c.toString()), ['aaabbb', 'ddd', 'eeefff'], 'back-to-back runs merged, gaps kept apart');
  for (const chunk of chunks as Buffer[]) assert.ok(chunk.buffer === backing.buffer || chunk.buffer === other.buffer, 'views, not copies');
  assert.equal(joinEntries([{ bytes: other }]), other);
});

/**
 * Fuzz through a live handler: seeded mutations of valid requests of many APIs and versions go
 * over real connections. Whatever decodes reaches the API logic with odd values (negative sizes,
 * huge counts and timeouts, unknown ids); the server must stay up, answer or close, and keep the
 * stored data intact. Bounded: a fixed number of requests, short waits.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createLogger, encodeRecordBatch, seededRandom } from '@strata/core';
import { API_KEY } from '../src/protocol/messages/index.js';
import { startKafkaServer, type KafkaTestServer } from './helpers/kafka-server.js';
import { RawClient } from './helpers/raw-client.js';

const SEED = Number(process.env['STRATA_FUZZ_SEED'] ?? 0x5eed);
const CONNECTIONS = 60;
const REQUESTS_PER_CONNECTION = 25;

let server: KafkaTestServer;
/** Errors the handler logged: a bug in API logic shows up here (it closes the connection too). */
const loggedErrors: string[] = [];

before(async () => {
  const logger = createLogger({ level: 'error', write: (line) => void loggedErrors.push(line) });
  server = await startKafkaServer({ logger, config: {
      autoCreateTopics: false, fetchWaitMsMax: 20, groupSessionTimeoutMsMax: 2_000, frameBytesMax: 1 << 20,
      // Every check runs (no ACL names anything, so all is allowed) and mutated ACL requests reach the authorizer.
      authorization: { allowIfNoAcl: true },
    } });
  await server.core.topics.create('persistent://public/default/fz', { partitions: 2 });
});

after(async () => {
  await server?.close();
});


function samples(): Array<[number, number, unknown]> {
  const batch = encodeRecordBatch([{ key: Buffer.from('k'), value: Buffer.from('v'), headers: [{ key: 'h', value: Buffer.from('x') }], timestamp: 1 }]);
  const partitions = (extra: object) => [{ partition: 0, ...extra }];
  const out: Array<[number, number, unknown]> = [];
  for (const v of [3, 7, 9]) out.push([API_KEY.Produce, v, { transactionalId: null, acks: 1, timeoutMs: 100, topicData: [{ name: 'fz', partitionData: [{ index: 0, records: batch }] }] }]);
  for (const v of [4, 11, 12]) {
    out.push([API_KEY.Fetch, v, {
      replicaId: -1, maxWaitMs: 10, minBytes: 1, maxBytes: 1 << 16, isolationLevel: 0, sessionId: 0, sessionEpoch: -1, clusterId: null,
      topics: [{ topic: 'fz', topicId: Buffer.alloc(16), partitions: partitions({ currentLeaderEpoch: -1, fetchOffset: 0, lastFetchedEpoch: -1, logStartOffset: -1, partitionMaxBytes: 1 << 16 }) }],
      forgottenTopicsData: [], rackId: '',
    }]);
  }
  for (const v of [0, 1, 4, 9, 12]) out.push([API_KEY.Metadata, v, { topics: [{ topicId: Buffer.alloc(16), name: 'fz' }], allowAutoTopicCreation: v < 4, includeClusterAuthorizedOperations: false, includeTopicAuthorizedOperations: false }]);
  for (const v of [0, 1, 7]) out.push([API_KEY.ListOffsets, v, { replicaId: -1, isolationLevel: 0, topics: [{ name: 'fz', partitions: [{ partitionIndex: 0, currentLeaderEpoch: -1, timestamp: -1, maxNumOffsets: 1 }] }] }]);
  for (const v of [2, 8]) {
    out.push([API_KEY.OffsetCommit, v, { groupId: 'fg', generationIdOrMemberEpoch: -1, memberId: '', groupInstanceId: null, retentionTimeMs: -1, topics: [{ name: 'fz', partitions: [{ partitionIndex: 0, committedOffset: 1, committedLeaderEpoch: -1, commitTimestamp: -1, committedMetadata: null }] }] }]);
  }
  for (const v of [1, 8]) out.push([API_KEY.OffsetFetch, v, { groupId: 'fg', topics: [{ name: 'fz', partitionIndexes: [0] }], groups: [{ groupId: 'fg', memberId: null, memberEpoch: -1, topics: null }], requireStable: false }]);
  for (const v of [0, 4]) out.push([API_KEY.FindCoordinator, v, { key: 'fg', keyType: 0, coordinatorKeys: ['fg'] }]);
  for (const v of [2, 5, 9]) {
    out.push([API_KEY.JoinGroup, v, { groupId: 'fj', sessionTimeoutMs: 1000, rebalanceTimeoutMs: 200, memberId: '', groupInstanceId: null, protocolType: 'consumer', protocols: [{ name: 'range', metadata: Buffer.from([0, 0, 0, 0, 0, 0]) }], reason: null }]);
  }
  out.push([API_KEY.SyncGroup, 3, { groupId: 'fj', generationId: 1, memberId: 'm', groupInstanceId: null, protocolType: null, protocolName: null, assignments: [{ memberId: 'm', assignment: Buffer.alloc(4) }] }]);
  out.push([API_KEY.Heartbeat, 4, { groupId: 'fj', generationId: 1, memberId: 'm', groupInstanceId: null }]);
  out.push([API_KEY.LeaveGroup, 5, { groupId: 'fj', memberId: 'm', members: [{ memberId: 'm', groupInstanceId: null, reason: null }] }]);
  out.push([API_KEY.DescribeGroups, 5, { groups: ['fj', 'fg'], includeAuthorizedOperations: false }]);
  out.push([API_KEY.ListGroups, 4, { statesFilter: ['Stable'], typesFilter: [] }]);
  out.push([API_KEY.DescribeConfigs, 4, { resources: [{ resourceType: 2, resourceName: 'fz', configurationKeys: null }], includeSynonyms: false, includeDocumentation: false }]);
  out.push([API_KEY.OffsetForLeaderEpoch, 4, { replicaId: -1, topics: [{ topic: 'fz', partitions: [{ partition: 0, currentLeaderEpoch: -1, leaderEpoch: 0 }] }] }]);
  out.push([API_KEY.InitProducerId, 4, { transactionalId: null, transactionTimeoutMs: 1000, producerId: -1, producerEpoch: -1 }]);
  // Transactions: the mutated ids, epochs and states reach the coordinator's checks.
  out.push([API_KEY.InitProducerId, 4, { transactionalId: 'ft', transactionTimeoutMs: 1000, producerId: -1, producerEpoch: -1 }]);
  for (const v of [0, 3]) {
    out.push([API_KEY.AddPartitionsToTxn, v, { v3AndBelowTransactionalId: 'ft', v3AndBelowProducerId: 1, v3AndBelowProducerEpoch: 0, v3AndBelowTopics: [{ name: 'fz', partitions: [0, 1] }] }]);
    out.push([API_KEY.AddOffsetsToTxn, v, { transactionalId: 'ft', producerId: 1, producerEpoch: 0, groupId: 'fg' }]);
    out.push([API_KEY.TxnOffsetCommit, v, { transactionalId: 'ft', groupId: 'fg', producerId: 1, producerEpoch: 0, generationId: -1, memberId: '', groupInstanceId: null, topics: [{ name: 'fz', partitions: [{ partitionIndex: 0, committedOffset: 1, committedLeaderEpoch: -1, committedMetadata: null }] }] }]);
    out.push([API_KEY.EndTxn, v, { transactionalId: 'ft', producerId: 1, producerEpoch: 0, committed: v === 0 }]);
  }
  const transactional = encodeRecordBatch([{ key: null, value: Buffer.from('t'), headers: [], timestamp: 1 }], { isTransactional: true, producer: { producerId: 1, producerEpoch: 0, baseSequence: 0 } });
  out.push([API_KEY.Produce, 9, { transactionalId: 'ft', acks: -1, timeoutMs: 100, topicData: [{ name: 'fz', partitionData: [{ index: 0, records: transactional }] }] }]);
  out.push([API_KEY.Fetch, 11, {
    replicaId: -1, maxWaitMs: 10, minBytes: 1, maxBytes: 1 << 16, isolationLevel: 1, sessionId: 0, sessionEpoch: -1, clusterId: null,
    topics: [{ topic: 'fz', topicId: Buffer.alloc(16), partitions: partitions({ currentLeaderEpoch: -1, fetchOffset: 0, lastFetchedEpoch: -1, logStartOffset: -1, partitionMaxBytes: 1 << 16 }) }],
    forgottenTopicsData: [], rackId: '',
  }]);
  const aclFilter = { resourceTypeFilter: 2, resourceNameFilter: 'fz', patternTypeFilter: 3, principalFilter: 'User:ANONYMOUS', hostFilter: '*', operation: 3, permissionType: 3 };
  out.push([API_KEY.DescribeAcls, 3, aclFilter]);
  out.push([API_KEY.DescribeProducers, 0, { topics: [{ name: 'fz', partitionIndexes: [0, 1] }] }]);
  out.push([API_KEY.DescribeTransactions, 0, { transactionalIds: ['ft', 'nobody'] }]);
  out.push([API_KEY.ListTransactions, 1, { stateFilters: ['Ongoing'], producerIdFilters: [1], durationFilter: -1 }]);
  out.push([API_KEY.CreateAcls, 3, { creations: [{ resourceType: 2, resourceName: 'fz', resourcePatternType: 3, principal: 'User:ANONYMOUS', host: '*', operation: 3, permissionType: 3 }] }]);
  out.push([API_KEY.DeleteAcls, 3, { filters: [aclFilter] }]);
  out.push([API_KEY.ApiVersions, 3, { clientSoftwareName: 'fuzz', clientSoftwareVersion: '1' }]);
  out.push([API_KEY.DescribeCluster, 1, { includeClusterAuthorizedOperations: false, endpointType: 1 }]);
  return out;
}

const ODD_NUMBERS = [-1, 0, 1, -2, 127, 32767, -32768, 2147483647, -2147483648];
const ODD_STRINGS = ['', 'fz', '..', 'x'.repeat(300), 'persistent://public/default/fz', 'a--b--c', 'fj', 'fg', '\u0000'];

/** Structured mutation: odd values in decodable requests, so they reach the API logic. */
function mutateValue(value: unknown, random: () => number): unknown {
  if (typeof value === 'number') return random() < 0.3 ? ODD_NUMBERS[Math.floor(random() * ODD_NUMBERS.length)] : value;
  if (typeof value === 'string') return random() < 0.3 ? ODD_STRINGS[Math.floor(random() * ODD_STRINGS.length)] : value;
  if (typeof value === 'boolean') return random() < 0.3 ? !value : value;
  if (Buffer.isBuffer(value)) return random() < 0.2 ? Buffer.alloc(Math.floor(random() * 20)) : value;
  if (Array.isArray(value)) {
    const out = value.map((v) => mutateValue(v, random));
    if (random() < 0.1) return [];
    if (random() < 0.1 && out.length > 0) return [...out, ...out];
    return out;
  }
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, mutateValue(v, random)]));
  }
  return value;
}

function mutate(frame: Buffer, random: () => number): Buffer {
  const out = Buffer.from(frame);
  const kind = random();
  if (kind < 0.1) {
    // truncate the body, keep the size prefix honest
    const keep = 4 + Math.floor(random() * (out.length - 4));
    const cut = out.subarray(0, keep);
    cut.writeInt32BE(keep - 4, 0);
    return cut;
  }
  const flips = 1 + Math.floor(random() * 4);
  for (let i = 0; i < flips; i++) {
    // never touch the size prefix or the api key (those have their own tests): bytes 0-5
    const at = 6 + Math.floor(random() * (out.length - 6));
    out[at] = random() < 0.5 ? Math.floor(random() * 256) : random() < 0.5 ? 0xff : 0x7f;
  }
  return out;
}

test('mutated requests of every API through live connections: the server survives, data intact', async () => {
  const random = seededRandom(SEED);
  const bases: Buffer[] = [];
  const valueMutated: Buffer[] = [];
  for (const [key, version, body] of samples()) {
    try {
      bases.push(RawClient.encode(key, version, 1, body));
    } catch {
      // a field this version cannot carry: that sample is for other versions
    }
    for (let i = 0; i < 40; i++) {
      try {
        valueMutated.push(RawClient.encode(key, version, 1, mutateValue(body, random)));
      } catch {
        // an odd value the field's type cannot carry
      }
    }
  }
  assert.ok(bases.length >= 25);
  assert.ok(valueMutated.length >= 500);
  let answered = 0;
  let closed = 0;
  for (let c = 0; c < CONNECTIONS; c++) {
    const client = await RawClient.connect(server.port);
    for (let i = 0; i < REQUESTS_PER_CONNECTION && !client.closed; i++) {
      client.send(
        random() < 0.92 ? valueMutated[Math.floor(random() * valueMutated.length)]! : mutate(bases[Math.floor(random() * bases.length)]!, random),
      );
      // Wait for the answer (or the close); a request may also legitimately get none in time
      // (acks=0, a join waiting for its rebalance).
      if ((await client.nextFrame(100)) !== null) answered++;
    }
    if (client.closed) closed++;
    client.close();
  }
  assert.deepEqual(loggedErrors, [], 'no API logic failed on odd but decodable input');
  assert.ok(answered > CONNECTIONS * 4, `many mutated requests were still valid and answered (${answered})`);
  assert.ok(closed > 0, 'some connections were closed for bad input');

  // Everyone else is unaffected: a fresh connection works, the control data is intact.
  const check = await RawClient.connect(server.port);
  try {
    check.request(API_KEY.ApiVersions, 0, 7, {});
    const versions = await check.response(API_KEY.ApiVersions, 0);
    assert.equal(versions?.correlationId, 7);
    const offsets = server.core.offsets('persistent://public/default/fz', 0);
    const read = await server.core.read('persistent://public/default/fz', 0, { offset: offsets.logStartOffset, maxBytes: 1 << 20 });
    assert.equal(read.entries.length > 0 ? read.entries[read.entries.length - 1]!.lastOffset + 1 : offsets.logStartOffset, offsets.highWatermark);
  } finally {
    check.close();
  }
});

/**
 * Kafka ACLs end to end with kafkajs over SASL PLAIN: ACLs from the config and through
 * CreateAcls/DescribeAcls/DeleteAcls, enforced on Metadata, CreateTopics, Produce, Fetch, groups,
 * ListOffsets and transactions; a change takes effect on open connections; stored ACLs survive a
 * restart; without `authorization` the ACL APIs answer SECURITY_DISABLED.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import kafkajs from 'kafkajs';
import { createScramCredential } from '../src/sasl/credentials.js';
import { KafkaErrorCode } from '../src/error-codes.js';
import { API_KEY } from '../src/protocol/messages/index.js';
import { RawClient } from './helpers/raw-client.js';
import { startKafkaServer, type KafkaTestServer } from './helpers/kafka-server.js';
import { withTimeout } from './helpers/wait.js';

const { Kafka, logLevel, AclResourceTypes, AclOperationTypes, AclPermissionTypes, ResourcePatternTypes } = kafkajs;
let server: KafkaTestServer;

before(async () => {
  const credential = (password: string) => createScramCredential('SCRAM-SHA-512', password);
  server = await startKafkaServer({
    config: {
      sasl: { mechanisms: ['PLAIN'], users: { admin: await credential('admin-pw'), alice: await credential('alice-pw'), bob: await credential('bob-pw') } },
      authorization: {
        superUsers: ['User:admin'],
        acls: [
          { principal: 'User:alice', operation: 'write', resourceType: 'topic', resourceName: 'alice-', patternType: 'prefixed' },
          { principal: 'User:alice', operation: 'read', resourceType: 'topic', resourceName: 'alice-', patternType: 'prefixed' },
          { principal: 'User:alice', operation: 'read', resourceType: 'group', resourceName: 'alice-group' },
        ],
      },
    },
  });
});

after(async () => {
  await server?.close();
});

function as(user: string): kafkajs.Kafka {
  return new Kafka({
    clientId: `acl-${user}`,
    brokers: [server.bootstrap],
    logLevel: logLevel.NOTHING,
    retry: { retries: 0 },
    sasl: { mechanism: 'plain', username: user, password: `${user}-pw` },
  });
}

/** kafkajs reports a refusal by its error type, or (Metadata refusals) in words: "Topic authorization failed". */
const refusedWith = (type: string) => (error: unknown) => {
  const words = type.toLowerCase().replace(/_/g, ' ');
  const e = error as Error & { type?: string; originalError?: Error & { type?: string }; cause?: Error & { type?: string } };
  const text = `${e.type ?? ''} ${e.cause?.type ?? ''} ${e.originalError?.type ?? ''} ${e.originalError?.message ?? ''} ${e.message}`;
  assert.ok(text.includes(type) || text.toLowerCase().includes(words), `${type} expected: ${text}`);
  return true;
};

test('ACLs from the config: a prefixed grant to produce and consume, refusals for the rest', async () => {
  const admin = as('admin').admin();
  await admin.connect();
  const alice = as('alice');
  const aliceAdmin = alice.admin();
  await aliceAdmin.connect();
  try {
    assert.equal(await admin.createTopics({ topics: [{ topic: 'alice-orders' }, { topic: 'secret' }] }), true, 'the super user creates topics');
    await assert.rejects(aliceAdmin.createTopics({ topics: [{ topic: 'alice-new' }] }), (error: Error & { errors?: Array<{ type: string }> }) => {
      assert.equal(error.errors?.[0]?.type, 'TOPIC_AUTHORIZATION_FAILED', error.message);
      return true;
    });
    const topics = await aliceAdmin.listTopics();
    assert.ok(topics.includes('alice-orders'));
    assert.ok(!topics.includes('secret'), 'listing shows only what the principal may DESCRIBE');

    const producer = alice.producer();
    await producer.connect();
    await producer.send({ topic: 'alice-orders', messages: [{ value: 'one' }, { value: 'two' }] });
    await assert.rejects(producer.send({ topic: 'secret', messages: [{ value: 'x' }] }), refusedWith('TOPIC_AUTHORIZATION_FAILED'));
    await producer.disconnect();

    const consumer = alice.consumer({ groupId: 'alice-group', maxWaitTimeInMs: 100 });
    await consumer.connect();
    await consumer.subscribe({ topic: 'alice-orders', fromBeginning: true });
    const values: string[] = [];
    await withTimeout(
      new Promise<void>((resolve) => {
        void consumer.run({
          eachMessage: async ({ message }) => {
            values.push(message.value!.toString());
            if (values.length === 2) resolve();
          },
        });
      }),
      15_000,
      () => `alice consumes: ${values.join(',')}`,
    );
    await consumer.disconnect();
    assert.deepEqual(values, ['one', 'two']);

    const otherGroup = alice.consumer({ groupId: 'not-alices', maxWaitTimeInMs: 100 });
    await otherGroup.connect();
    await otherGroup.subscribe({ topic: 'alice-orders', fromBeginning: true });
    const crashed = new Promise<Error>((resolve) => otherGroup.on(otherGroup.events.CRASH, (event) => resolve(event.payload.error)));
    void otherGroup.run({ eachMessage: async () => {} });
    const error = (await withTimeout(crashed, 15_000, () => 'group refusal')) as Error & { type?: string };
    // FindCoordinator answers GROUP_AUTHORIZATION_FAILED; kafkajs keeps only "Failed to find group coordinator".
    assert.match(`${error.type ?? ''} ${error.message}`, /GROUP_AUTHORIZATION_FAILED|group coordinator/i);
    await otherGroup.disconnect();

    const transactional = alice.producer({ transactionalId: 'alice-tx', idempotent: true, maxInFlightRequests: 1, retry: { retries: 1, initialRetryTime: 50 } });
    await transactional.connect();
    // FindCoordinator (key type 1) answers TRANSACTIONAL_ID_AUTHORIZATION_FAILED; kafkajs again keeps its own words.
    await assert.rejects(transactional.transaction(), (e: Error & { type?: string }) => /TRANSACTIONAL_ID_AUTHORIZATION_FAILED|group coordinator/i.test(`${e.type ?? ''} ${e.message}`));
    await transactional.disconnect();
  } finally {
    await aliceAdmin.disconnect();
    await admin.disconnect();
  }
});

test('CreateAcls, DescribeAcls and DeleteAcls through kafkajs: effective at once on open connections, kept across a restart', async () => {
  const admin = as('admin').admin();
  await admin.connect();
  const bob = as('bob').admin();
  await bob.connect();
  try {
    await admin.createTopics({ topics: [{ topic: 'shared' }] });
    await assert.rejects(bob.fetchTopicOffsets('shared'), refusedWith('TOPIC_AUTHORIZATION_FAILED'));
    await assert.rejects(bob.describeAcls({ resourceType: AclResourceTypes.ANY, resourcePatternType: ResourcePatternTypes.ANY, operation: AclOperationTypes.ANY, permissionType: AclPermissionTypes.ANY }), refusedWith('CLUSTER_AUTHORIZATION_FAILED'));

    const grant = {
      resourceType: AclResourceTypes.TOPIC,
      resourceName: 'shared',
      resourcePatternType: ResourcePatternTypes.LITERAL,
      principal: 'User:bob',
      host: '*',
      operation: AclOperationTypes.READ,
      permissionType: AclPermissionTypes.ALLOW,
    };
    await admin.createAcls({ acl: [grant] });
    const offsets = await bob.fetchTopicOffsets('shared'); // READ implies DESCRIBE (ListOffsets)
    assert.equal(offsets[0]!.high, '0');

    await admin.createAcls({ acl: [{ ...grant, operation: AclOperationTypes.DESCRIBE, permissionType: AclPermissionTypes.DENY }] });
    await assert.rejects(bob.fetchTopicOffsets('shared'), refusedWith('TOPIC_AUTHORIZATION_FAILED'), 'DENY wins');

    const described = await admin.describeAcls({
      resourceType: AclResourceTypes.TOPIC,
      resourceName: 'shared',
      resourcePatternType: ResourcePatternTypes.MATCH,
      operation: AclOperationTypes.ANY,
      permissionType: AclPermissionTypes.ANY,
    });
    assert.deepEqual(described.resources.map((r) => r.acls.map((a) => [a.principal, a.operation, a.permissionType]).sort()), [
      [
        ['User:bob', AclOperationTypes.READ, AclPermissionTypes.ALLOW],
        ['User:bob', AclOperationTypes.DESCRIBE, AclPermissionTypes.DENY],
      ],
    ]);

    await server.restart();
    const afterRestart = as('admin').admin();
    await afterRestart.connect();
    try {
      const again = await afterRestart.describeAcls({ resourceType: AclResourceTypes.ANY, resourcePatternType: ResourcePatternTypes.ANY, principal: 'User:bob', operation: AclOperationTypes.ANY, permissionType: AclPermissionTypes.ANY });
      assert.equal(again.resources[0]?.acls.length, 2, 'stored ACLs survive a restart');
      const deleted = await afterRestart.deleteAcls({
        filters: [{ resourceType: AclResourceTypes.TOPIC, resourceName: 'shared', resourcePatternType: ResourcePatternTypes.LITERAL, principal: 'User:bob', operation: AclOperationTypes.DESCRIBE, permissionType: AclPermissionTypes.DENY }],
      });
      assert.equal(deleted.filterResponses[0]!.matchingAcls.length, 1);
      const bobAgain = as('bob').admin();
      await bobAgain.connect();
      assert.equal((await bobAgain.fetchTopicOffsets('shared'))[0]!.high, '0', 'the DENY is gone');
      await bobAgain.disconnect();
    } finally {
      await afterRestart.disconnect();
    }
  } finally {
    await bob.disconnect().catch(() => {});
    await admin.disconnect().catch(() => {});
  }
});

test('without authorization configured the ACL APIs answer SECURITY_DISABLED and nothing is enforced', async () => {
  const plain = await startKafkaServer();
  const client = await RawClient.connect(plain.port);
  try {
    client.request(API_KEY.DescribeAcls, 3, 1, { resourceTypeFilter: 1, resourceNameFilter: null, patternTypeFilter: 1, principalFilter: null, hostFilter: null, operation: 1, permissionType: 1 });
    const response = await client.response(API_KEY.DescribeAcls, 3);
    assert.equal(response?.body.errorCode, KafkaErrorCode.SECURITY_DISABLED);
  } finally {
    client.close();
    await plain.close();
  }
});

test('every API refuses in its own terms without a grant (raw protocol, User:ANONYMOUS on a listener without SASL)', async () => {
  const locked = await startKafkaServer({
    config: { authorization: { acls: [{ principal: 'User:ANONYMOUS', operation: 'describe', resourceType: 'topic', resourceName: 'visible' }] } },
  });
  await locked.core.topics.create('persistent://public/default/visible', { partitions: 1 });
  await locked.core.topics.create('persistent://public/default/hidden', { partitions: 1 });
  const client = await RawClient.connect(locked.port);
  let correlationId = 0;
  const call = async (apiKey: number, version: number, body: unknown): Promise<any> => {
    client.request(apiKey, version, ++correlationId, body);
    const response = await client.response(apiKey, version, 10_000);
    assert.ok(response, `response to ${apiKey}`);
    return response.body;
  };
  const T = KafkaErrorCode.TOPIC_AUTHORIZATION_FAILED;
  const G = KafkaErrorCode.GROUP_AUTHORIZATION_FAILED;
  const C = KafkaErrorCode.CLUSTER_AUTHORIZATION_FAILED;
  const X = KafkaErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED;
  try {
    const metadata = await call(API_KEY.Metadata, 12, { topics: null, allowAutoTopicCreation: false, includeClusterAuthorizedOperations: false, includeTopicAuthorizedOperations: false });
    assert.deepEqual(metadata.topics.map((t: { name: string }) => t.name), ['visible'], 'listing: DESCRIBE only');
    const named = await call(API_KEY.Metadata, 9, { topics: [{ name: 'hidden' }, { name: 'visible' }, { name: 'nonexistent' }], allowAutoTopicCreation: true, includeClusterAuthorizedOperations: false, includeTopicAuthorizedOperations: false });
    assert.deepEqual(named.topics.map((t: { errorCode: number }) => t.errorCode), [T, 0, T], 'named: existence is not revealed, nothing auto-created');
    assert.equal(locked.core.topics.exists('persistent://public/default/nonexistent'), false);

    const batch = (await import('@strata/core')).encodeRecordBatch([{ key: null, value: Buffer.from('x'), headers: [], timestamp: 1 }]);
    const produced = await call(API_KEY.Produce, 9, { transactionalId: null, acks: -1, timeoutMs: 1000, topicData: [{ name: 'visible', partitionData: [{ index: 0, records: batch }] }] });
    assert.equal(produced.responses[0].partitionResponses[0].errorCode, T, 'Produce: WRITE (DESCRIBE is not enough)');
    const txProduce = await call(API_KEY.Produce, 9, { transactionalId: 'tx', acks: -1, timeoutMs: 1000, topicData: [{ name: 'visible', partitionData: [{ index: 0, records: batch }] }] });
    assert.equal(txProduce.responses[0].partitionResponses[0].errorCode, X);
    const fetched = await call(API_KEY.Fetch, 11, {
      replicaId: -1, maxWaitMs: 0, minBytes: 1, maxBytes: 1 << 16, isolationLevel: 0, sessionId: 0, sessionEpoch: -1,
      topics: [{ topic: 'visible', partitions: [{ partition: 0, currentLeaderEpoch: -1, fetchOffset: 0, lastFetchedEpoch: -1, logStartOffset: -1, partitionMaxBytes: 1 << 16 }] }],
      forgottenTopicsData: [], rackId: '',
    });
    assert.equal(fetched.responses[0].partitions[0].errorCode, T, 'Fetch: READ');
    const listed = await call(API_KEY.ListOffsets, 7, { replicaId: -1, isolationLevel: 0, topics: [{ name: 'visible', partitions: [{ partitionIndex: 0, currentLeaderEpoch: -1, timestamp: -1 }] }, { name: 'hidden', partitions: [{ partitionIndex: 0, currentLeaderEpoch: -1, timestamp: -1 }] }] });
    assert.deepEqual(listed.topics.map((t: { partitions: Array<{ errorCode: number }> }) => t.partitions[0]!.errorCode), [0, T], 'ListOffsets: DESCRIBE');
    assert.equal((await call(API_KEY.FindCoordinator, 3, { key: 'g', keyType: 0, coordinatorKeys: [] })).errorCode, G);
    assert.equal((await call(API_KEY.FindCoordinator, 3, { key: 'tx', keyType: 1, coordinatorKeys: [] })).errorCode, X);
    const join = await call(API_KEY.JoinGroup, 5, { groupId: 'g', sessionTimeoutMs: 10_000, rebalanceTimeoutMs: 10_000, memberId: '', groupInstanceId: null, protocolType: 'consumer', protocols: [{ name: 'range', metadata: Buffer.alloc(0) }] });
    assert.equal(join.errorCode, G);
    assert.equal((await call(API_KEY.Heartbeat, 3, { groupId: 'g', generationId: 1, memberId: 'm', groupInstanceId: null })).errorCode, G);
    const commit = await call(API_KEY.OffsetCommit, 8, { groupId: 'g', generationIdOrMemberEpoch: -1, memberId: '', groupInstanceId: null, topics: [{ name: 'visible', partitions: [{ partitionIndex: 0, committedOffset: 0, committedLeaderEpoch: -1, committedMetadata: null }] }] });
    assert.equal(commit.topics[0].partitions[0].errorCode, G);
    assert.equal((await call(API_KEY.OffsetFetch, 7, { groupId: 'g', topics: null, requireStable: false })).errorCode, G);
    assert.equal((await call(API_KEY.DescribeGroups, 5, { groups: ['g'], includeAuthorizedOperations: false })).groups[0].errorCode, G);
    assert.deepEqual((await call(API_KEY.ListGroups, 4, { statesFilter: [], typesFilter: [] })).groups, []);
    assert.equal((await call(API_KEY.DeleteGroups, 2, { groupsNames: ['g'] })).results[0].errorCode, G);
    const created = await call(API_KEY.CreateTopics, 7, { topics: [{ name: 'new', numPartitions: 1, replicationFactor: 1, assignments: [], configs: [] }], timeoutMs: 1000, validateOnly: false });
    assert.equal(created.topics[0].errorCode, T, 'CreateTopics: CREATE');
    assert.equal((await call(API_KEY.DeleteTopics, 6, { topics: [{ name: 'visible', topicId: Buffer.alloc(16) }], topicNames: [], timeoutMs: 1000 })).responses[0].errorCode, T);
    assert.equal((await call(API_KEY.CreatePartitions, 3, { topics: [{ name: 'visible', count: 2, assignments: null }], timeoutMs: 1000, validateOnly: false })).results[0].errorCode, T);
    assert.equal((await call(API_KEY.DeleteRecords, 2, { topics: [{ name: 'visible', partitions: [{ partitionIndex: 0, offset: 0 }] }], timeoutMs: 1000 })).topics[0].partitions[0].errorCode, T);
    assert.equal((await call(API_KEY.DescribeConfigs, 4, { resources: [{ resourceType: 2, resourceName: 'visible', configurationKeys: null }], includeSynonyms: false, includeDocumentation: false })).results[0].errorCode, T);
    assert.equal((await call(API_KEY.DescribeConfigs, 4, { resources: [{ resourceType: 4, resourceName: '', configurationKeys: null }], includeSynonyms: false, includeDocumentation: false })).results[0].errorCode, C);
    assert.equal((await call(API_KEY.IncrementalAlterConfigs, 1, { resources: [{ resourceType: 2, resourceName: 'visible', configs: [{ name: 'retention.ms', configOperation: 0, value: '1000' }] }], validateOnly: false })).responses[0].errorCode, T);
    assert.equal((await call(API_KEY.DescribeCluster, 1, { includeClusterAuthorizedOperations: false, endpointType: 1 })).errorCode, C);
    assert.equal((await call(API_KEY.InitProducerId, 4, { transactionalId: null, transactionTimeoutMs: 1000, producerId: -1, producerEpoch: -1 })).errorCode, C, 'idempotence: IDEMPOTENT_WRITE or WRITE on a topic');
    assert.equal((await call(API_KEY.InitProducerId, 4, { transactionalId: 'tx', transactionTimeoutMs: 1000, producerId: -1, producerEpoch: -1 })).errorCode, X);
    assert.equal((await call(API_KEY.EndTxn, 3, { transactionalId: 'tx', producerId: 1, producerEpoch: 0, committed: true })).errorCode, X);
    assert.equal((await call(API_KEY.AddOffsetsToTxn, 3, { transactionalId: 'tx', producerId: 1, producerEpoch: 0, groupId: 'g' })).errorCode, X);
    assert.equal((await call(API_KEY.CreateAcls, 3, { creations: [{ resourceType: 2, resourceName: 'x', resourcePatternType: 3, principal: 'User:ANONYMOUS', host: '*', operation: 2, permissionType: 3 }] })).results[0].errorCode, C, 'granting oneself needs ALTER on the cluster');
    assert.equal(locked.core.offsets('persistent://public/default/visible', 0).highWatermark, 0, 'nothing was written');
  } finally {
    client.close();
    await locked.close();
  }
});

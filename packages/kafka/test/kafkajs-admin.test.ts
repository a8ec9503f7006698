import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import kafkajs from 'kafkajs';
import { startKafkaServer, type KafkaTestServer } from './helpers/kafka-server.js';
import { withTimeout } from './helpers/wait.js';

const { Kafka, logLevel, ConfigResourceTypes } = kafkajs;
let server: KafkaTestServer;
let kafka: kafkajs.Kafka;

before(async () => {
  server = await startKafkaServer();
  kafka = new Kafka({ clientId: 'admin-test', brokers: [server.bootstrap], logLevel: logLevel.NOTHING, retry: { retries: 2, initialRetryTime: 50 } });
});

after(async () => {
  await server?.close();
});

async function consumeFrom(topic: string, partition: number, offset: string | null, count: number): Promise<Array<{ offset: string; value: string }>> {
  const consumer = kafka.consumer({ groupId: `seek-${Math.random()}`, maxWaitTimeInMs: 100 });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  const got: Array<{ offset: string; value: string }> = [];
  const done = new Promise<void>((resolve) => {
    void consumer.run({
      autoCommit: false,
      eachMessage: async ({ message, partition: p }) => {
        if (p !== partition || got.length >= count) return;
        got.push({ offset: message.offset, value: message.value!.toString() });
        if (got.length === count) resolve();
      },
    });
  });
  if (offset !== null) consumer.seek({ topic, partition, offset });
  await withTimeout(done, 15_000, () => `got ${got.length}/${count}`);
  await consumer.disconnect();
  return got;
}

test('kafkajs admin: configs, partitions, delete records, offsets by timestamp, seek, delete topics', async () => {
  const admin = kafka.admin();
  await admin.connect();
  try {
    await admin.createTopics({
      topics: [{ topic: 'admin-t', numPartitions: 1, configEntries: [{ name: 'retention.ms', value: '3600000' }] }],
    });
    assert.equal(await admin.createTopics({ topics: [{ topic: 'admin-t' }] }), false, 'already exists: not created again');
    await assert.rejects(admin.createTopics({ topics: [{ topic: 'bad', configEntries: [{ name: 'retention.ms', value: 'x' }] }] }));

    const describe = async () => {
      const r = await admin.describeConfigs({ includeSynonyms: false, resources: [{ type: ConfigResourceTypes.TOPIC, name: 'admin-t' }] });
      return new Map(r.resources[0]!.configEntries.map((e) => [e.configName, e.configValue]));
    };
    let configs = await describe();
    assert.equal(configs.get('retention.ms'), '3600000');
    assert.equal(configs.get('cleanup.policy'), 'delete');
    assert.ok(configs.has('retention.bytes'));
    assert.ok(configs.has('segment.bytes'));
    assert.ok(configs.has('max.message.bytes'));

    await admin.alterConfigs({
      validateOnly: false,
      resources: [{ type: ConfigResourceTypes.TOPIC, name: 'admin-t', configEntries: [{ name: 'cleanup.policy', value: 'compact' }, { name: 'retention.bytes', value: '1048576' }] }],
    });
    configs = await describe();
    assert.equal(configs.get('cleanup.policy'), 'compact');
    assert.equal(configs.get('retention.bytes'), '1048576');
    assert.notEqual(configs.get('retention.ms'), '3600000', 'AlterConfigs replaces the whole set');
    const core = server.core.topics.describe('persistent://public/default/admin-t');
    assert.equal(core.policies.cleanupPolicy, 'compact');
    assert.equal(core.policies.retentionBytes, 1048576);

    await admin.createPartitions({ topicPartitions: [{ topic: 'admin-t', count: 3 }] });
    const meta = await admin.fetchTopicMetadata({ topics: ['admin-t'] });
    assert.equal(meta.topics[0]!.partitions.length, 3);
    await assert.rejects(admin.createPartitions({ topicPartitions: [{ topic: 'admin-t', count: 2 }] }));

    const producer = kafka.producer();
    await producer.connect();
    const base = 1_800_000_000_000;
    for (let i = 0; i < 10; i++) {
      await producer.send({ topic: 'admin-t', messages: [{ key: `k${i}`, value: `v${i}`, partition: 0, timestamp: String(base + i * 1000) }] });
    }
    await producer.disconnect();

    const byTime = await admin.fetchTopicOffsetsByTimestamp('admin-t', base + 4500);
    assert.equal(byTime.find((p) => p.partition === 0)!.offset, '5');
    const fromSeek = await consumeFrom('admin-t', 0, '7', 3);
    assert.deepEqual(fromSeek.map((m) => m.value), ['v7', 'v8', 'v9']);

    await admin.deleteTopicRecords({ topic: 'admin-t', partitions: [{ partition: 0, offset: '6' }] });
    const offsets = await admin.fetchTopicOffsets('admin-t');
    const p0 = offsets.find((p) => p.partition === 0)!;
    assert.equal(p0.low, '6');
    assert.equal(p0.high, '10');
    const earliest = await consumeFrom('admin-t', 0, null, 4);
    assert.deepEqual(earliest.map((m) => m.value), ['v6', 'v7', 'v8', 'v9']);

    await admin.deleteTopics({ topics: ['admin-t'] });
    assert.ok(!(await admin.listTopics()).includes('admin-t'));
    assert.ok(!server.core.topics.exists('persistent://public/default/admin-t'));
  } finally {
    await admin.disconnect();
  }
});

test('kafkajs idempotent producer: sequences accepted, offsets dense', async () => {
  const admin = kafka.admin();
  await admin.connect();
  try {
    await admin.createTopics({ topics: [{ topic: 'idem', numPartitions: 2 }] });
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    for (let i = 0; i < 20; i++) {
      const [r] = await producer.send({ topic: 'idem', acks: -1, messages: [{ key: `k${i}`, value: `v${i}`, partition: i % 2 }] });
      assert.equal(r!.errorCode, 0);
    }
    await producer.disconnect();
    const offsets = await admin.fetchTopicOffsets('idem');
    assert.deepEqual(offsets.map((p) => p.high).sort(), ['10', '10']);
  } finally {
    await admin.disconnect();
  }
});

test('kafkajs: names in another namespace through the separator form', async () => {
  await server.core.namespaces.create('acme/billing');
  const admin = kafka.admin();
  await admin.connect();
  try {
    await admin.createTopics({ topics: [{ topic: 'acme--billing--orders' }] });
    assert.ok(server.core.topics.exists('persistent://acme/billing/orders'));
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({ topic: 'acme--billing--orders', messages: [{ value: 'hello' }] });
    await producer.disconnect();
    assert.equal(server.core.offsets('persistent://acme/billing/orders', 0).highWatermark, 1);
  } finally {
    await admin.disconnect();
  }
});

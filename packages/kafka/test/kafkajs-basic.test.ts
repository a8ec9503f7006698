import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import kafkajs from 'kafkajs';
import { registerKafkajsCodecs } from './helpers/kafkajs-codecs.js';
import { withTimeout } from './helpers/wait.js';
import { startKafkaServer, type KafkaTestServer } from './helpers/kafka-server.js';

const { CompressionTypes, Kafka, logLevel } = kafkajs;

let server: KafkaTestServer;
let kafka: kafkajs.Kafka;

before(async () => {
  registerKafkajsCodecs();
  server = await startKafkaServer();
  kafka = new Kafka({ clientId: 'kafkajs-test', brokers: [server.bootstrap], logLevel: logLevel.NOTHING, retry: { retries: 3, initialRetryTime: 50 } });
});

after(async () => {
  await server?.close();
});

test('kafkajs: create a topic, produce with every compression and acks, consume it all back', async () => {
  const admin = kafka.admin();
  await admin.connect();
  try {
    assert.equal(await admin.createTopics({ topics: [{ topic: 'basic', numPartitions: 2 }] }), true);
    assert.ok((await admin.listTopics()).includes('basic'));
    const producer = kafka.producer();
    await producer.connect();
    const sent: Array<{ key: string; value: string; header: string; timestamp: string }> = [];
    const compressions = [CompressionTypes.None, CompressionTypes.GZIP, CompressionTypes.Snappy, CompressionTypes.LZ4, CompressionTypes.ZSTD];
    let n = 0;
    for (const compression of compressions) {
      for (const acks of [1, -1, 0]) {
        const messages = [];
        for (let i = 0; i < 3; i++, n++) {
          const m = { key: `k${n}`, value: `v${n}-${'x'.repeat(n)}`, header: `h${n}`, timestamp: String(1_700_000_000_000 + n) };
          sent.push(m);
          messages.push({ key: m.key, value: m.value, headers: { h: m.header }, timestamp: m.timestamp, partition: n % 2 });
        }
        const result = await producer.send({ topic: 'basic', messages, acks, compression });
        if (acks !== 0) assert.ok(result.every((r) => r.errorCode === 0));
      }
    }
    await producer.disconnect();

    const consumer = kafka.consumer({ groupId: 'basic-group', sessionTimeout: 10_000, heartbeatInterval: 500, maxWaitTimeInMs: 200 });
    await consumer.connect();
    await consumer.subscribe({ topic: 'basic', fromBeginning: true });
    const received = new Map<string, { value: string; header: string; timestamp: string; offset: string; partition: number }>();
    const done = new Promise<void>((resolve) => {
      void consumer.run({
        eachMessage: async ({ message, partition }) => {
          received.set(message.key!.toString(), {
            value: message.value!.toString(),
            header: message.headers!['h']!.toString(),
            timestamp: message.timestamp,
            offset: message.offset,
            partition,
          });
          if (received.size === sent.length) resolve();
        },
      });
    });
    await withTimeout(done, 20_000, () => `got ${received.size}/${sent.length}`);
    await consumer.disconnect();
    for (const m of sent) {
      const got = received.get(m.key);
      assert.ok(got, m.key);
      assert.equal(got.value, m.value);
      assert.equal(got.header, m.header);
      assert.equal(got.timestamp, m.timestamp);
    }
    const offsets = await admin.fetchTopicOffsets('basic');
    assert.equal(offsets.reduce((sum, p) => sum + Number(p.high), 0), sent.length);
  } finally {
    await admin.disconnect();
  }
});

test('kafkajs reads messages other protocols wrote (core append kind messages, any compression)', async () => {
  const topic = 'persistent://public/default/cross';
  await server.core.topics.create(topic, { partitions: 1 });
  const compressions = ['none', 'gzip', 'snappy', 'lz4', 'zstd'] as const;
  for (const [i, compression] of compressions.entries()) {
    await server.core.append(topic, 0, {
      kind: 'messages',
      compression,
      messages: [{ key: Buffer.from(`k${i}`), value: Buffer.from(`from-core-${compression}`), headers: [{ key: 'origin', value: Buffer.from('mqtt') }], timestamp: 1_750_000_000_000 + i }],
    });
  }
  const consumer = kafka.consumer({ groupId: 'cross-group', maxWaitTimeInMs: 100, readUncommitted: true });
  await consumer.connect();
  await consumer.subscribe({ topic: 'cross', fromBeginning: true });
  const got: Array<{ key: string; value: string; origin: string; timestamp: string }> = [];
  await withTimeout(
    new Promise<void>((resolve) => {
      void consumer.run({
        eachMessage: async ({ message }) => {
          got.push({ key: message.key!.toString(), value: message.value!.toString(), origin: message.headers!['origin']!.toString(), timestamp: message.timestamp });
          if (got.length === compressions.length) resolve();
        },
      });
    }),
    15_000,
    () => `got ${got.length}`,
  );
  await consumer.disconnect();
  assert.deepEqual(got.map((m) => m.value), compressions.map((c) => `from-core-${c}`));
  assert.ok(got.every((m) => m.origin === 'mqtt'));
  assert.equal(got[4]!.timestamp, String(1_750_000_000_004));
});

test('kafkajs consumer from latest sees only new messages; a long poll is woken by an append', async () => {
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: 'latest' }] });
  await admin.disconnect();
  const producer = kafka.producer();
  await producer.connect();
  await producer.send({ topic: 'latest', messages: [{ value: 'old' }] });
  const consumer = kafka.consumer({ groupId: 'latest-group', maxWaitTimeInMs: 5_000 });
  await consumer.connect();
  await consumer.subscribe({ topic: 'latest', fromBeginning: false });
  const got: Array<{ value: string; at: number }> = [];
  let joined = false;
  consumer.on(consumer.events.GROUP_JOIN, () => (joined = true));
  const done = new Promise<void>((resolve) => {
    void consumer.run({
      eachMessage: async ({ message }) => {
        got.push({ value: message.value!.toString(), at: Date.now() });
        resolve();
      },
    });
  });
  await withTimeout(
    (async () => {
      while (!joined) await new Promise((r) => setTimeout(r, 20));
    })(),
    10_000,
    () => 'join',
  );
  await new Promise((r) => setTimeout(r, 300)); // the consumer is now parked in a 5 s long poll
  const sentAt = Date.now();
  await producer.send({ topic: 'latest', messages: [{ value: 'new' }] });
  await withTimeout(done, 10_000, () => 'no message');
  await consumer.disconnect();
  await producer.disconnect();
  assert.deepEqual(got.map((m) => m.value), ['new']);
  assert.ok(got[0]!.at - sentAt < 2_000, `woken by the append, not the 5 s timeout (${got[0]!.at - sentAt} ms)`);
});

/**
 * @platformatic/kafka speaks only modern, flexible versions (Metadata 9-12, Produce 9, Fetch 12,
 * JoinGroup 6-9, OffsetCommit/Fetch 8...): the flexible half of our codecs, end to end.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Admin, Consumer, Producer, stringDeserializers, stringSerializers } from '@platformatic/kafka';
import { startKafkaServer, type KafkaTestServer } from './helpers/kafka-server.js';
import { withTimeout } from './helpers/wait.js';

let server: KafkaTestServer;

before(async () => {
  server = await startKafkaServer();
});

after(async () => {
  await server?.close();
});

const TOPIC_RESOURCE = 2;

test('@platformatic/kafka: admin, produce with codecs and acks, group consume, configs, records', async () => {
  const base = { clientId: 'plt', bootstrapBrokers: [server.bootstrap], retries: 2, retryDelay: 50 };
  const admin = new Admin(base);
  const producer = new Producer({ ...base, serializers: stringSerializers });
  const idempotent = new Producer({ ...base, clientId: 'plt-idem', idempotent: true, serializers: stringSerializers });
  const consumer = new Consumer({ ...base, groupId: 'plt-group', deserializers: stringDeserializers, maxWaitTime: 200, sessionTimeout: 6000, heartbeatInterval: 300 } as any);
  try {
    await admin.createTopics({ topics: ['plt-t'], partitions: 2, replicas: 1 });
    assert.ok((await admin.listTopics()).includes('plt-t'));

    let sent = 0;
    // zstd: @platformatic/kafka needs Node's own zstd (Node >= 22.15); on Node 20 it refuses client-side.
    for (const compression of ['none', 'gzip', 'snappy', 'lz4'] as const) {
      for (const acks of [1, -1]) {
        await producer.send({
          acks,
          compression,
          messages: [0, 1].map((partition) => ({ topic: 'plt-t', partition, key: `k${sent}`, value: `${compression}-${sent++}`, headers: { c: compression } })),
        } as any);
      }
    }
    await idempotent.send({ acks: -1, messages: [{ topic: 'plt-t', partition: 0, key: 'idem', value: `idem-${sent++}` }] } as any);

    const stream = await consumer.consume({ topics: ['plt-t'], mode: 'earliest', autocommit: 100 } as any);
    const values: string[] = [];
    await withTimeout(
      new Promise<void>((resolve) => {
        stream.on('data', (message: any) => {
          values.push(message.value);
          if (values.length === sent) resolve();
        });
      }),
      20_000,
      () => `got ${values.length}/${sent}`,
    );
    assert.equal(new Set(values).size, sent);
    await stream.close();

    const groups = await admin.listGroups();
    assert.ok(groups.has('plt-group'));
    const described = await admin.describeGroups({ groups: ['plt-group'] });
    assert.ok(described.get('plt-group'));

    await admin.incrementalAlterConfigs({
      resources: [{ resourceType: TOPIC_RESOURCE, resourceName: 'plt-t', configs: [{ name: 'retention.ms', configOperation: 0, value: '120000' }] }],
    } as any);
    const configs = await admin.describeConfigs({ resources: [{ resourceType: TOPIC_RESOURCE, resourceName: 'plt-t', configurationKeys: ['retention.ms'] }] } as any);
    assert.equal((configs[0] as any).configs.find((c: any) => c.name === 'retention.ms').value, '120000');

    await admin.createPartitions({ topics: [{ name: 'plt-t', count: 3, assignments: [] }] } as any);
    assert.equal(server.core.topics.describe('persistent://public/default/plt-t').partitions, 3);

    await admin.deleteRecords({ topics: [{ name: 'plt-t', partitions: [{ partition: 0, offset: 2n }] }] } as any);
    const listed = await admin.listOffsets({ topics: [{ name: 'plt-t', partitions: [{ partitionIndex: 0, timestamp: -2n }] }] } as any);
    assert.equal((listed[0] as any).partitions[0].offset, 2n);

    await admin.deleteTopics({ topics: ['plt-t'] });
    assert.ok(!server.core.topics.exists('persistent://public/default/plt-t'));
  } finally {
    await Promise.resolve(consumer.close(true)).catch(() => {});
    await producer.close().catch(() => {});
    await idempotent.close().catch(() => {});
    await admin.close().catch(() => {});
  }
});

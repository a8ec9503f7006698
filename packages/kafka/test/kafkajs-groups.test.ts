import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { after, before, test } from 'node:test';
import kafkajs from 'kafkajs';
import { startKafkaServer, type KafkaTestServer } from './helpers/kafka-server.js';
import { waitUntil, withTimeout } from './helpers/wait.js';

const { Kafka, logLevel } = kafkajs;
let server: KafkaTestServer;
let kafka: kafkajs.Kafka;

before(async () => {
  server = await startKafkaServer();
  kafka = new Kafka({ clientId: 'groups-test', brokers: [server.bootstrap], logLevel: logLevel.NOTHING, retry: { retries: 5, initialRetryTime: 50 } });
});

after(async () => {
  await server?.close();
});

interface ChildConsumer {
  readonly process: ChildProcess;
  assignment: Record<string, number[]> | null;
  joins: number;
}

function startChild(groupId: string, topic: string): ChildConsumer {
  const script = fileURLToPath(new URL('./helpers/consumer-child.js', import.meta.url));
  const child: ChildConsumer = { process: spawn(process.execPath, [script, server.bootstrap, groupId, topic], { stdio: ['ignore', 'pipe', 'inherit'] }), assignment: null, joins: 0 };
  let buffered = '';
  child.process.stdout!.on('data', (chunk: Buffer) => {
    buffered += chunk.toString();
    let nl: number;
    while ((nl = buffered.indexOf('\n')) >= 0) {
      const line = JSON.parse(buffered.slice(0, nl)) as { type: string; assignment?: Record<string, number[]> };
      buffered = buffered.slice(nl + 1);
      if (line.type === 'join') {
        child.assignment = line.assignment ?? {};
        child.joins++;
      }
    }
  });
  return child;
}

function assigned(children: ChildConsumer[], topic: string): number[] {
  return children.flatMap((c) => c.assignment?.[topic] ?? []).sort((a, b) => a - b);
}

test('kafkajs group: members join, rebalance on join and on a killed member, admin sees the group', async () => {
  const admin = kafka.admin();
  await admin.connect();
  const children: ChildConsumer[] = [];
  try {
    await admin.createTopics({ topics: [{ topic: 'grouped', numPartitions: 4 }] });
    children.push(startChild('g1', 'grouped'), startChild('g1', 'grouped'));
    await waitUntil(() => children.every((c) => (c.assignment?.['grouped']?.length ?? 0) === 2), 20_000, () => JSON.stringify(children.map((c) => c.assignment)));
    assert.deepEqual(assigned(children, 'grouped'), [0, 1, 2, 3]);

    // A third member joins: everyone rebalances, the four partitions are spread over three.
    children.push(startChild('g1', 'grouped'));
    await waitUntil(
      () => children.every((c) => (c.assignment?.['grouped']?.length ?? 0) >= 1) && assigned(children, 'grouped').length === 4,
      20_000,
      () => JSON.stringify(children.map((c) => c.assignment)),
    );
    const described = await admin.describeGroups(['g1']);
    assert.equal(described.groups[0]!.state, 'Stable');
    assert.equal(described.groups[0]!.members.length, 3);
    assert.equal(described.groups[0]!.protocolType, 'consumer');
    const listed = await admin.listGroups();
    assert.ok(listed.groups.some((g) => g.groupId === 'g1'));

    // Kill one without LeaveGroup: its session (3 s) expires, the other two take its partitions.
    const victim = children.pop()!;
    victim.process.kill('SIGKILL');
    await waitUntil(
      () => children.every((c) => (c.assignment?.['grouped']?.length ?? 0) === 2) && assigned(children, 'grouped').length === 4,
      20_000,
      () => JSON.stringify(children.map((c) => c.assignment)),
    );
    assert.equal((await admin.describeGroups(['g1'])).groups[0]!.members.length, 2);

    // A group with members cannot be deleted.
    await assert.rejects(admin.deleteGroups(['g1']));
  } finally {
    for (const c of children) c.process.kill('SIGKILL');
    await admin.disconnect();
  }
});

test('kafkajs group: committed offsets survive a server restart; empty groups can be deleted', async () => {
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: 'durable', numPartitions: 1 }] });
  const producer = kafka.producer();
  await producer.connect();
  await producer.send({ topic: 'durable', messages: Array.from({ length: 10 }, (_, i) => ({ value: `m${i}` })) });
  await producer.disconnect();

  const consumeSome = async (count: number): Promise<string[]> => {
    const consumer = kafka.consumer({ groupId: 'g-durable', maxWaitTimeInMs: 100, sessionTimeout: 6_000, heartbeatInterval: 300 });
    await consumer.connect();
    await consumer.subscribe({ topic: 'durable', fromBeginning: true });
    const seen: string[] = [];
    await withTimeout(
      new Promise<void>((resolve) => {
        void consumer.run({
          autoCommit: false,
          eachMessage: async ({ message, partition }) => {
            if (seen.length >= count) return;
            seen.push(message.value!.toString());
            await consumer.commitOffsets([{ topic: 'durable', partition, offset: String(Number(message.offset) + 1) }]);
            if (seen.length === count) resolve();
          },
        });
      }),
      20_000,
      () => `saw ${seen.length}/${count}`,
    );
    await consumer.disconnect();
    return seen;
  };
  try {
    assert.deepEqual(await consumeSome(4), ['m0', 'm1', 'm2', 'm3']);
    await admin.disconnect();
    await server.restart();
    await admin.connect();
    const offsets = await admin.fetchOffsets({ groupId: 'g-durable', topics: ['durable'] });
    assert.equal(offsets[0]!.partitions[0]!.offset, '4');
    assert.deepEqual(await consumeSome(3), ['m4', 'm5', 'm6']);
    const listed = await admin.listGroups();
    assert.ok(listed.groups.some((g) => g.groupId === 'g-durable'));
    await admin.deleteGroups(['g-durable']);
    const after = await admin.fetchOffsets({ groupId: 'g-durable', topics: ['durable'] });
    assert.equal(after[0]!.partitions[0]!.offset, '-1');
  } finally {
    await admin.disconnect();
  }
});

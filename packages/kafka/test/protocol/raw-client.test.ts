import { test } from 'node:test';
import assert from 'node:assert/strict';
import { API_KEY, apis } from '../../src/protocol/messages/index.js';
import { Reader } from '../../src/protocol/reader.js';
import { FakeBroker } from './fake-broker.js';
import { KafkaTestClient } from './raw-client.js';

async function withBroker(run: (broker: FakeBroker, client: KafkaTestClient) => Promise<void>): Promise<void> {
  const broker = new FakeBroker({ advertised: new Map([[API_KEY.Metadata, [0, 12]], [API_KEY.Produce, [0, 9]]]), topics: ['t'] });
  await broker.start();
  const client = await KafkaTestClient.connect(broker.port, '127.0.0.1', { timeoutMs: 2_000 });
  try {
    await run(broker, client);
  } finally {
    client.close();
    await broker.close();
  }
}

test('typed requests in old and flexible versions, pipelined, answered in order', async () => {
  await withBroker(async (_broker, client) => {
    const [v0, v3, metadata1, metadata12] = await Promise.all([
      client.request('ApiVersions', 0, { clientSoftwareName: '', clientSoftwareVersion: '' }),
      client.request('ApiVersions', 3, { clientSoftwareName: 'strata-test', clientSoftwareVersion: '1' }),
      client.request('Metadata', 1, { topics: null, allowAutoTopicCreation: true, includeClusterAuthorizedOperations: false, includeTopicAuthorizedOperations: false }),
      client.request('Metadata', 12, { topics: [{ name: 't', topicId: Buffer.alloc(16) }], allowAutoTopicCreation: false, includeClusterAuthorizedOperations: false, includeTopicAuthorizedOperations: false }),
    ]);
    assert.equal(v0.errorCode, 0);
    assert.ok(v0.apiKeys?.some((k) => k.apiKey === API_KEY.Metadata && k.maxVersion === 12));
    assert.deepEqual(v3.apiKeys, v0.apiKeys);
    assert.equal(metadata1.topics?.[0].name, 't');
    assert.equal(metadata12.clusterId, 'fake-cluster');
    assert.equal(metadata12.brokers?.[0].nodeId, 0);
  });
});

test('requestRaw: an ApiVersions version we do not know is answered in the v0 format', async () => {
  await withBroker(async (_broker, client) => {
    const raw = await client.requestRaw(API_KEY.ApiVersions, 9, Buffer.from('00', 'hex'));
    const response = apis.ApiVersions.versions.get(0)!.decodeResponse(new Reader(raw.body));
    assert.equal(response.errorCode, 35);
  });
});

test('send (no response) then a request: the next response matches its own correlation id', async () => {
  await withBroker(async (broker, client) => {
    client.send('Produce', 3, { transactionalId: null, acks: 0, timeoutMs: 100, topicData: [{ name: 't', partitionData: [{ index: 0, records: null }] }] });
    const metadata = await client.request('Metadata', 1, { topics: [], allowAutoTopicCreation: true, includeClusterAuthorizedOperations: false, includeTopicAuthorizedOperations: false });
    assert.deepEqual(metadata.topics?.map((t) => t.name), ['t']);
    assert.ok(broker.captured.some((c) => c.apiKey === API_KEY.Produce));
  });
});

test('writeRaw garbage: the server closes, pending requests fail, waitForClose resolves', async () => {
  await withBroker(async (_broker, client) => {
    client.writeRaw(Buffer.from('7fffffff', 'hex')); // frame size above the fake broker's maximum
    await client.waitForClose(2_000);
    assert.equal(client.isClosed, true);
    await assert.rejects(client.requestRaw(API_KEY.ApiVersions, 0, Buffer.alloc(0)));
  });
});

test('a request that is never answered times out instead of hanging', async () => {
  await withBroker(async () => {
    const broker = new FakeBroker({ advertised: new Map(), topics: [] });
    await broker.start();
    const client = await KafkaTestClient.connect(broker.port, '127.0.0.1', { timeoutMs: 200 });
    try {
      // The fake broker answers nothing for Heartbeat.
      await assert.rejects(client.request('Heartbeat', 0, { groupId: 'g', generationId: 1, memberId: 'm', groupInstanceId: null }), /no response/);
    } finally {
      client.close();
      await broker.close();
    }
  });
});

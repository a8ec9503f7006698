import assert from 'node:assert/strict';
import { test } from 'node:test';
import { API_KEY } from '../src/protocol/messages/index.js';
import { startKafkaServer } from './helpers/kafka-server.js';
import { RawClient } from './helpers/raw-client.js';

test('advertised host and port come from config; node and cluster ids are stable across restarts', async () => {
  const server = await startKafkaServer({ config: { advertisedHost: 'kafka.example', advertisedPort: 19999 } });
  try {
    const ask = async () => {
      const c = await RawClient.connect(server.port);
      try {
        c.request(API_KEY.Metadata, 9, 1, { topics: null, allowAutoTopicCreation: false, includeClusterAuthorizedOperations: false, includeTopicAuthorizedOperations: false });
        const metadata = (await c.response(API_KEY.Metadata, 9))!.body;
        c.request(API_KEY.FindCoordinator, 1, 2, { key: 'g', keyType: 0, coordinatorKeys: [] });
        const coordinator = (await c.response(API_KEY.FindCoordinator, 1))!.body;
        return { metadata, coordinator };
      } finally {
        c.close();
      }
    };
    const before = await ask();
    assert.deepEqual(before.metadata.brokers, [{ nodeId: server.core.nodeId, host: 'kafka.example', port: 19999, rack: null }]);
    assert.equal(before.metadata.controllerId, server.core.nodeId);
    assert.deepEqual([before.coordinator.host, before.coordinator.port, before.coordinator.nodeId], ['kafka.example', 19999, server.core.nodeId]);
    assert.equal(server.handler.advertise()[0]!.host, 'kafka.example');
    await server.restart();
    const after = await ask();
    assert.equal(after.metadata.clusterId, before.metadata.clusterId);
    assert.equal(after.metadata.brokers[0].nodeId, before.metadata.brokers[0].nodeId);
  } finally {
    await server.close();
  }
});

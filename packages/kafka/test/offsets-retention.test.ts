import assert from 'node:assert/strict';
import { test } from 'node:test';
import { API_KEY } from '../src/protocol/messages/index.js';
import { startKafkaServer } from './helpers/kafka-server.js';
import { RawClient } from './helpers/raw-client.js';
import { waitUntil } from './helpers/wait.js';

test('offsets of an empty group expire after offsetsRetentionMs; a live group keeps them', async () => {
  const server = await startKafkaServer({ config: { offsetsRetentionMs: 300, offsetsRetentionCheckMs: 50 } });
  const c = await RawClient.connect(server.port);
  let id = 0;
  const call = async (apiKey: number, version: number, body: unknown): Promise<any> => {
    c.request(apiKey, version, ++id, body);
    return (await c.response(apiKey, version))!.body;
  };
  const commit = (groupId: string, generation: number, memberId: string) =>
    call(API_KEY.OffsetCommit, 8, {
      groupId, generationIdOrMemberEpoch: generation, memberId, groupInstanceId: null, retentionTimeMs: -1,
      topics: [{ name: 'kept', partitions: [{ partitionIndex: 0, committedOffset: 3, committedLeaderEpoch: -1, commitTimestamp: -1, committedMetadata: null }] }],
    });
  try {
    await server.core.topics.create('persistent://public/default/kept', { partitions: 1 });
    assert.equal((await commit('old', -1, '')).topics[0].partitions[0].errorCode, 0);
    const join = await call(API_KEY.JoinGroup, 0, {
      groupId: 'live', sessionTimeoutMs: 10_000, rebalanceTimeoutMs: -1, memberId: '', groupInstanceId: null, protocolType: 'consumer',
      protocols: [{ name: 'range', metadata: Buffer.alloc(6) }], reason: null,
    });
    await call(API_KEY.SyncGroup, 0, { groupId: 'live', generationId: join.generationId, memberId: join.memberId, groupInstanceId: null, protocolType: null, protocolName: null, assignments: [] });
    assert.equal((await commit('live', join.generationId, join.memberId)).topics[0].partitions[0].errorCode, 0);

    const keepAlive = setInterval(() => {}, 50);
    try {
      await waitUntil(async () => {
        const listed = await call(API_KEY.ListGroups, 4, { statesFilter: [] });
        return !listed.groups.some((g: any) => g.groupId === 'old');
      }, 5_000, () => 'old group offsets never expired');
    } finally {
      clearInterval(keepAlive);
    }
    const live = await call(API_KEY.OffsetFetch, 1, { groupId: 'live', topics: [{ name: 'kept', partitionIndexes: [0] }], groups: [], requireStable: false });
    assert.equal(live.topics[0].partitions[0].committedOffset, 3, 'a group with members keeps its offsets');
  } finally {
    c.close();
    await server.close();
  }
});

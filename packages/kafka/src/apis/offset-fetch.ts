/**
 * OffsetFetch (key 9) v0-8: committed offsets, -1 where none (v8 batches groups, KIP-709).
 * Topics null (v2+) means every partition the group has offsets for. With requireStable (v7+,
 * KIP-447: read_committed consumers), a partition whose offset an unfinished transaction is about to
 * commit is answered UNSTABLE_OFFSET_COMMIT, and the client asks again.
 */
import { KafkaErrorCode } from '../error-codes.js';
import { API_KEY } from '../protocol/messages/index.js';
import type { OffsetFetchRequest, OffsetFetchResponse } from '../protocol/messages/offset-fetch/types.js';
import { AclOperation } from '../acl/acl-types.js';
import { groupError, topicAllowed } from '../acl/checks.js';
import { defineApi, type RequestContext } from './api.js';
import { coreNameOf } from './topic-lookup.js';

const GROUPS_VERSION = 8;

interface FetchedTopic {
  name: string;
  partitions: Array<{ partitionIndex: number; committedOffset: number; committedLeaderEpoch: number; metadata: string | null; errorCode: number }>;
}

function fetchOffsets(
  ctx: RequestContext,
  groupId: string,
  topics: ReadonlyArray<{ name: string; partitionIndexes: readonly number[] }> | null,
  requireStable: boolean,
): FetchedTopic[] {
  const broker = ctx.broker;
  const errorOf = (topic: string, partition: number): number =>
    requireStable && broker.transactions.hasPendingOffset(groupId, topic, partition) ? KafkaErrorCode.UNSTABLE_OFFSET_COMMIT : KafkaErrorCode.NONE;
  if (topics === null) {
    const byTopic = new Map<string, FetchedTopic>();
    for (const { topic, partition, committed } of broker.offsets.list(groupId)) {
      let name: string;
      try {
        name = broker.naming.toKafka(topic);
      } catch {
        continue;
      }
      if (!topicAllowed(ctx, AclOperation.DESCRIBE, name, topic)) continue; // only what the principal may see
      let entry = byTopic.get(name);
      if (!entry) byTopic.set(name, (entry = { name, partitions: [] }));
      entry.partitions.push({
        partitionIndex: partition,
        committedOffset: committed.offset,
        committedLeaderEpoch: committed.leaderEpoch,
        metadata: committed.metadata ?? '',
        errorCode: errorOf(topic, partition),
      });
    }
    return [...byTopic.values()];
  }
  return topics.map((topic) => {
    const name = coreNameOf(broker, topic.name);
    const allowed = topicAllowed(ctx, AclOperation.DESCRIBE, topic.name, 'full' in name ? name.full : null);
    return {
      name: topic.name,
      partitions: topic.partitionIndexes.map((partitionIndex) => {
        if (!allowed) return { partitionIndex, committedOffset: -1, committedLeaderEpoch: -1, metadata: '', errorCode: KafkaErrorCode.TOPIC_AUTHORIZATION_FAILED };
        const committed = 'full' in name ? broker.offsets.get(groupId, name.full, partitionIndex) : undefined;
        return {
          partitionIndex,
          committedOffset: committed?.offset ?? -1,
          committedLeaderEpoch: committed?.leaderEpoch ?? -1,
          metadata: committed ? (committed.metadata ?? '') : '',
          errorCode: 'full' in name ? errorOf(name.full, partitionIndex) : KafkaErrorCode.NONE,
        };
      }),
    };
  });
}

export const offsetFetchApi = defineApi<OffsetFetchRequest, OffsetFetchResponse>({
  apiKey: API_KEY.OffsetFetch,
  name: 'OffsetFetch',
  minVersion: 0,
  maxVersion: 8,
  pipelined: false,
  handle(ctx, request) {
    const { apiVersion } = ctx;
    // ACLs: DESCRIBE on the group (GROUP_AUTHORIZATION_FAILED), then on each topic.
    if (apiVersion >= GROUPS_VERSION) {
      return {
        throttleTimeMs: 0,
        groups: request.groups.map((g) => {
          const errorCode = g.groupId === '' ? KafkaErrorCode.INVALID_GROUP_ID : groupError(ctx, AclOperation.DESCRIBE, g.groupId);
          return { groupId: g.groupId, topics: errorCode === KafkaErrorCode.NONE ? fetchOffsets(ctx, g.groupId, g.topics, request.requireStable) : [], errorCode };
        }),
      };
    }
    if (request.groupId === '') return { throttleTimeMs: 0, topics: [], errorCode: KafkaErrorCode.INVALID_GROUP_ID };
    const denied = groupError(ctx, AclOperation.DESCRIBE, request.groupId);
    if (denied !== KafkaErrorCode.NONE) return { throttleTimeMs: 0, topics: [], errorCode: denied };
    return { throttleTimeMs: 0, topics: fetchOffsets(ctx, request.groupId, request.topics, apiVersion >= 7 && request.requireStable), errorCode: KafkaErrorCode.NONE };
  },
  errorResponse: (_ctx, request, errorCode) => ({
    errorCode,
    topics: [],
    groups: (request?.groups ?? []).map((g) => ({ groupId: g.groupId, topics: [], errorCode })),
  }),
});

/**
 * OffsetDelete (key 47) v0 (KIP-496): removes committed offsets of partitions the group no longer
 * consumes; GROUP_SUBSCRIBED_TO_TOPIC while a live member subscribes to the topic.
 */
import { KafkaErrorCode } from '../error-codes.js';
import { kafkaErrorCodeOf } from '../errors.js';
import { API_KEY } from '../protocol/messages/index.js';
import type { OffsetDeleteRequest, OffsetDeleteResponse } from '../protocol/messages/offset-delete/types.js';
import { AclOperation } from '../acl/acl-types.js';
import { topicAllowed, groupError } from '../acl/checks.js';
import { defineApi } from './api.js';
import { coreNameOf } from './topic-lookup.js';

export const offsetDeleteApi = defineApi<OffsetDeleteRequest, OffsetDeleteResponse>({
  apiKey: API_KEY.OffsetDelete,
  name: 'OffsetDelete',
  minVersion: 0,
  maxVersion: 0,
  pipelined: false,
  // ACLs: DELETE on the group; READ on each topic (Kafka's OffsetDelete rules).
  authorize: (ctx, request) => groupError(ctx, AclOperation.DELETE, request.groupId),
  async handle(ctx, request) {
    const broker = ctx.broker;
    const state = broker.groups.state(request.groupId);
    if (state === null && !broker.offsets.hasOffsets(request.groupId)) {
      return { errorCode: KafkaErrorCode.GROUP_ID_NOT_FOUND, throttleTimeMs: 0, topics: [] };
    }
    const subscribed = broker.groups.subscribedTopics(request.groupId);
    const toDelete: Array<{ topic: string; partition: number }> = [];
    const topics = request.topics.map((t) => {
      const name = coreNameOf(broker, t.name);
      return {
        name: t.name,
        partitions: t.partitions.map((p) => {
          let errorCode: number = KafkaErrorCode.NONE;
          if (!topicAllowed(ctx, AclOperation.READ, t.name, 'full' in name ? name.full : null)) errorCode = KafkaErrorCode.TOPIC_AUTHORIZATION_FAILED;
          else if ('errorCode' in name) errorCode = name.errorCode;
          else if (subscribed?.has(t.name)) errorCode = KafkaErrorCode.GROUP_SUBSCRIBED_TO_TOPIC;
          else toDelete.push({ topic: name.full, partition: p.partitionIndex });
          return { partitionIndex: p.partitionIndex, errorCode };
        }),
      };
    });
    try {
      if (toDelete.length > 0) await broker.offsets.delete(request.groupId, toDelete);
    } catch (error) {
      return { errorCode: kafkaErrorCodeOf(error), throttleTimeMs: 0, topics: [] };
    }
    return { errorCode: KafkaErrorCode.NONE, throttleTimeMs: 0, topics };
  },
  errorResponse: (_ctx, _request, errorCode) => ({ errorCode, topics: [] }),
});

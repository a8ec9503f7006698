/**
 * OffsetForLeaderEpoch (key 23) v0-4 (KIP-101/KIP-320): there has only ever been one leader epoch
 * (0), so the end offset of any epoch asked for is the log end offset.
 */
import { KafkaErrorCode } from '../error-codes.js';
import { kafkaErrorCodeOf } from '../errors.js';
import { API_KEY } from '../protocol/messages/index.js';
import type { OffsetForLeaderEpochRequest, OffsetForLeaderEpochResponse } from '../protocol/messages/offset-for-leader-epoch/types.js';
import { AclOperation } from '../acl/acl-types.js';
import { topicAllowed } from '../acl/checks.js';
import { defineApi } from './api.js';
import { lookupTopic, partitionError } from './topic-lookup.js';

export const offsetForLeaderEpochApi = defineApi<OffsetForLeaderEpochRequest, OffsetForLeaderEpochResponse>({
  apiKey: API_KEY.OffsetForLeaderEpoch,
  name: 'OffsetForLeaderEpoch',
  minVersion: 0,
  maxVersion: 4,
  pipelined: false,
  handle: (ctx, request) => ({
    throttleTimeMs: 0,
    topics: request.topics.map((topic) => {
      const broker = ctx.broker;
      const lookup = lookupTopic(broker, topic.topic);
      const allowed = topicAllowed(ctx, AclOperation.DESCRIBE, topic.topic, lookup.full);
      return {
        topic: topic.topic,
        partitions: topic.partitions.map((p) => {
          let errorCode = allowed ? partitionError(lookup, p.partition) : KafkaErrorCode.TOPIC_AUTHORIZATION_FAILED;
          let endOffset = -1;
          if (errorCode === KafkaErrorCode.NONE && lookup.ok) {
            try {
              endOffset = broker.core.offsets(lookup.full, p.partition).highWatermark;
            } catch (error) {
              errorCode = kafkaErrorCodeOf(error);
            }
          }
          return { errorCode, partition: p.partition, leaderEpoch: errorCode === KafkaErrorCode.NONE ? 0 : -1, endOffset };
        }),
      };
    }),
  }),
  errorResponse: (_ctx, request, errorCode) => ({
    topics: (request?.topics ?? []).map((t) => ({ topic: t.topic, partitions: t.partitions.map((p) => ({ errorCode, partition: p.partition })) })),
  }),
});

/** CreatePartitions (key 37) v0-3: grows a topic's partition count (never shrinks: INVALID_PARTITIONS). */
import { KafkaErrorCode } from '../error-codes.js';
import { errorMessageOf, kafkaErrorCodeOf } from '../errors.js';
import { API_KEY } from '../protocol/messages/index.js';
import type { CreatePartitionsRequest, CreatePartitionsResponse } from '../protocol/messages/create-partitions/types.js';
import { AclOperation } from '../acl/acl-types.js';
import { topicAllowed } from '../acl/checks.js';
import { defineApi } from './api.js';
import { lookupTopic } from './topic-lookup.js';

export const createPartitionsApi = defineApi<CreatePartitionsRequest, CreatePartitionsResponse>({
  apiKey: API_KEY.CreatePartitions,
  name: 'CreatePartitions',
  minVersion: 0,
  maxVersion: 3,
  pipelined: false,
  async handle(ctx, request) {
    const broker = ctx.broker;
    const results = [];
    for (const topic of request.topics) {
      const lookup = lookupTopic(broker, topic.name);
      // ACLs: ALTER on the topic.
      if (!topicAllowed(ctx, AclOperation.ALTER, topic.name, lookup.full)) {
        results.push({ name: topic.name, errorCode: KafkaErrorCode.TOPIC_AUTHORIZATION_FAILED, errorMessage: null });
        continue;
      }
      if (!lookup.ok) {
        results.push({ name: topic.name, errorCode: lookup.errorCode, errorMessage: null });
        continue;
      }
      if (topic.count <= lookup.description.partitions) {
        results.push({
          name: topic.name,
          errorCode: KafkaErrorCode.INVALID_PARTITIONS,
          errorMessage: `topic has ${lookup.description.partitions} partitions; the new count must be larger`,
        });
        continue;
      }
      try {
        if (!request.validateOnly) await broker.core.topics.setPartitionCount(lookup.full, topic.count);
        results.push({ name: topic.name, errorCode: KafkaErrorCode.NONE, errorMessage: null });
      } catch (error) {
        results.push({ name: topic.name, errorCode: kafkaErrorCodeOf(error), errorMessage: errorMessageOf(error) });
      }
    }
    return { throttleTimeMs: 0, results };
  },
  errorResponse: (_ctx, request, errorCode) => ({ results: (request?.topics ?? []).map((t) => ({ name: t.name, errorCode })) }),
});

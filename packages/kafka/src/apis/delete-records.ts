/** DeleteRecords (key 21) v0-2: moves the log start offset up; offset -1 means the high watermark. */
import { KafkaErrorCode } from '../error-codes.js';
import { kafkaErrorCodeOf } from '../errors.js';
import { API_KEY } from '../protocol/messages/index.js';
import type { DeleteRecordsRequest, DeleteRecordsResponse } from '../protocol/messages/delete-records/types.js';
import { AclOperation } from '../acl/acl-types.js';
import { topicAllowed } from '../acl/checks.js';
import { defineApi } from './api.js';
import { lookupTopic, partitionError } from './topic-lookup.js';

export const deleteRecordsApi = defineApi<DeleteRecordsRequest, DeleteRecordsResponse>({
  apiKey: API_KEY.DeleteRecords,
  name: 'DeleteRecords',
  minVersion: 0,
  maxVersion: 2,
  pipelined: false,
  async handle(ctx, request) {
    const broker = ctx.broker;
    const topics = [];
    for (const topic of request.topics) {
      const lookup = lookupTopic(broker, topic.name);
      const partitions = [];
      // ACLs: DELETE on the topic.
      const allowed = topicAllowed(ctx, AclOperation.DELETE, topic.name, lookup.full);
      for (const p of topic.partitions) {
        let errorCode = allowed ? partitionError(lookup, p.partitionIndex) : KafkaErrorCode.TOPIC_AUTHORIZATION_FAILED;
        let lowWatermark = -1;
        if (errorCode === KafkaErrorCode.NONE && lookup.ok) {
          try {
            const offsets = broker.core.offsets(lookup.full, p.partitionIndex);
            const before = p.offset === -1 ? offsets.highWatermark : p.offset;
            if (before < 0 || before > offsets.highWatermark) errorCode = KafkaErrorCode.OFFSET_OUT_OF_RANGE;
            else lowWatermark = await broker.core.deleteRecordsBefore(lookup.full, p.partitionIndex, before);
          } catch (error) {
            errorCode = kafkaErrorCodeOf(error);
          }
        }
        partitions.push({ partitionIndex: p.partitionIndex, lowWatermark, errorCode });
      }
      topics.push({ name: topic.name, partitions });
    }
    return { throttleTimeMs: 0, topics };
  },
  errorResponse: (_ctx, request, errorCode) => ({
    topics: (request?.topics ?? []).map((t) => ({ name: t.name, partitions: t.partitions.map((p) => ({ partitionIndex: p.partitionIndex, lowWatermark: -1, errorCode })) })),
  }),
});

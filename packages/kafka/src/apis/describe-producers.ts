/**
 * DescribeProducers (key 61) v0 (KIP-664): the producers each partition remembers — epoch, last
 * sequence and the first offset of a transaction still open there — what `kafka-transactions.sh
 * find-hanging` looks at. No per-producer timestamp is kept (lastTimestamp -1); coordinator epoch
 * is always 0 here. ACLs: READ on the topic, as Kafka.
 */
import { AclOperation } from '../acl/acl-types.js';
import { topicAllowed } from '../acl/checks.js';
import { KafkaErrorCode } from '../error-codes.js';
import { kafkaErrorCodeOf } from '../errors.js';
import { API_KEY } from '../protocol/messages/index.js';
import type { DescribeProducersRequest, DescribeProducersResponse } from '../protocol/messages/describe-producers/types.js';
import { defineApi } from './api.js';
import { lookupTopic, partitionError } from './topic-lookup.js';

export const describeProducersApi = defineApi<DescribeProducersRequest, DescribeProducersResponse>({
  apiKey: API_KEY.DescribeProducers,
  name: 'DescribeProducers',
  minVersion: 0,
  maxVersion: 0,
  pipelined: false,
  handle(ctx, request) {
    return {
      throttleTimeMs: 0,
      topics: request.topics.map((topic) => {
        const lookup = lookupTopic(ctx.broker, topic.name);
        const allowed = topicAllowed(ctx, AclOperation.READ, topic.name, lookup.full);
        return {
          name: topic.name,
          partitions: topic.partitionIndexes.map((partitionIndex) => {
            const errorCode = allowed ? partitionError(lookup, partitionIndex) : KafkaErrorCode.TOPIC_AUTHORIZATION_FAILED;
            if (errorCode !== KafkaErrorCode.NONE || !lookup.ok) return { partitionIndex, errorCode, errorMessage: null, activeProducers: [] };
            try {
              const activeProducers = ctx.broker.core.producers(lookup.full, partitionIndex).map((p) => ({
                producerId: p.producerId,
                producerEpoch: p.producerEpoch,
                lastSequence: p.lastSequence,
                lastTimestamp: -1,
                coordinatorEpoch: 0,
                currentTxnStartOffset: p.currentTransactionStartOffset,
              }));
              return { partitionIndex, errorCode: KafkaErrorCode.NONE, errorMessage: null, activeProducers };
            } catch (error) {
              return { partitionIndex, errorCode: kafkaErrorCodeOf(error), errorMessage: null, activeProducers: [] };
            }
          }),
        };
      }),
    };
  },
  errorResponse: (_ctx, request, errorCode) => ({
    topics: (request?.topics ?? []).map((t) => ({ name: t.name, partitions: t.partitionIndexes.map((partitionIndex) => ({ partitionIndex, errorCode, activeProducers: [] })) })),
  }),
});

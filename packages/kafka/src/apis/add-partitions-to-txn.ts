/**
 * AddPartitionsToTxn (key 24) v0-3 (KIP-98): the producer will write these partitions in its
 * transaction. All or nothing, as in Kafka: a partition that does not exist gets its error and
 * every other partition of the request OPERATION_NOT_ATTEMPTED. v4+ (broker-to-broker batches,
 * KIP-890) is not advertised.
 */
import { KafkaErrorCode } from '../error-codes.js';
import { API_KEY } from '../protocol/messages/index.js';
import type { AddPartitionsToTxnRequest, AddPartitionsToTxnResponse } from '../protocol/messages/add-partitions-to-txn/types.js';
import type { TopicPartition } from '../transactions/transaction-coordinator.js';
import { AclOperation } from '../acl/acl-types.js';
import { topicAllowed, transactionalIdError } from '../acl/checks.js';
import { defineApi } from './api.js';
import { lookupTopic, partitionError } from './topic-lookup.js';

function answer(request: AddPartitionsToTxnRequest | null, errorOf: (topic: string, partition: number) => number): AddPartitionsToTxnResponse {
  return {
    throttleTimeMs: 0,
    resultsByTopicV3AndBelow: (request?.v3AndBelowTopics ?? []).map((topic) => ({
      name: topic.name,
      resultsByPartition: topic.partitions.map((partitionIndex) => ({ partitionIndex, partitionErrorCode: errorOf(topic.name, partitionIndex) })),
    })),
  };
}

export const addPartitionsToTxnApi = defineApi<AddPartitionsToTxnRequest, AddPartitionsToTxnResponse>({
  apiKey: API_KEY.AddPartitionsToTxn,
  name: 'AddPartitionsToTxn',
  minVersion: 0,
  maxVersion: 3,
  pipelined: false,
  // ACLs: WRITE on the transactional id (every partition refused), then WRITE on each topic.
  authorize: (ctx, request) => transactionalIdError(ctx, AclOperation.WRITE, request.v3AndBelowTransactionalId),
  async handle(ctx, request) {
    const broker = ctx.broker;
    const partitions: TopicPartition[] = [];
    const refused = new Map<string, number>();
    for (const topic of request.v3AndBelowTopics) {
      const lookup = lookupTopic(broker, topic.name);
      const allowed = topicAllowed(ctx, AclOperation.WRITE, topic.name, lookup.full);
      for (const partition of topic.partitions) {
        const errorCode = allowed ? partitionError(lookup, partition) : KafkaErrorCode.TOPIC_AUTHORIZATION_FAILED;
        if (errorCode !== KafkaErrorCode.NONE || !lookup.ok) refused.set(`${topic.name}\u0000${partition}`, errorCode);
        else partitions.push({ topic: lookup.full, partition });
      }
    }
    if (refused.size > 0) {
      return answer(request, (topic, partition) => refused.get(`${topic}\u0000${partition}`) ?? KafkaErrorCode.OPERATION_NOT_ATTEMPTED);
    }
    const errorCode = await broker.transactions.addPartitions(
      request.v3AndBelowTransactionalId,
      request.v3AndBelowProducerId,
      request.v3AndBelowProducerEpoch,
      partitions,
    );
    return answer(request, () => errorCode);
  },
  errorResponse: (_ctx, request, errorCode) => answer(request, () => errorCode),
});

/**
 * Metadata (key 3) v0-12: we are the only broker, the leader of every partition, its only replica.
 * Topics are auto-created when the config and the client (v4+ allowAutoTopicCreation) both allow it.
 * v0: an empty topic list means all topics; v1+: null means all (empty means none).
 * With ACLs: listing all topics shows those the principal may DESCRIBE; a named topic it may not
 * DESCRIBE is TOPIC_AUTHORIZATION_FAILED (existing or not); auto-creation needs CREATE on the
 * cluster or the topic, else UNKNOWN_TOPIC_OR_PARTITION (Kafka's rules).
 */
import { isStrataError } from '@strata/core';
import { topicIdOf, type KafkaBroker } from '../broker.js';
import { KafkaErrorCode } from '../error-codes.js';
import { kafkaErrorCodeOf } from '../errors.js';
import { API_KEY } from '../protocol/messages/index.js';
import type { MetadataRequest, MetadataResponse } from '../protocol/messages/metadata/types.js';
import type { Elem } from './elem.js';
import { AclOperation } from '../acl/acl-types.js';
import { clusterAllowed, topicAllowed } from '../acl/checks.js';
import { defineApi, type RequestContext } from './api.js';
import { coreNameOf, isCreatableName } from './topic-lookup.js';

type MetadataResponseTopic = Elem<MetadataResponse['topics']>;

export function brokersOf(broker: KafkaBroker) {
  return [{ nodeId: broker.nodeId, host: broker.host, port: broker.port, rack: null }];
}

/** Creates a topic with the defaults unless it exists (a concurrent creator is fine). */
export async function autoCreateTopic(broker: KafkaBroker, full: string): Promise<void> {
  try {
    await broker.core.topics.create(full, { partitions: broker.config.defaultPartitions });
    broker.logger.info('auto-created topic', { topic: full });
  } catch (error) {
    if (!isStrataError(error, 'TOPIC_EXISTS')) throw error;
  }
}

function describeTopic(broker: KafkaBroker, kafkaName: string, full: string): MetadataResponseTopic {
  const description = broker.core.topics.describe(full);
  const partitions = [];
  for (let i = 0; i < description.partitions; i++) {
    partitions.push({
      errorCode: KafkaErrorCode.NONE,
      partitionIndex: i,
      leaderId: broker.nodeId,
      leaderEpoch: -1, // no leader changes here: -1 tells clients to skip epoch validation (KIP-320)
      replicaNodes: [broker.nodeId],
      isrNodes: [broker.nodeId],
      offlineReplicas: [],
    });
  }
  return { errorCode: KafkaErrorCode.NONE, name: kafkaName, topicId: topicIdOf(full, description.createdAtMs), isInternal: false, partitions };
}

async function topicMetadata(ctx: RequestContext, kafkaName: string, allowAutoCreate: boolean): Promise<MetadataResponseTopic> {
  const broker = ctx.broker;
  const name = coreNameOf(broker, kafkaName);
  if (!topicAllowed(ctx, AclOperation.DESCRIBE, kafkaName, 'full' in name ? name.full : null)) {
    return { errorCode: KafkaErrorCode.TOPIC_AUTHORIZATION_FAILED, name: kafkaName, partitions: [] };
  }
  if ('errorCode' in name) return { errorCode: name.errorCode, name: kafkaName, partitions: [] };
  try {
    if (!broker.core.topics.exists(name.full)) {
      const mayCreate = clusterAllowed(ctx, AclOperation.CREATE) || topicAllowed(ctx, AclOperation.CREATE, kafkaName, name.full);
      if (!allowAutoCreate || !mayCreate) return { errorCode: KafkaErrorCode.UNKNOWN_TOPIC_OR_PARTITION, name: kafkaName, partitions: [] };
      if (!isCreatableName(kafkaName)) return { errorCode: KafkaErrorCode.INVALID_TOPIC_EXCEPTION, name: kafkaName, partitions: [] };
      await autoCreateTopic(broker, name.full);
    }
    return describeTopic(broker, kafkaName, name.full);
  } catch (error) {
    return { errorCode: kafkaErrorCodeOf(error), name: kafkaName, partitions: [] };
  }
}

export const metadataApi = defineApi<MetadataRequest, MetadataResponse>({
  apiKey: API_KEY.Metadata,
  name: 'Metadata',
  minVersion: 0,
  maxVersion: 12,
  pipelined: false,
  async handle(ctx, request) {
    const { broker, apiVersion } = ctx;
    const all = request.topics === null || (apiVersion === 0 && request.topics.length === 0);
    const topics: MetadataResponseTopic[] = [];
    if (all) {
      for (const full of broker.core.topics.list(broker.naming.defaultNamespace)) {
        try {
          if (!topicAllowed(ctx, AclOperation.DESCRIBE, full, full)) continue;
          topics.push(describeTopic(broker, broker.naming.toKafka(full), full));
        } catch {
          // deleted between list and describe
        }
      }
    } else {
      const allowAutoCreate = broker.config.autoCreateTopics && (apiVersion < 4 || request.allowAutoTopicCreation);
      for (const topic of request.topics!) {
        if (topic.name === null) {
          const byId = findById(broker, topic.topicId);
          const full = broker.topicIds.lookup(topic.topicId);
          topics.push(full !== null && !topicAllowed(ctx, AclOperation.DESCRIBE, full, full) ? { errorCode: KafkaErrorCode.TOPIC_AUTHORIZATION_FAILED, name: null, topicId: topic.topicId, partitions: [] } : byId);
          continue;
        }
        topics.push(await topicMetadata(ctx, topic.name, allowAutoCreate));
      }
    }
    return {
      throttleTimeMs: 0,
      brokers: brokersOf(broker),
      clusterId: broker.clusterId,
      controllerId: broker.nodeId,
      topics,
    };
  },
  errorResponse: ({ broker }) => ({ brokers: brokersOf(broker), clusterId: broker.clusterId, controllerId: broker.nodeId, topics: [] }),
});

/** Metadata v12 addresses topics by id (name null). */
function findById(broker: KafkaBroker, topicId: Buffer): MetadataResponseTopic {
  const full = broker.topicIds.lookup(topicId);
  if (full !== null) {
    try {
      return describeTopic(broker, broker.naming.toKafka(full), full);
    } catch {
      // deleted concurrently
    }
  }
  return { errorCode: KafkaErrorCode.UNKNOWN_TOPIC_ID, name: null, topicId, partitions: [] };
}

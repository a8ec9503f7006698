/**
 * CreateTopics (key 19) v0-7. numPartitions -1 = the configured default (KIP-464); any replication
 * factor is accepted and reported as 1 (one node, every ack fsynced); configs map onto core policies
 * (topic-configs.ts); validateOnly checks everything and creates nothing.
 */
import { topicIdOf } from '../broker.js';
import { KafkaErrorCode } from '../error-codes.js';
import { errorMessageOf, kafkaErrorCodeOf } from '../errors.js';
import { API_KEY } from '../protocol/messages/index.js';
import type { CreateTopicsRequest, CreateTopicsResponse } from '../protocol/messages/create-topics/types.js';
import { applyTopicConfig, reportTopicConfigs, type ConfigPatch } from '../topic-configs.js';
import { AclOperation } from '../acl/acl-types.js';
import { clusterAllowed, topicAllowed } from '../acl/checks.js';
import { defineApi } from './api.js';
import type { Elem } from './elem.js';
import { coreNameOf, isCreatableName } from './topic-lookup.js';

type Result = Elem<CreateTopicsResponse['topics']>;

const CONFIG_SOURCE_TOPIC = 1;
const CONFIG_SOURCE_DEFAULT = 5;

export const createTopicsApi = defineApi<CreateTopicsRequest, CreateTopicsResponse>({
  apiKey: API_KEY.CreateTopics,
  name: 'CreateTopics',
  minVersion: 0,
  maxVersion: 7,
  pipelined: false,
  async handle(ctx, request) {
    const broker = ctx.broker;
    // ACLs: CREATE on the cluster, or on each topic.
    const mayCreateAny = clusterAllowed(ctx, AclOperation.CREATE);
    const results: Result[] = [];
    const seen = new Set<string>();
    for (const topic of request.topics) {
      const fail = (errorCode: number, errorMessage: string | null): void => void results.push({ name: topic.name, errorCode, errorMessage });
      if (seen.has(topic.name)) {
        fail(KafkaErrorCode.INVALID_REQUEST, 'topic named twice in one request');
        continue;
      }
      seen.add(topic.name);
      const name = isCreatableName(topic.name) ? coreNameOf(broker, topic.name) : { errorCode: KafkaErrorCode.INVALID_TOPIC_EXCEPTION };
      if (!mayCreateAny && !topicAllowed(ctx, AclOperation.CREATE, topic.name, 'full' in name ? name.full : null)) {
        fail(KafkaErrorCode.TOPIC_AUTHORIZATION_FAILED, null);
        continue;
      }
      if ('errorCode' in name) {
        fail(name.errorCode, `invalid topic name ${topic.name}`);
        continue;
      }
      const partitions = topic.numPartitions === -1 ? broker.config.defaultPartitions : topic.numPartitions;
      if (topic.assignments.length > 0) {
        fail(KafkaErrorCode.INVALID_REQUEST, 'manual replica assignment is not supported');
        continue;
      }
      if (!Number.isInteger(partitions) || partitions < 1) {
        fail(KafkaErrorCode.INVALID_PARTITIONS, `number of partitions must be >= 1, got ${topic.numPartitions}`);
        continue;
      }
      if (topic.replicationFactor === 0 || topic.replicationFactor < -1) {
        fail(KafkaErrorCode.INVALID_REPLICATION_FACTOR, `replication factor must be >= 1 or -1, got ${topic.replicationFactor}`);
        continue;
      }
      const patch: ConfigPatch = {};
      const configError = topic.configs.map((c) => applyTopicConfig(patch, c.name, c.value)).find((e) => e !== null);
      if (configError) {
        fail(KafkaErrorCode.INVALID_CONFIG, configError);
        continue;
      }
      if (broker.core.topics.exists(name.full)) {
        fail(KafkaErrorCode.TOPIC_ALREADY_EXISTS, `topic ${topic.name} already exists`);
        continue;
      }
      const overrides = Object.fromEntries(Object.entries(patch).filter(([, v]) => v !== null));
      try {
        if (request.validateOnly) {
          results.push({ name: topic.name, errorCode: KafkaErrorCode.NONE, errorMessage: null, numPartitions: partitions, replicationFactor: 1, configs: [] });
          continue;
        }
        const description = await broker.core.topics.create(name.full, { partitions, overrides });
        results.push({
          name: topic.name,
          topicId: topicIdOf(description.name, description.createdAtMs),
          errorCode: KafkaErrorCode.NONE,
          errorMessage: null,
          numPartitions: description.partitions,
          replicationFactor: 1,
          configs: reportTopicConfigs(description.policies, description.overrides).map((c) => ({
            name: c.name,
            value: c.value,
            readOnly: c.readOnly,
            configSource: c.isOverride ? CONFIG_SOURCE_TOPIC : CONFIG_SOURCE_DEFAULT,
            isSensitive: false,
          })),
        });
      } catch (error) {
        fail(kafkaErrorCodeOf(error), errorMessageOf(error));
      }
    }
    return { throttleTimeMs: 0, topics: results };
  },
  errorResponse: (_ctx, request, errorCode) => ({
    topics: (request?.topics ?? []).map((t) => ({ name: t.name, errorCode, errorMessage: null })),
  }),
});

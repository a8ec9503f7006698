/**
 * DescribeConfigs (key 32) v0-4: topic configs from the core's effective policies
 * (topic-configs.ts); broker configs (read-only) for our node id.
 */
import type { KafkaBroker } from '../broker.js';
import { KafkaErrorCode } from '../error-codes.js';
import { API_KEY } from '../protocol/messages/index.js';
import type { DescribeConfigsRequest, DescribeConfigsResponse } from '../protocol/messages/describe-configs/types.js';
import { reportTopicConfigs } from '../topic-configs.js';
import { AclOperation } from '../acl/acl-types.js';
import { clusterAllowed, topicAllowed } from '../acl/checks.js';
import { defineApi } from './api.js';
import type { Elem } from './elem.js';
import { lookupTopic } from './topic-lookup.js';

type Result = Elem<DescribeConfigsResponse['results']>;

export const RESOURCE_TYPE_TOPIC = 2;
export const RESOURCE_TYPE_BROKER = 4;
const SOURCE_DYNAMIC_TOPIC = 1;
const SOURCE_STATIC_BROKER = 4;
const SOURCE_DEFAULT = 5;

function brokerConfigs(broker: KafkaBroker): Array<{ name: string; value: string }> {
  return [
    { name: 'broker.id', value: String(broker.nodeId) },
    { name: 'auto.create.topics.enable', value: String(broker.config.autoCreateTopics) },
    { name: 'num.partitions', value: String(broker.config.defaultPartitions) },
    { name: 'socket.request.max.bytes', value: String(broker.config.frameBytesMax) },
    { name: 'default.replication.factor', value: '1' },
    { name: 'offsets.topic.replication.factor', value: '1' },
    { name: 'group.min.session.timeout.ms', value: String(broker.config.groupSessionTimeoutMsMin) },
    { name: 'group.max.session.timeout.ms', value: String(broker.config.groupSessionTimeoutMsMax) },
    { name: 'group.initial.rebalance.delay.ms', value: String(broker.config.groupInitialRebalanceDelayMs) },
  ];
}

export const describeConfigsApi = defineApi<DescribeConfigsRequest, DescribeConfigsResponse>({
  apiKey: API_KEY.DescribeConfigs,
  name: 'DescribeConfigs',
  minVersion: 0,
  maxVersion: 4,
  pipelined: false,
  handle(ctx, request) {
    const broker = ctx.broker;
    const results: Result[] = request.resources.map((resource) => {
      const base = { resourceType: resource.resourceType, resourceName: resource.resourceName };
      // ACLs: DESCRIBE_CONFIGS on the topic, or on the cluster for the broker's configs.
      if (resource.resourceType === RESOURCE_TYPE_TOPIC && !topicAllowed(ctx, AclOperation.DESCRIBE_CONFIGS, resource.resourceName, lookupTopic(broker, resource.resourceName).full)) {
        return { ...base, errorCode: KafkaErrorCode.TOPIC_AUTHORIZATION_FAILED, errorMessage: null, configs: [] };
      }
      if (resource.resourceType === RESOURCE_TYPE_BROKER && !clusterAllowed(ctx, AclOperation.DESCRIBE_CONFIGS)) {
        return { ...base, errorCode: KafkaErrorCode.CLUSTER_AUTHORIZATION_FAILED, errorMessage: null, configs: [] };
      }
      const wanted = resource.configurationKeys === null || resource.configurationKeys.length === 0 ? null : new Set(resource.configurationKeys);
      if (resource.resourceType === RESOURCE_TYPE_TOPIC) {
        const lookup = lookupTopic(broker, resource.resourceName);
        if (!lookup.ok) return { ...base, errorCode: lookup.errorCode, errorMessage: `unknown topic ${resource.resourceName}`, configs: [] };
        const configs = reportTopicConfigs(lookup.description.policies, lookup.description.overrides)
          .filter((c) => wanted === null || wanted.has(c.name))
          .map((c) => ({
            name: c.name,
            value: c.value,
            readOnly: c.readOnly,
            isDefault: !c.isOverride,
            configSource: c.isOverride ? SOURCE_DYNAMIC_TOPIC : SOURCE_DEFAULT,
            isSensitive: false,
            synonyms: [],
          }));
        return { ...base, errorCode: KafkaErrorCode.NONE, errorMessage: null, configs };
      }
      if (resource.resourceType === RESOURCE_TYPE_BROKER) {
        if (resource.resourceName !== '' && resource.resourceName !== String(broker.nodeId)) {
          return { ...base, errorCode: KafkaErrorCode.INVALID_REQUEST, errorMessage: `unknown broker ${resource.resourceName}`, configs: [] };
        }
        const configs = brokerConfigs(broker)
          .filter((c) => wanted === null || wanted.has(c.name))
          .map((c) => ({ ...c, readOnly: true, isDefault: false, configSource: SOURCE_STATIC_BROKER, isSensitive: false, synonyms: [] }));
        return { ...base, errorCode: KafkaErrorCode.NONE, errorMessage: null, configs };
      }
      return { ...base, errorCode: KafkaErrorCode.INVALID_REQUEST, errorMessage: `unsupported resource type ${resource.resourceType}`, configs: [] };
    });
    return { throttleTimeMs: 0, results };
  },
  errorResponse: (_ctx, request, errorCode) => ({
    results: (request?.resources ?? []).map((r) => ({ errorCode, errorMessage: null, resourceType: r.resourceType, resourceName: r.resourceName, configs: [] })),
  }),
});

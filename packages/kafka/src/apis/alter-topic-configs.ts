/**
 * What AlterConfigs and IncrementalAlterConfigs share: apply a policy patch to a topic resource,
 * answer per resource. Only topics can be altered; broker configs are static.
 */
import type { RequestContext } from './api.js';
import { AclOperation } from '../acl/acl-types.js';
import { topicAllowed } from '../acl/checks.js';
import { KafkaErrorCode } from '../error-codes.js';
import { errorMessageOf, kafkaErrorCodeOf } from '../errors.js';
import type { ConfigPatch } from '../topic-configs.js';
import { RESOURCE_TYPE_TOPIC } from './describe-configs.js';
import { lookupTopic } from './topic-lookup.js';

export interface AlterResult {
  errorCode: number;
  errorMessage: string | null;
  resourceType: number;
  resourceName: string;
}

export async function alterTopicConfigs(
  ctx: RequestContext,
  resource: { resourceType: number; resourceName: string },
  validateOnly: boolean,
  buildPatch: (current: ConfigPatch) => string | null,
): Promise<AlterResult> {
  const base = { resourceType: resource.resourceType, resourceName: resource.resourceName };
  if (resource.resourceType !== RESOURCE_TYPE_TOPIC) {
    return { ...base, errorCode: KafkaErrorCode.INVALID_REQUEST, errorMessage: 'only topic configs can be altered' };
  }
  const broker = ctx.broker;
  const lookup = lookupTopic(broker, resource.resourceName);
  // ACLs: ALTER_CONFIGS on the topic.
  if (!topicAllowed(ctx, AclOperation.ALTER_CONFIGS, resource.resourceName, lookup.full)) {
    return { ...base, errorCode: KafkaErrorCode.TOPIC_AUTHORIZATION_FAILED, errorMessage: null };
  }
  if (!lookup.ok) return { ...base, errorCode: lookup.errorCode, errorMessage: `unknown topic ${resource.resourceName}` };
  const patch: ConfigPatch = {};
  const error = buildPatch(patch);
  if (error) return { ...base, errorCode: KafkaErrorCode.INVALID_CONFIG, errorMessage: error };
  try {
    if (!validateOnly && Object.keys(patch).length > 0) await broker.core.topics.updatePolicies(lookup.full, patch);
    return { ...base, errorCode: KafkaErrorCode.NONE, errorMessage: null };
  } catch (e) {
    return { ...base, errorCode: kafkaErrorCodeOf(e), errorMessage: errorMessageOf(e) };
  }
}

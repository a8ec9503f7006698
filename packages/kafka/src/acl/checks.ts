/**
 * The checks the APIs make (Kafka's KafkaApis authorize calls), named by resource. Topics are
 * judged by their canonical Kafka name (`orders`, or `tenant--ns--orders` outside the default
 * namespace), whatever form the request used, so an ACL cannot be side-stepped by spelling the
 * topic differently. Without an authorizer every check is true and costs a property read.
 */
import type { RequestContext } from '../apis/api.js';
import { KafkaErrorCode } from '../error-codes.js';
import { CLUSTER_RESOURCE_NAME, ResourceType } from './acl-types.js';

/** `full` is the core topic when the name resolved; else the request's own name is judged. */
export function topicAllowed(ctx: RequestContext, operation: number, kafkaName: string, full: string | null): boolean {
  if (!ctx.access.enabled) return true;
  let name = kafkaName;
  if (full !== null) {
    try {
      name = ctx.broker.naming.toKafka(full);
    } catch {
      name = full;
    }
  }
  return ctx.access.allowed(operation, ResourceType.TOPIC, name);
}

export function groupAllowed(ctx: RequestContext, operation: number, groupId: string): boolean {
  return !ctx.access.enabled || ctx.access.allowed(operation, ResourceType.GROUP, groupId);
}

export function clusterAllowed(ctx: RequestContext, operation: number): boolean {
  return !ctx.access.enabled || ctx.access.allowed(operation, ResourceType.CLUSTER, CLUSTER_RESOURCE_NAME);
}

export function transactionalIdAllowed(ctx: RequestContext, operation: number, transactionalId: string): boolean {
  return !ctx.access.enabled || ctx.access.allowed(operation, ResourceType.TRANSACTIONAL_ID, transactionalId);
}

/** The same checks as Kafka error codes (NONE or the refusal), for `ApiHandler.authorize`. */
export function groupError(ctx: RequestContext, operation: number, groupId: string): number {
  return groupAllowed(ctx, operation, groupId) ? KafkaErrorCode.NONE : KafkaErrorCode.GROUP_AUTHORIZATION_FAILED;
}

export function clusterError(ctx: RequestContext, operation: number): number {
  return clusterAllowed(ctx, operation) ? KafkaErrorCode.NONE : KafkaErrorCode.CLUSTER_AUTHORIZATION_FAILED;
}

export function transactionalIdError(ctx: RequestContext, operation: number, transactionalId: string): number {
  return transactionalIdAllowed(ctx, operation, transactionalId) ? KafkaErrorCode.NONE : KafkaErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED;
}

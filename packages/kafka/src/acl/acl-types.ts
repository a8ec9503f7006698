/**
 * Kafka's ACL vocabulary (org.apache.kafka.common.acl / resource): the wire codes of resource types,
 * pattern types, operations and permissions, an ACL binding, and the filters DescribeAcls and
 * DeleteAcls match bindings with.
 */

export const ResourceType = { UNKNOWN: 0, ANY: 1, TOPIC: 2, GROUP: 3, CLUSTER: 4, TRANSACTIONAL_ID: 5, DELEGATION_TOKEN: 6, USER: 7 } as const;
export const PatternType = { UNKNOWN: 0, ANY: 1, MATCH: 2, LITERAL: 3, PREFIXED: 4 } as const;
export const AclOperation = {
  UNKNOWN: 0,
  ANY: 1,
  ALL: 2,
  READ: 3,
  WRITE: 4,
  CREATE: 5,
  DELETE: 6,
  ALTER: 7,
  DESCRIBE: 8,
  CLUSTER_ACTION: 9,
  DESCRIBE_CONFIGS: 10,
  ALTER_CONFIGS: 11,
  IDEMPOTENT_WRITE: 12,
  CREATE_TOKENS: 13,
  DESCRIBE_TOKENS: 14,
} as const;
export const AclPermission = { UNKNOWN: 0, ANY: 1, DENY: 2, ALLOW: 3 } as const;

/** The one cluster resource's name (Kafka's "kafka-cluster"). */
export const CLUSTER_RESOURCE_NAME = 'kafka-cluster';
/** A LITERAL binding with this name applies to every resource of its type. */
export const WILDCARD = '*';
/** Unauthenticated connections (no SASL on the listener) are this principal, as in Kafka. */
export const ANONYMOUS_PRINCIPAL = 'User:ANONYMOUS';

export interface AclBinding {
  readonly resourceType: number;
  readonly resourceName: string;
  readonly patternType: number; // LITERAL or PREFIXED
  readonly principal: string; // `User:<name>` or `User:*`
  readonly host: string; // an address or `*`
  readonly operation: number;
  readonly permission: number; // ALLOW or DENY
}

/** A DescribeAcls/DeleteAcls filter: ANY codes and null strings match anything. */
export interface AclFilter {
  readonly resourceType: number;
  readonly resourceName: string | null;
  readonly patternType: number;
  readonly principal: string | null;
  readonly host: string | null;
  readonly operation: number;
  readonly permission: number;
}

const NAMES: Record<string, Record<string, number>> = {
  resourceType: ResourceType,
  patternType: PatternType,
  operation: AclOperation,
  permission: AclPermission,
};

/** A code from its name (`topic`, `PREFIXED`, `describe_configs`...), or -1. */
export function codeOf(kind: keyof typeof NAMES, name: string): number {
  return NAMES[kind]![name.toUpperCase().replace(/[- ]/g, '_')] ?? -1;
}

/** Why a binding cannot be stored (Kafka: INVALID_REQUEST), or null. */
export function invalidBinding(binding: AclBinding): string | null {
  if (![ResourceType.TOPIC, ResourceType.GROUP, ResourceType.CLUSTER, ResourceType.TRANSACTIONAL_ID].includes(binding.resourceType as never)) {
    return `resource type ${binding.resourceType} is not one ACLs are kept for`;
  }
  if (binding.patternType !== PatternType.LITERAL && binding.patternType !== PatternType.PREFIXED) return `pattern type ${binding.patternType} is not LITERAL or PREFIXED`;
  if (binding.resourceName === '') return 'empty resource name';
  if (binding.resourceType === ResourceType.CLUSTER && (binding.resourceName !== CLUSTER_RESOURCE_NAME || binding.patternType !== PatternType.LITERAL)) {
    return `the cluster resource is LITERAL ${CLUSTER_RESOURCE_NAME}`;
  }
  if (!/^User:.+/.test(binding.principal)) return `principal ${binding.principal} is not User:<name>`;
  if (binding.host === '') return 'empty host';
  if (binding.operation < AclOperation.ALL || binding.operation > AclOperation.DESCRIBE_TOKENS) return `operation ${binding.operation} is not one ACLs grant`;
  if (binding.permission !== AclPermission.ALLOW && binding.permission !== AclPermission.DENY) return `permission ${binding.permission} is not ALLOW or DENY`;
  return null;
}

/** Why a filter cannot be used (Kafka: INVALID_REQUEST), or null. */
export function invalidFilter(filter: AclFilter): string | null {
  if (filter.resourceType === ResourceType.UNKNOWN || filter.patternType === PatternType.UNKNOWN) return 'UNKNOWN in a filter';
  if (filter.operation === AclOperation.UNKNOWN || filter.permission === AclPermission.UNKNOWN) return 'UNKNOWN in a filter';
  return null;
}

/** Kafka's AclBindingFilter.matches: every field ANY/null or equal; MATCH also takes wildcards and prefixes. */
export function filterMatches(filter: AclFilter, binding: AclBinding): boolean {
  if (filter.resourceType !== ResourceType.ANY && filter.resourceType !== binding.resourceType) return false;
  if (filter.principal !== null && filter.principal !== binding.principal) return false;
  if (filter.host !== null && filter.host !== binding.host) return false;
  if (filter.operation !== AclOperation.ANY && filter.operation !== binding.operation) return false;
  if (filter.permission !== AclPermission.ANY && filter.permission !== binding.permission) return false;
  if (filter.patternType === PatternType.MATCH) {
    if (filter.resourceName === null) return true;
    if (binding.patternType === PatternType.LITERAL) return binding.resourceName === filter.resourceName || binding.resourceName === WILDCARD;
    return filter.resourceName.startsWith(binding.resourceName);
  }
  if (filter.patternType !== PatternType.ANY && filter.patternType !== binding.patternType) return false;
  return filter.resourceName === null || filter.resourceName === binding.resourceName;
}

export function sameBinding(a: AclBinding, b: AclBinding): boolean {
  return (
    a.resourceType === b.resourceType &&
    a.resourceName === b.resourceName &&
    a.patternType === b.patternType &&
    a.principal === b.principal &&
    a.host === b.host &&
    a.operation === b.operation &&
    a.permission === b.permission
  );
}

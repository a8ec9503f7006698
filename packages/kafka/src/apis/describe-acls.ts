/**
 * DescribeAcls (key 29) v0-3 (KIP-140, KIP-290 pattern types): the ACL bindings a filter matches,
 * grouped by resource. Needs DESCRIBE on the cluster. Without `authorization` configured:
 * SECURITY_DISABLED, as a Kafka broker with no authorizer answers.
 */
import { AclOperation, invalidFilter, filterMatches, type AclBinding, type AclFilter } from '../acl/acl-types.js';
import { clusterError } from '../acl/checks.js';
import { KafkaErrorCode } from '../error-codes.js';
import { API_KEY } from '../protocol/messages/index.js';
import type { DescribeAclsRequest, DescribeAclsResponse } from '../protocol/messages/describe-acls/types.js';
import { defineApi } from './api.js';

export const describeAclsApi = defineApi<DescribeAclsRequest, DescribeAclsResponse>({
  apiKey: API_KEY.DescribeAcls,
  name: 'DescribeAcls',
  minVersion: 0,
  maxVersion: 3,
  pipelined: false,
  authorize: (ctx) => clusterError(ctx, AclOperation.DESCRIBE),
  handle({ broker }, request) {
    if (broker.authorizer === null) return { throttleTimeMs: 0, errorCode: KafkaErrorCode.SECURITY_DISABLED, errorMessage: 'no authorization configured', resources: [] };
    const filter: AclFilter = {
      resourceType: request.resourceTypeFilter,
      resourceName: request.resourceNameFilter,
      patternType: request.patternTypeFilter,
      principal: request.principalFilter,
      host: request.hostFilter,
      operation: request.operation,
      permission: request.permissionType,
    };
    const invalid = invalidFilter(filter);
    if (invalid !== null) return { throttleTimeMs: 0, errorCode: KafkaErrorCode.INVALID_REQUEST, errorMessage: invalid, resources: [] };
    const byResource = new Map<string, { resourceType: number; resourceName: string; patternType: number; acls: AclBinding[] }>();
    for (const binding of broker.authorizer.list()) {
      if (!filterMatches(filter, binding)) continue;
      const key = `${binding.resourceType}:${binding.patternType}:${binding.resourceName}`;
      let resource = byResource.get(key);
      if (!resource) byResource.set(key, (resource = { resourceType: binding.resourceType, resourceName: binding.resourceName, patternType: binding.patternType, acls: [] }));
      resource.acls.push(binding);
    }
    return {
      throttleTimeMs: 0,
      errorCode: KafkaErrorCode.NONE,
      errorMessage: null,
      resources: [...byResource.values()].map((r) => ({
        resourceType: r.resourceType,
        resourceName: r.resourceName,
        patternType: r.patternType,
        acls: r.acls.map((b) => ({ principal: b.principal, host: b.host, operation: b.operation, permissionType: b.permission })),
      })),
    };
  },
  errorResponse: (_ctx, _request, errorCode) => ({ throttleTimeMs: 0, errorCode, errorMessage: null, resources: [] }),
});

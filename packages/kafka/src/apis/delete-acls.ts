/**
 * DeleteAcls (key 31) v0-3: deletes the stored ACL bindings each filter matches and lists them per
 * filter. Bindings from the config stay (they are there at every start). Needs ALTER on the
 * cluster. Without `authorization` configured: SECURITY_DISABLED.
 */
import { AclOperation, invalidFilter, type AclFilter } from '../acl/acl-types.js';
import { clusterError } from '../acl/checks.js';
import { KafkaErrorCode } from '../error-codes.js';
import { API_KEY } from '../protocol/messages/index.js';
import type { DeleteAclsRequest, DeleteAclsResponse } from '../protocol/messages/delete-acls/types.js';
import { defineApi } from './api.js';

export const deleteAclsApi = defineApi<DeleteAclsRequest, DeleteAclsResponse>({
  apiKey: API_KEY.DeleteAcls,
  name: 'DeleteAcls',
  minVersion: 0,
  maxVersion: 3,
  pipelined: false,
  authorize: (ctx) => clusterError(ctx, AclOperation.ALTER),
  async handle({ broker }, request) {
    const authorizer = broker.authorizer;
    const refuse = (errorCode: number, errorMessage: string | null) => ({ errorCode, errorMessage, matchingAcls: [] });
    if (authorizer === null) return { throttleTimeMs: 0, filterResults: request.filters.map(() => refuse(KafkaErrorCode.SECURITY_DISABLED, 'no authorization configured')) };
    const filters: AclFilter[] = request.filters.map((f) => ({
      resourceType: f.resourceTypeFilter,
      resourceName: f.resourceNameFilter,
      patternType: f.patternTypeFilter,
      principal: f.principalFilter,
      host: f.hostFilter,
      operation: f.operation,
      permission: f.permissionType,
    }));
    const invalid = filters.map(invalidFilter);
    const usable = filters.filter((_, i) => invalid[i] === null);
    let deleted;
    try {
      deleted = await authorizer.delete(usable);
    } catch (error) {
      broker.logger.warn('deleting ACLs failed', { error });
      return { throttleTimeMs: 0, filterResults: filters.map(() => refuse(KafkaErrorCode.UNKNOWN_SERVER_ERROR, (error as Error).message)) };
    }
    let next = 0;
    return {
      throttleTimeMs: 0,
      filterResults: filters.map((_, i) => {
        if (invalid[i] !== null) return refuse(KafkaErrorCode.INVALID_REQUEST, invalid[i]!);
        const matching = deleted[next++]!;
        return {
          errorCode: KafkaErrorCode.NONE,
          errorMessage: null,
          matchingAcls: matching.map((b) => ({
            errorCode: KafkaErrorCode.NONE,
            errorMessage: null,
            resourceType: b.resourceType,
            resourceName: b.resourceName,
            patternType: b.patternType,
            principal: b.principal,
            host: b.host,
            operation: b.operation,
            permissionType: b.permission,
          })),
        };
      }),
    };
  },
  errorResponse: (_ctx, request, errorCode) => ({ throttleTimeMs: 0, filterResults: (request?.filters ?? []).map(() => ({ errorCode, errorMessage: null, matchingAcls: [] })) }),
});

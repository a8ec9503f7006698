/**
 * CreateAcls (key 30) v0-3: stores ACL bindings (LITERAL or PREFIXED; TOPIC, GROUP, CLUSTER,
 * TRANSACTIONAL_ID). Needs ALTER on the cluster. Each creation gets its own result; an invalid one
 * INVALID_REQUEST with the reason. Without `authorization` configured: SECURITY_DISABLED.
 */
import { AclOperation, invalidBinding, type AclBinding } from '../acl/acl-types.js';
import { clusterError } from '../acl/checks.js';
import { KafkaErrorCode } from '../error-codes.js';
import { API_KEY } from '../protocol/messages/index.js';
import type { CreateAclsRequest, CreateAclsResponse } from '../protocol/messages/create-acls/types.js';
import { defineApi } from './api.js';

export const createAclsApi = defineApi<CreateAclsRequest, CreateAclsResponse>({
  apiKey: API_KEY.CreateAcls,
  name: 'CreateAcls',
  minVersion: 0,
  maxVersion: 3,
  pipelined: false,
  authorize: (ctx) => clusterError(ctx, AclOperation.ALTER),
  async handle({ broker }, request) {
    const authorizer = broker.authorizer;
    if (authorizer === null) {
      return { throttleTimeMs: 0, results: request.creations.map(() => ({ errorCode: KafkaErrorCode.SECURITY_DISABLED, errorMessage: 'no authorization configured' })) };
    }
    const results = request.creations.map((c) => {
      const binding: AclBinding = {
        resourceType: c.resourceType,
        resourceName: c.resourceName,
        patternType: c.resourcePatternType,
        principal: c.principal,
        host: c.host,
        operation: c.operation,
        permission: c.permissionType,
      };
      const invalid = invalidBinding(binding);
      return { binding, errorCode: invalid === null ? KafkaErrorCode.NONE : KafkaErrorCode.INVALID_REQUEST, errorMessage: invalid } as { binding: AclBinding; errorCode: number; errorMessage: string | null };
    });
    const valid = results.filter((r) => r.errorCode === KafkaErrorCode.NONE).map((r) => r.binding);
    if (valid.length > 0) {
      try {
        await authorizer.create(valid);
      } catch (error) {
        broker.logger.warn('creating ACLs failed', { error });
        for (const r of results) {
          if (r.errorCode !== KafkaErrorCode.NONE) continue;
          r.errorCode = KafkaErrorCode.UNKNOWN_SERVER_ERROR;
          r.errorMessage = (error as Error).message;
        }
      }
    }
    return { throttleTimeMs: 0, results: results.map(({ errorCode, errorMessage }) => ({ errorCode, errorMessage })) };
  },
  errorResponse: (_ctx, request, errorCode) => ({ throttleTimeMs: 0, results: (request?.creations ?? []).map(() => ({ errorCode, errorMessage: null })) }),
});

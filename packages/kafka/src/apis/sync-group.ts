/** SyncGroup (key 14) v0-5: the leader's assignment is relayed to every member. */
import { API_KEY } from '../protocol/messages/index.js';
import type { SyncGroupRequest, SyncGroupResponse } from '../protocol/messages/sync-group/types.js';
import { AclOperation } from '../acl/acl-types.js';
import { groupError } from '../acl/checks.js';
import { defineApi } from './api.js';

export const syncGroupApi = defineApi<SyncGroupRequest, SyncGroupResponse>({
  apiKey: API_KEY.SyncGroup,
  name: 'SyncGroup',
  minVersion: 0,
  maxVersion: 5,
  pipelined: false,
  // ACLs: READ on the group (Kafka: GROUP_AUTHORIZATION_FAILED).
  authorize: (ctx, request) => groupError(ctx, AclOperation.READ, request.groupId),
  async handle({ broker }, request) {
    const result = await broker.groups.sync({
      groupId: request.groupId,
      generationId: request.generationId,
      memberId: request.memberId,
      protocolType: request.protocolType,
      protocolName: request.protocolName,
      assignments: request.assignments.map((a) => ({ memberId: a.memberId, assignment: a.assignment })),
    });
    return {
      throttleTimeMs: 0,
      errorCode: result.errorCode,
      protocolType: result.protocolType,
      protocolName: result.protocolName,
      assignment: result.assignment,
    };
  },
  errorResponse: (_ctx, _request, errorCode) => ({ errorCode, assignment: Buffer.alloc(0) }),
});

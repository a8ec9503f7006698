/** LeaveGroup (key 13) v0-5: v0-2 one member, v3+ a batch of members (KIP-345). */
import { API_KEY } from '../protocol/messages/index.js';
import type { LeaveGroupRequest, LeaveGroupResponse } from '../protocol/messages/leave-group/types.js';
import { AclOperation } from '../acl/acl-types.js';
import { groupError } from '../acl/checks.js';
import { defineApi } from './api.js';

const BATCHED_VERSION = 3;

export const leaveGroupApi = defineApi<LeaveGroupRequest, LeaveGroupResponse>({
  apiKey: API_KEY.LeaveGroup,
  name: 'LeaveGroup',
  minVersion: 0,
  maxVersion: 5,
  pipelined: false,
  // ACLs: READ on the group (Kafka: GROUP_AUTHORIZATION_FAILED).
  authorize: (ctx, request) => groupError(ctx, AclOperation.READ, request.groupId),
  handle({ broker, apiVersion }, request) {
    if (apiVersion < BATCHED_VERSION) {
      return { throttleTimeMs: 0, errorCode: broker.groups.leave(request.groupId, [request.memberId]).errorCode };
    }
    const result = broker.groups.leave(request.groupId, request.members.map((m) => ({ memberId: m.memberId, groupInstanceId: m.groupInstanceId })));
    return {
      throttleTimeMs: 0,
      errorCode: 0,
      members: request.members.map((m, i) => ({ memberId: m.memberId, groupInstanceId: m.groupInstanceId, errorCode: result.memberErrorCodes[i]! })),
    };
  },
  errorResponse: (_ctx, _request, errorCode) => ({ errorCode, members: [] }),
});

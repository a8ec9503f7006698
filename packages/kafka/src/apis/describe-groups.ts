/** DescribeGroups (key 15) v0-5: state, protocol and members (with metadata and assignment). */
import { KafkaErrorCode } from '../error-codes.js';
import { API_KEY } from '../protocol/messages/index.js';
import type { DescribeGroupsRequest, DescribeGroupsResponse } from '../protocol/messages/describe-groups/types.js';
import { AclOperation } from '../acl/acl-types.js';
import { groupAllowed } from '../acl/checks.js';
import { defineApi } from './api.js';

export const describeGroupsApi = defineApi<DescribeGroupsRequest, DescribeGroupsResponse>({
  apiKey: API_KEY.DescribeGroups,
  name: 'DescribeGroups',
  minVersion: 0,
  maxVersion: 5,
  pipelined: false,
  handle: (ctx, request) => ({
    throttleTimeMs: 0,
    groups: request.groups.map((groupId) => {
      // ACLs: DESCRIBE on each group.
      if (!groupAllowed(ctx, AclOperation.DESCRIBE, groupId)) {
        return { errorCode: KafkaErrorCode.GROUP_AUTHORIZATION_FAILED, groupId, groupState: '', protocolType: '', protocolData: '', members: [] };
      }
      const d = ctx.broker.groups.describe(groupId);
      return {
        errorCode: groupId === '' ? KafkaErrorCode.INVALID_GROUP_ID : KafkaErrorCode.NONE,
        groupId,
        groupState: d.state,
        protocolType: d.protocolType,
        protocolData: d.protocolName,
        members: d.members.map((m) => ({
          memberId: m.memberId,
          groupInstanceId: m.groupInstanceId,
          clientId: m.clientId,
          clientHost: m.clientHost,
          memberMetadata: m.metadata,
          memberAssignment: m.assignment,
        })),
      };
    }),
  }),
  errorResponse: (_ctx, request, errorCode) => ({
    groups: (request?.groups ?? []).map((groupId) => ({ errorCode, groupId, groupState: '', protocolType: '', protocolData: '', members: [] })),
  }),
});

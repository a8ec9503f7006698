/** DescribeGroups (key 15) v0-5: state, protocol and members (with metadata and assignment). */
import { KafkaErrorCode } from '../error-codes.js';
import { API_KEY } from '../protocol/messages/index.js';
import type { DescribeGroupsRequest, DescribeGroupsResponse } from '../protocol/messages/describe-groups/types.js';
import { defineApi } from './api.js';

export const describeGroupsApi = defineApi<DescribeGroupsRequest, DescribeGroupsResponse>({
  apiKey: API_KEY.DescribeGroups,
  name: 'DescribeGroups',
  minVersion: 0,
  maxVersion: 5,
  pipelined: false,
  handle: ({ broker }, request) => ({
    throttleTimeMs: 0,
    groups: request.groups.map((groupId) => {
      const d = broker.groups.describe(groupId);
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

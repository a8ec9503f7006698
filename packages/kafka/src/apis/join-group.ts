/** JoinGroup (key 11) v0-9: the group coordinator does the work (group/group-coordinator.ts). */
import { API_KEY } from '../protocol/messages/index.js';
import type { JoinGroupRequest, JoinGroupResponse } from '../protocol/messages/join-group/types.js';
import { AclOperation } from '../acl/acl-types.js';
import { groupError } from '../acl/checks.js';
import { defineApi } from './api.js';

/** KIP-394: from v4 a member joining without an id is asked to rejoin with one. */
const MEMBER_ID_REQUIRED_VERSION = 4;
/** v7 made protocolType/protocolName nullable; earlier versions need strings. */
const NULLABLE_PROTOCOL_VERSION = 7;

export const joinGroupApi = defineApi<JoinGroupRequest, JoinGroupResponse>({
  apiKey: API_KEY.JoinGroup,
  name: 'JoinGroup',
  minVersion: 0,
  maxVersion: 9,
  pipelined: false,
  // ACLs: READ on the group (Kafka: GROUP_AUTHORIZATION_FAILED).
  authorize: (ctx, request) => groupError(ctx, AclOperation.READ, request.groupId),
  async handle({ broker, apiVersion, clientId, clientHost }, request) {
    const result = await broker.groups.join({
      groupId: request.groupId,
      memberId: request.memberId,
      groupInstanceId: request.groupInstanceId,
      sessionTimeoutMs: request.sessionTimeoutMs,
      rebalanceTimeoutMs: apiVersion >= 1 ? request.rebalanceTimeoutMs : request.sessionTimeoutMs,
      protocolType: request.protocolType,
      protocols: request.protocols.map((p) => ({ name: p.name, metadata: p.metadata })),
      clientId: clientId ?? '',
      clientHost: `/${clientHost}`,
      requireKnownMemberId: apiVersion >= MEMBER_ID_REQUIRED_VERSION,
    });
    const nullable = apiVersion >= NULLABLE_PROTOCOL_VERSION;
    return {
      throttleTimeMs: 0,
      errorCode: result.errorCode,
      generationId: result.generationId,
      protocolType: result.protocolType ?? (nullable ? null : ''),
      protocolName: result.protocolName ?? (nullable ? null : ''),
      leader: result.leader,
      skipAssignment: false,
      memberId: result.memberId,
      members: result.members.map((m) => ({ memberId: m.memberId, groupInstanceId: m.groupInstanceId, metadata: m.metadata })),
    };
  },
  errorResponse: (_ctx, request, errorCode) => ({
    errorCode,
    generationId: -1,
    protocolName: '',
    leader: '',
    memberId: request?.memberId ?? '',
    members: [],
  }),
});


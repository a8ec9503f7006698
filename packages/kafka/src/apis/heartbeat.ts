/** Heartbeat (key 12) v0-4: keeps a member's session; REBALANCE_IN_PROGRESS tells it to rejoin. */
import { API_KEY } from '../protocol/messages/index.js';
import type { HeartbeatRequest, HeartbeatResponse } from '../protocol/messages/heartbeat/types.js';
import { AclOperation } from '../acl/acl-types.js';
import { groupError } from '../acl/checks.js';
import { defineApi } from './api.js';

export const heartbeatApi = defineApi<HeartbeatRequest, HeartbeatResponse>({
  apiKey: API_KEY.Heartbeat,
  name: 'Heartbeat',
  minVersion: 0,
  maxVersion: 4,
  pipelined: false,
  // ACLs: READ on the group (Kafka: GROUP_AUTHORIZATION_FAILED).
  authorize: (ctx, request) => groupError(ctx, AclOperation.READ, request.groupId),
  handle: ({ broker }, request) => ({
    throttleTimeMs: 0,
    errorCode: broker.groups.heartbeat(request.groupId, request.memberId, request.generationId),
  }),
  errorResponse: (_ctx, _request, errorCode) => ({ errorCode }),
});

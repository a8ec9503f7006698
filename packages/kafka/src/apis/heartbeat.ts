/** Heartbeat (key 12) v0-4: keeps a member's session; REBALANCE_IN_PROGRESS tells it to rejoin. */
import { API_KEY } from '../protocol/messages/index.js';
import type { HeartbeatRequest, HeartbeatResponse } from '../protocol/messages/heartbeat/types.js';
import { defineApi } from './api.js';

export const heartbeatApi = defineApi<HeartbeatRequest, HeartbeatResponse>({
  apiKey: API_KEY.Heartbeat,
  name: 'Heartbeat',
  minVersion: 0,
  maxVersion: 4,
  pipelined: false,
  handle: ({ broker }, request) => ({
    throttleTimeMs: 0,
    errorCode: broker.groups.heartbeat(request.groupId, request.memberId, request.generationId),
  }),
  errorResponse: (_ctx, _request, errorCode) => ({ errorCode }),
});

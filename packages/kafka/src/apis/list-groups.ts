/**
 * ListGroups (key 16) v0-4: live groups plus groups that only have committed offsets (Empty).
 * v4 filters by state (KIP-518).
 */
import { KafkaErrorCode } from '../error-codes.js';
import { API_KEY } from '../protocol/messages/index.js';
import type { ListGroupsRequest, ListGroupsResponse } from '../protocol/messages/list-groups/types.js';
import { AclOperation } from '../acl/acl-types.js';
import { clusterAllowed, groupAllowed } from '../acl/checks.js';
import { defineApi } from './api.js';

export const listGroupsApi = defineApi<ListGroupsRequest, ListGroupsResponse>({
  apiKey: API_KEY.ListGroups,
  name: 'ListGroups',
  minVersion: 0,
  maxVersion: 4,
  pipelined: false,
  handle(ctx, request) {
    const broker = ctx.broker;
    // ACLs: DESCRIBE on the cluster lists every group, else those the principal may DESCRIBE.
    const everyGroup = clusterAllowed(ctx, AclOperation.DESCRIBE);
    const groups = new Map<string, { groupId: string; protocolType: string; groupState: string }>();
    for (const g of broker.groups.list()) groups.set(g.groupId, { groupId: g.groupId, protocolType: g.protocolType, groupState: g.state });
    for (const groupId of broker.offsets.groupIds()) {
      if (!groups.has(groupId)) groups.set(groupId, { groupId, protocolType: 'consumer', groupState: 'Empty' });
    }
    const wanted = new Set(request.statesFilter.map((s) => s.toLowerCase()));
    const listed = [...groups.values()].filter(
      (g) => (wanted.size === 0 || wanted.has(g.groupState.toLowerCase())) && (everyGroup || groupAllowed(ctx, AclOperation.DESCRIBE, g.groupId)),
    );
    return { throttleTimeMs: 0, errorCode: KafkaErrorCode.NONE, groups: listed.map((g) => ({ ...g, groupType: 'classic' })) };
  },
  errorResponse: (_ctx, _request, errorCode) => ({ errorCode, groups: [] }),
});

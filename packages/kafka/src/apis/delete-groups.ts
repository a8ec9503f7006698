/** DeleteGroups (key 42) v0-2: an empty group and its committed offsets go; NON_EMPTY_GROUP otherwise. */
import { KafkaErrorCode } from '../error-codes.js';
import { kafkaErrorCodeOf } from '../errors.js';
import { API_KEY } from '../protocol/messages/index.js';
import type { DeleteGroupsRequest, DeleteGroupsResponse } from '../protocol/messages/delete-groups/types.js';
import { AclOperation } from '../acl/acl-types.js';
import { groupError } from '../acl/checks.js';
import { defineApi } from './api.js';

export const deleteGroupsApi = defineApi<DeleteGroupsRequest, DeleteGroupsResponse>({
  apiKey: API_KEY.DeleteGroups,
  name: 'DeleteGroups',
  minVersion: 0,
  maxVersion: 2,
  pipelined: false,
  async handle(ctx, request) {
    const broker = ctx.broker;
    const results = [];
    for (const groupId of request.groupsNames) {
      let errorCode = groupId === '' ? KafkaErrorCode.INVALID_GROUP_ID : groupError(ctx, AclOperation.DELETE, groupId) || broker.groups.canDelete(groupId);
      if (errorCode === KafkaErrorCode.NONE) {
        broker.groups.forget(groupId);
        try {
          await broker.offsets.delete(groupId);
        } catch (error) {
          errorCode = kafkaErrorCodeOf(error);
        }
      }
      results.push({ groupId, errorCode });
    }
    return { throttleTimeMs: 0, results };
  },
  errorResponse: (_ctx, request, errorCode) => ({ results: (request?.groupsNames ?? []).map((groupId) => ({ groupId, errorCode })) }),
});

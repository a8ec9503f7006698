/**
 * FindCoordinator (key 10) v0-4: this server coordinates every group (key type 0) and every
 * transactional id (key type 1). v4 batches keys (KIP-699).
 */
import { KafkaErrorCode } from '../error-codes.js';
import { API_KEY } from '../protocol/messages/index.js';
import type { FindCoordinatorRequest, FindCoordinatorResponse } from '../protocol/messages/find-coordinator/types.js';
import { AclOperation } from '../acl/acl-types.js';
import { groupError, transactionalIdError } from '../acl/checks.js';
import { defineApi } from './api.js';

const KEY_TYPE_GROUP = 0;
const KEY_TYPE_TRANSACTION = 1;

export const findCoordinatorApi = defineApi<FindCoordinatorRequest, FindCoordinatorResponse>({
  apiKey: API_KEY.FindCoordinator,
  name: 'FindCoordinator',
  minVersion: 0,
  maxVersion: 4,
  pipelined: false,
  handle(ctx, request) {
    const { broker, apiVersion } = ctx;
    const known = request.keyType === KEY_TYPE_GROUP || request.keyType === KEY_TYPE_TRANSACTION;
    /** ACLs: DESCRIBE on the group or the transactional id. */
    const errorOf = (key: string): number => {
      if (!known) return KafkaErrorCode.INVALID_REQUEST;
      return request.keyType === KEY_TYPE_GROUP ? groupError(ctx, AclOperation.DESCRIBE, key) : transactionalIdError(ctx, AclOperation.DESCRIBE, key);
    };
    const messageOf = (errorCode: number): string | null => (errorCode === KafkaErrorCode.NONE ? null : known ? 'not authorized' : `unknown coordinator key type ${request.keyType}`);
    if (apiVersion >= 4) {
      return {
        throttleTimeMs: 0,
        coordinators: request.coordinatorKeys.map((key) => {
          const errorCode = errorOf(key);
          const found = errorCode === KafkaErrorCode.NONE;
          return { key, nodeId: found ? broker.nodeId : -1, host: found ? broker.host : '', port: found ? broker.port : -1, errorCode, errorMessage: messageOf(errorCode) };
        }),
      };
    }
    const errorCode = errorOf(request.key);
    const errorMessage = messageOf(errorCode);
    const found = errorCode === KafkaErrorCode.NONE;
    return {
      throttleTimeMs: 0,
      errorCode,
      errorMessage,
      nodeId: found ? broker.nodeId : -1,
      host: found ? broker.host : '',
      port: found ? broker.port : -1,
    };
  },
  errorResponse: (_ctx, request, errorCode) => ({
    errorCode,
    nodeId: -1,
    host: '',
    port: -1,
    coordinators: (request?.coordinatorKeys ?? []).map((key) => ({ key, nodeId: -1, host: '', port: -1, errorCode })),
  }),
});

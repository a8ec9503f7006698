/**
 * FindCoordinator (key 10) v0-4: this server coordinates every group (key type 0) and every
 * transactional id (key type 1). v4 batches keys (KIP-699).
 */
import { KafkaErrorCode } from '../error-codes.js';
import { API_KEY } from '../protocol/messages/index.js';
import type { FindCoordinatorRequest, FindCoordinatorResponse } from '../protocol/messages/find-coordinator/types.js';
import { defineApi } from './api.js';

const KEY_TYPE_GROUP = 0;
const KEY_TYPE_TRANSACTION = 1;

export const findCoordinatorApi = defineApi<FindCoordinatorRequest, FindCoordinatorResponse>({
  apiKey: API_KEY.FindCoordinator,
  name: 'FindCoordinator',
  minVersion: 0,
  maxVersion: 4,
  pipelined: false,
  handle({ broker, apiVersion }, request) {
    const known = request.keyType === KEY_TYPE_GROUP || request.keyType === KEY_TYPE_TRANSACTION;
    const errorCode = known ? KafkaErrorCode.NONE : KafkaErrorCode.INVALID_REQUEST;
    const errorMessage = known ? null : `unknown coordinator key type ${request.keyType}`;
    const found = errorCode === KafkaErrorCode.NONE;
    if (apiVersion >= 4) {
      return {
        throttleTimeMs: 0,
        coordinators: request.coordinatorKeys.map((key) => ({
          key,
          nodeId: found ? broker.nodeId : -1,
          host: found ? broker.host : '',
          port: found ? broker.port : -1,
          errorCode,
          errorMessage,
        })),
      };
    }
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

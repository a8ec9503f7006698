/**
 * AddOffsetsToTxn (key 25) v0-3 (KIP-98): the producer's transaction will commit offsets of this
 * consumer group (TxnOffsetCommit follows, sent to the group coordinator: us).
 */
import { KafkaErrorCode } from '../error-codes.js';
import { API_KEY } from '../protocol/messages/index.js';
import type { AddOffsetsToTxnRequest, AddOffsetsToTxnResponse } from '../protocol/messages/add-offsets-to-txn/types.js';
import { AclOperation } from '../acl/acl-types.js';
import { groupError, transactionalIdError } from '../acl/checks.js';
import { defineApi } from './api.js';

export const addOffsetsToTxnApi = defineApi<AddOffsetsToTxnRequest, AddOffsetsToTxnResponse>({
  apiKey: API_KEY.AddOffsetsToTxn,
  name: 'AddOffsetsToTxn',
  minVersion: 0,
  maxVersion: 3,
  pipelined: false,
  authorize: (ctx, request) => transactionalIdError(ctx, AclOperation.WRITE, request.transactionalId) || groupError(ctx, AclOperation.READ, request.groupId),
  async handle({ broker }, request) {
    if (request.groupId === '') return { throttleTimeMs: 0, errorCode: KafkaErrorCode.INVALID_GROUP_ID };
    const errorCode = await broker.transactions.addOffsets(request.transactionalId, request.producerId, request.producerEpoch, request.groupId);
    return { throttleTimeMs: 0, errorCode };
  },
  errorResponse: (_ctx, _request, errorCode) => ({ throttleTimeMs: 0, errorCode }),
});

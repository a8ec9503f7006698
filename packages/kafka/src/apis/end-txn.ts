/**
 * EndTxn (key 26) v0-3 (KIP-98): commit or abort the producer's transaction. Answered once the
 * outcome is stored, every partition has its marker and, on commit, the transaction's offsets are
 * the group's. A retry after a lost response finds the transaction complete and gets NONE.
 */
import { API_KEY } from '../protocol/messages/index.js';
import type { EndTxnRequest, EndTxnResponse } from '../protocol/messages/end-txn/types.js';
import { AclOperation } from '../acl/acl-types.js';
import { transactionalIdError } from '../acl/checks.js';
import { defineApi } from './api.js';

export const endTxnApi = defineApi<EndTxnRequest, EndTxnResponse>({
  apiKey: API_KEY.EndTxn,
  name: 'EndTxn',
  minVersion: 0,
  maxVersion: 3,
  pipelined: false,
  authorize: (ctx, request) => transactionalIdError(ctx, AclOperation.WRITE, request.transactionalId),
  async handle({ broker }, request) {
    const errorCode = await broker.transactions.endTransaction(request.transactionalId, request.producerId, request.producerEpoch, request.committed);
    return { throttleTimeMs: 0, errorCode };
  },
  errorResponse: (_ctx, _request, errorCode) => ({ throttleTimeMs: 0, errorCode }),
});

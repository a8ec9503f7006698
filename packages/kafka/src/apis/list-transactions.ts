/**
 * ListTransactions (key 66) v0-1 (KIP-664): the transactional ids the coordinator keeps, with their
 * producer id and state, filtered by state, producer id and (v1) how long the transaction has run.
 * An unknown state in the filter is echoed in unknownStateFilters. ACLs: only ids the principal
 * may DESCRIBE are listed.
 */
import { AclOperation } from '../acl/acl-types.js';
import { transactionalIdAllowed } from '../acl/checks.js';
import { KafkaErrorCode } from '../error-codes.js';
import { API_KEY } from '../protocol/messages/index.js';
import type { ListTransactionsRequest, ListTransactionsResponse } from '../protocol/messages/list-transactions/types.js';
import { TRANSACTION_STATES } from '../transactions/transaction.js';
import { defineApi } from './api.js';

export const listTransactionsApi = defineApi<ListTransactionsRequest, ListTransactionsResponse>({
  apiKey: API_KEY.ListTransactions,
  name: 'ListTransactions',
  minVersion: 0,
  maxVersion: 1,
  pipelined: false,
  handle(ctx, request) {
    const states = new Set(request.stateFilters);
    const producerIds = new Set(request.producerIdFilters);
    const now = ctx.broker.clock.now();
    const transactionStates = ctx.broker.transactions
      .list()
      .filter((t) => states.size === 0 || states.has(t.state))
      .filter((t) => producerIds.size === 0 || producerIds.has(t.producerId))
      .filter((t) => request.durationFilter < 0 || (t.startedAtMs >= 0 && now - t.startedAtMs > request.durationFilter))
      .filter((t) => transactionalIdAllowed(ctx, AclOperation.DESCRIBE, t.transactionalId))
      .map((t) => ({ transactionalId: t.transactionalId, producerId: t.producerId, transactionState: t.state }));
    return {
      throttleTimeMs: 0,
      errorCode: KafkaErrorCode.NONE,
      unknownStateFilters: request.stateFilters.filter((state) => !(TRANSACTION_STATES as readonly string[]).includes(state)),
      transactionStates,
    };
  },
  errorResponse: (_ctx, _request, errorCode) => ({ throttleTimeMs: 0, errorCode, unknownStateFilters: [], transactionStates: [] }),
});

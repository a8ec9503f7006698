/**
 * DescribeTransactions (key 65) v0 (KIP-664): one transactional id's state as the coordinator
 * keeps it — state, timeout, start time, producer id and epoch, and the partitions of the ongoing
 * transaction (by Kafka name). An id it does not know is TRANSACTIONAL_ID_NOT_FOUND. ACLs: DESCRIBE
 * on the transactional id; partitions of topics the principal may not DESCRIBE are left out.
 */
import { AclOperation } from '../acl/acl-types.js';
import { topicAllowed, transactionalIdAllowed } from '../acl/checks.js';
import { KafkaErrorCode } from '../error-codes.js';
import { API_KEY } from '../protocol/messages/index.js';
import type { DescribeTransactionsRequest, DescribeTransactionsResponse } from '../protocol/messages/describe-transactions/types.js';
import { defineApi } from './api.js';

function unknown(transactionalId: string, errorCode: number) {
  return { errorCode, transactionalId, transactionState: '', transactionTimeoutMs: 0, transactionStartTimeMs: -1, producerId: -1, producerEpoch: -1, topics: [] };
}

export const describeTransactionsApi = defineApi<DescribeTransactionsRequest, DescribeTransactionsResponse>({
  apiKey: API_KEY.DescribeTransactions,
  name: 'DescribeTransactions',
  minVersion: 0,
  maxVersion: 0,
  pipelined: false,
  handle(ctx, request) {
    const broker = ctx.broker;
    return {
      throttleTimeMs: 0,
      transactionStates: request.transactionalIds.map((transactionalId) => {
        if (!transactionalIdAllowed(ctx, AclOperation.DESCRIBE, transactionalId)) return unknown(transactionalId, KafkaErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED);
        const t = broker.transactions.describe(transactionalId);
        if (!t) return unknown(transactionalId, KafkaErrorCode.TRANSACTIONAL_ID_NOT_FOUND);
        const topics = [...t.partitions]
          .filter(([full]) => topicAllowed(ctx, AclOperation.DESCRIBE, full, full))
          .map(([full, partitions]) => ({ topic: broker.naming.toKafka(full), partitions: [...partitions] }));
        return {
          errorCode: KafkaErrorCode.NONE,
          transactionalId,
          transactionState: t.state,
          transactionTimeoutMs: t.timeoutMs,
          transactionStartTimeMs: t.startedAtMs,
          producerId: t.producerId,
          producerEpoch: t.producerEpoch,
          topics,
        };
      }),
    };
  },
  errorResponse: (_ctx, request, errorCode) => ({ throttleTimeMs: 0, transactionStates: (request?.transactionalIds ?? []).map((id) => unknown(id, errorCode)) }),
});

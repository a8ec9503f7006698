/**
 * TxnOffsetCommit (key 28) v0-3 (KIP-98, KIP-447): consumer offsets committed inside a
 * transaction. Kept with the transaction and given to the group only when it commits (dropped on
 * abort), so a consume-transform-produce loop moves its input and output together. v3 carries the
 * consumer's generation and member id, checked like an OffsetCommit's when given.
 */
import { KafkaErrorCode } from '../error-codes.js';
import type { OffsetCommitEntry } from '../offsets/committed-offset-store.js';
import { API_KEY } from '../protocol/messages/index.js';
import type { TxnOffsetCommitRequest, TxnOffsetCommitResponse } from '../protocol/messages/txn-offset-commit/types.js';
import { AclOperation } from '../acl/acl-types.js';
import { groupError, transactionalIdError } from '../acl/checks.js';
import { defineApi } from './api.js';
import { offsetCommitEntry } from './offset-commit.js';
import { lookupTopic } from './topic-lookup.js';

function answer(request: TxnOffsetCommitRequest | null, errorOf: (topic: string, partition: number) => number): TxnOffsetCommitResponse {
  return {
    throttleTimeMs: 0,
    topics: (request?.topics ?? []).map((t) => ({
      name: t.name,
      partitions: t.partitions.map((p) => ({ partitionIndex: p.partitionIndex, errorCode: errorOf(t.name, p.partitionIndex) })),
    })),
  };
}

export const txnOffsetCommitApi = defineApi<TxnOffsetCommitRequest, TxnOffsetCommitResponse>({
  apiKey: API_KEY.TxnOffsetCommit,
  name: 'TxnOffsetCommit',
  minVersion: 0,
  maxVersion: 3,
  pipelined: false,
  // ACLs: WRITE on the transactional id, READ on the group, then READ on each topic.
  authorize: (ctx, request) => transactionalIdError(ctx, AclOperation.WRITE, request.transactionalId) || groupError(ctx, AclOperation.READ, request.groupId),
  async handle(ctx, request) {
    const broker = ctx.broker;
    if (request.groupId === '') return answer(request, () => KafkaErrorCode.INVALID_GROUP_ID);
    if (request.generationId !== -1 || request.memberId !== '') {
      const groupError = broker.groups.validateCommit(request.groupId, request.memberId, request.generationId);
      if (groupError !== KafkaErrorCode.NONE) return answer(request, () => groupError);
    }
    const entries: OffsetCommitEntry[] = [];
    const refused = new Map<string, number>();
    for (const topic of request.topics) {
      const lookup = lookupTopic(broker, topic.name);
      for (const p of topic.partitions) {
        const { errorCode, entry } = offsetCommitEntry(ctx, topic.name, lookup, p);
        if (entry === null) refused.set(`${topic.name}\u0000${p.partitionIndex}`, errorCode);
        else entries.push(entry);
      }
    }
    const errorCode =
      entries.length === 0
        ? KafkaErrorCode.NONE
        : await broker.transactions.commitOffsets(request.transactionalId, request.producerId, request.producerEpoch, request.groupId, entries);
    return answer(request, (topic, partition) => refused.get(`${topic}\u0000${partition}`) ?? errorCode);
  },
  errorResponse: (_ctx, request, errorCode) => answer(request, () => errorCode),
});

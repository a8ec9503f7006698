/**
 * InitProducerId (key 22) v0-4 (KIP-98). Without a transactional id: a fresh producer id for an
 * idempotent producer (core.initProducer; the core checks sequences per producer and partition).
 * With one: the transaction coordinator finishes whatever the id left open and bumps its epoch,
 * fencing earlier producers with the id (transactions/transaction-coordinator.ts). v3+ may name the
 * identity the producer had (KIP-360); a mismatch is INVALID_PRODUCER_EPOCH.
 */
import { KafkaErrorCode } from '../error-codes.js';
import { kafkaErrorCodeOf } from '../errors.js';
import { API_KEY } from '../protocol/messages/index.js';
import type { InitProducerIdRequest, InitProducerIdResponse } from '../protocol/messages/init-producer-id/types.js';
import { AclOperation, ResourceType } from '../acl/acl-types.js';
import { clusterAllowed, transactionalIdError } from '../acl/checks.js';
import { defineApi } from './api.js';

export const initProducerIdApi = defineApi<InitProducerIdRequest, InitProducerIdResponse>({
  apiKey: API_KEY.InitProducerId,
  name: 'InitProducerId',
  minVersion: 0,
  maxVersion: 4,
  pipelined: false,
  // ACLs: WRITE on the transactional id; an idempotent producer needs IDEMPOTENT_WRITE on the
  // cluster or WRITE on some topic (Kafka 3.x, KIP-679).
  authorize: (ctx, request) => {
    if (request.transactionalId !== null) return transactionalIdError(ctx, AclOperation.WRITE, request.transactionalId);
    if (clusterAllowed(ctx, AclOperation.IDEMPOTENT_WRITE) || ctx.broker.authorizer?.allowsSome(ctx.access.principal, ctx.clientHost, AclOperation.WRITE, ResourceType.TOPIC)) return KafkaErrorCode.NONE;
    return KafkaErrorCode.CLUSTER_AUTHORIZATION_FAILED;
  },
  async handle({ broker }, request) {
    if (request.transactionalId !== null) {
      const identity = await broker.transactions.initProducer(request.transactionalId, request.transactionTimeoutMs, request.producerId, request.producerEpoch);
      return { throttleTimeMs: 0, ...identity };
    }
    try {
      const { producerId, producerEpoch } = await broker.core.initProducer(null);
      return { throttleTimeMs: 0, errorCode: KafkaErrorCode.NONE, producerId, producerEpoch };
    } catch (error) {
      return { throttleTimeMs: 0, errorCode: kafkaErrorCodeOf(error), producerId: -1, producerEpoch: -1 };
    }
  },
  errorResponse: (_ctx, _request, errorCode) => ({ errorCode, producerId: -1, producerEpoch: -1 }),
});

/**
 * InitProducerId (key 22) v0-4 (KIP-98): a producer id and epoch for idempotent producers from
 * core.initProducer; the core tracks sequences per (producer, partition). Transactions are not
 * supported, so a transactional id is refused.
 */
import { KafkaErrorCode } from '../error-codes.js';
import { kafkaErrorCodeOf } from '../errors.js';
import { API_KEY } from '../protocol/messages/index.js';
import type { InitProducerIdRequest, InitProducerIdResponse } from '../protocol/messages/init-producer-id/types.js';
import { defineApi } from './api.js';

export const initProducerIdApi = defineApi<InitProducerIdRequest, InitProducerIdResponse>({
  apiKey: API_KEY.InitProducerId,
  name: 'InitProducerId',
  minVersion: 0,
  maxVersion: 4,
  pipelined: false,
  async handle({ broker }, request) {
    if (request.transactionalId !== null) {
      return { throttleTimeMs: 0, errorCode: KafkaErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED, producerId: -1, producerEpoch: -1 };
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

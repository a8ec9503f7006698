/**
 * Produce (key 0). v3-9 carry record batches v2 (magic 2): each partition's batches go to
 * core.append as is (CRC-32C verified and stored byte for byte by the core, base offset assigned).
 * v0-2 carry message sets v0/v1, which we do not store: UNSUPPORTED_VERSION per partition, while
 * the range still starts at 0 for librdkafka's feature checks (see api-versions.ts).
 *
 * Every append is issued before the first await, so a pipelined Produce that follows cannot
 * overtake this one on a partition. acks=0 gets no response at all.
 */
import { readBatchHeader, type AppendResult } from '@strata/core';
import { KafkaErrorCode } from '../error-codes.js';
import { kafkaErrorCodeOf } from '../errors.js';
import { API_KEY } from '../protocol/messages/index.js';
import type { ProduceRequest, ProduceResponse } from '../protocol/messages/produce/types.js';
import type { Elem } from './elem.js';
import { AclOperation } from '../acl/acl-types.js';
import { topicAllowed, transactionalIdAllowed } from '../acl/checks.js';
import { FRAME_POOL_FRAME_BYTES_MIN } from '../protocol/frame-pool.js';
import { defineApi } from './api.js';
import { lookupTopic, partitionError } from './topic-lookup.js';

type ProduceResponsePartitionProduceResponse = Elem<Elem<ProduceResponse['responses']>['partitionResponses']>;

export const PRODUCE_FIRST_MAGIC2_VERSION = 3;
/**
 * Record sets of at least this many bytes are given to the core (`transfer`) instead of copied by
 * it: the copy of a ~1 MB batch into fresh memory was ~1 ms of the server's time per request.
 * Smaller ones are too when their frame is a buffer of its own below the frame pool's minimum.
 */
export const PRODUCE_TRANSFER_BYTES_MIN = 128 * 1024;

type Outcome = ProduceResponsePartitionProduceResponse | Promise<ProduceResponsePartitionProduceResponse>;

/**
 * What the core does not judge but a Kafka broker must: clients may not write control batches
 * (Kafka's LogValidator: INVALID_RECORD), and a transactional batch must belong to an ongoing
 * transaction that added this partition (`checkTransactional`, the transaction coordinator's
 * verdict). Returns NONE or the error code; malformed headers are left to the core (CORRUPT_MESSAGE).
 */
export function checkClientBatches(records: Buffer, checkTransactional: (producerId: number, producerEpoch: number) => number): number {
  for (let position = 0; position + 61 <= records.length; ) {
    let header;
    try {
      header = readBatchHeader(records, position);
    } catch {
      return KafkaErrorCode.NONE;
    }
    if (header.isControl) return KafkaErrorCode.INVALID_RECORD;
    if (header.isTransactional) {
      const errorCode = checkTransactional(header.producerId, header.producerEpoch);
      if (errorCode !== KafkaErrorCode.NONE) return errorCode;
    }
    position += 12 + header.batchLength;
  }
  return KafkaErrorCode.NONE;
}

function failed(index: number, errorCode: number): ProduceResponsePartitionProduceResponse {
  return { index, errorCode, baseOffset: -1, logAppendTimeMs: -1, logStartOffset: -1 };
}

export const produceApi = defineApi<ProduceRequest, ProduceResponse>({
  apiKey: API_KEY.Produce,
  name: 'Produce',
  minVersion: 0,
  maxVersion: 9,
  pipelined: true,
  async handle(ctx, request) {
    const { broker, apiVersion } = ctx;
    const unsupported = apiVersion < PRODUCE_FIRST_MAGIC2_VERSION;
    const badAcks = request.acks !== 0 && request.acks !== 1 && request.acks !== -1;
    // ACLs: WRITE on the transactional id for a transactional producer, WRITE on each topic.
    const transactionalIdRefused = request.transactionalId !== null && !transactionalIdAllowed(ctx, AclOperation.WRITE, request.transactionalId);
    const topics: Array<{ name: string; outcomes: Outcome[] }> = [];
    for (const topicData of request.topicData) {
      const lookup = unsupported || badAcks ? null : lookupTopic(broker, topicData.name);
      const outcomes: Outcome[] = [];
      for (const { index, records } of topicData.partitionData) {
        if (unsupported) {
          outcomes.push(failed(index, KafkaErrorCode.UNSUPPORTED_VERSION));
          continue;
        }
        if (badAcks) {
          outcomes.push(failed(index, KafkaErrorCode.INVALID_REQUIRED_ACKS));
          continue;
        }
        if (transactionalIdRefused) {
          outcomes.push(failed(index, KafkaErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED));
          continue;
        }
        if (!topicAllowed(ctx, AclOperation.WRITE, topicData.name, lookup!.full)) {
          outcomes.push(failed(index, KafkaErrorCode.TOPIC_AUTHORIZATION_FAILED));
          continue;
        }
        const errorCode = partitionError(lookup!, index);
        if (errorCode !== KafkaErrorCode.NONE) {
          outcomes.push(failed(index, errorCode));
          continue;
        }
        if (!records || records.length === 0) {
          outcomes.push(failed(index, KafkaErrorCode.CORRUPT_MESSAGE));
          continue;
        }
        const full = lookup!.ok ? lookup!.full : '';
        const batchError = checkClientBatches(records, (producerId, producerEpoch) =>
          broker.transactions.checkProduce(request.transactionalId, producerId, producerEpoch, full, index),
        );
        if (batchError !== KafkaErrorCode.NONE) {
          outcomes.push(failed(index, batchError));
          continue;
        }
        let appended: Promise<AppendResult>;
        try {
          // A large batch whose memory is mostly its own (a frame FrameDecoder assembled in a
          // buffer of its own, from the frame pool or fresh: not a view into a big chunk holding
          // other data) is handed to the core without a copy; the core's tail cache then holds at
          // most twice what it counts. The frame stays out of the pool from then on.
          // Also a frame too small for the frame pool (it would be garbage after the copy): the
          // core keeps it instead of a copy, one allocation per request instead of two, and half
          // the external memory that drives V8's mark-compacts (produce-latency.ts).
          const ownBuffer = records.buffer.byteLength <= 2 * records.length;
          const transfer = ownBuffer && (records.length >= PRODUCE_TRANSFER_BYTES_MIN || records.buffer.byteLength < FRAME_POOL_FRAME_BYTES_MIN);
          if (transfer) ctx.keepFrame();
          appended = broker.core.append(full, index, { kind: 'batches', data: records, transfer });
        } catch (error) {
          outcomes.push({ ...failed(index, kafkaErrorCodeOf(error)), errorMessage: (error as Error).message });
          continue;
        }
        outcomes.push(
          appended.then(
            (result) => ({
              index,
              errorCode: KafkaErrorCode.NONE,
              baseOffset: result.baseOffset,
              logAppendTimeMs: -1, // CreateTime topics: the producer's timestamps stand
              logStartOffset: result.logStartOffset,
            }),
            (error: unknown) => ({ ...failed(index, kafkaErrorCodeOf(error)), errorMessage: (error as Error)?.message ?? null }),
          ),
        );
      }
      topics.push({ name: topicData.name, outcomes });
    }
    const responses = [];
    for (const topic of topics) responses.push({ name: topic.name, partitionResponses: await Promise.all(topic.outcomes) });
    if (request.acks === 0) return null; // the client waits for nothing (docs/protocol.html, Produce)
    return { responses, throttleTimeMs: 0 };
  },
  errorResponse: (_ctx, request, errorCode) => ({
    responses: (request?.topicData ?? []).map((t) => ({ name: t.name, partitionResponses: t.partitionData.map((p) => failed(p.index, errorCode)) })),
    throttleTimeMs: 0,
  }),
});

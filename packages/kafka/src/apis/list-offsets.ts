/**
 * ListOffsets (key 2) v0-7: timestamp -1 = latest (the high watermark; the last stable offset for
 * read_committed), -2 = earliest (log start), -3 (v7+, KIP-734) = the first record with the largest
 * timestamp, T >= 0 = the first offset whose timestamp is >= T (-1/-1 when none).
 * v0 answers with the old offsets array.
 */
import { KafkaErrorCode } from '../error-codes.js';
import { kafkaErrorCodeOf } from '../errors.js';
import { API_KEY } from '../protocol/messages/index.js';
import type { ListOffsetsRequest, ListOffsetsResponse } from '../protocol/messages/list-offsets/types.js';
import { AclOperation } from '../acl/acl-types.js';
import { topicAllowed } from '../acl/checks.js';
import { defineApi } from './api.js';
import type { Elem } from './elem.js';
import { lookupTopic, partitionError } from './topic-lookup.js';

type PartitionResponse = Elem<Elem<ListOffsetsResponse['topics']>['partitions']>;

export const LATEST_TIMESTAMP = -1;
export const EARLIEST_TIMESTAMP = -2;
export const MAX_TIMESTAMP = -3;
/** KIP-734: the first ListOffsets version that may ask for MAX_TIMESTAMP. */
const MAX_TIMESTAMP_VERSION = 7;
const READ_COMMITTED = 1;

export const listOffsetsApi = defineApi<ListOffsetsRequest, ListOffsetsResponse>({
  apiKey: API_KEY.ListOffsets,
  name: 'ListOffsets',
  minVersion: 0,
  maxVersion: 7,
  pipelined: false,
  async handle(ctx, request) {
    const { broker, apiVersion } = ctx;
    const topics = [];
    for (const topic of request.topics) {
      const lookup = lookupTopic(broker, topic.name);
      const partitions: PartitionResponse[] = [];
      for (const p of topic.partitions) {
        const answer = (errorCode: number, offset: number, timestamp: number): void =>
          void partitions.push({
            partitionIndex: p.partitionIndex,
            errorCode,
            oldStyleOffsets: apiVersion === 0 && offset >= 0 ? [offset] : [],
            offset,
            timestamp,
            leaderEpoch: -1,
          });
        const errorCode = topicAllowed(ctx, AclOperation.DESCRIBE, topic.name, lookup.full) ? partitionError(lookup, p.partitionIndex) : KafkaErrorCode.TOPIC_AUTHORIZATION_FAILED;
        if (errorCode !== KafkaErrorCode.NONE || !lookup.ok) {
          answer(errorCode, -1, -1);
          continue;
        }
        try {
          const offsets = broker.core.offsets(lookup.full, p.partitionIndex);
          if (p.timestamp === LATEST_TIMESTAMP) {
            answer(KafkaErrorCode.NONE, request.isolationLevel === READ_COMMITTED ? offsets.lastStableOffset : offsets.highWatermark, -1);
          } else if (p.timestamp === EARLIEST_TIMESTAMP) {
            answer(KafkaErrorCode.NONE, offsets.logStartOffset, -1);
          } else if (p.timestamp === MAX_TIMESTAMP && apiVersion >= MAX_TIMESTAMP_VERSION) {
            const found = await broker.core.offsetOfMaxTimestamp(lookup.full, p.partitionIndex);
            answer(KafkaErrorCode.NONE, found ? found.offset : -1, found ? found.timestamp : -1);
          } else if (p.timestamp < 0) {
            answer(KafkaErrorCode.UNSUPPORTED_VERSION, -1, -1);
          } else {
            const found = await broker.core.offsetForTimestamp(lookup.full, p.partitionIndex, p.timestamp);
            answer(KafkaErrorCode.NONE, found ? found.offset : -1, found ? found.timestamp : -1);
          }
        } catch (error) {
          answer(kafkaErrorCodeOf(error), -1, -1);
        }
      }
      topics.push({ name: topic.name, partitions });
    }
    return { throttleTimeMs: 0, topics };
  },
  errorResponse: (_ctx, request, errorCode) => ({
    topics: (request?.topics ?? []).map((t) => ({ name: t.name, partitions: t.partitions.map((p) => ({ partitionIndex: p.partitionIndex, errorCode })) })),
  }),
});

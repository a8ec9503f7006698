/**
 * OffsetCommit (key 8) v0-8: validated against the group's generation (a member of a live group),
 * or accepted from a simple consumer (generation -1, no member id) when the group has no members;
 * stored durably in the committed-offset store before we answer.
 */
import { KafkaErrorCode } from '../error-codes.js';
import { kafkaErrorCodeOf } from '../errors.js';
import type { OffsetCommitEntry } from '../offsets/committed-offset-store.js';
import { API_KEY } from '../protocol/messages/index.js';
import type { OffsetCommitRequest, OffsetCommitResponse } from '../protocol/messages/offset-commit/types.js';
import { AclOperation } from '../acl/acl-types.js';
import { groupError, topicAllowed } from '../acl/checks.js';
import { defineApi, type RequestContext } from './api.js';
import { lookupTopic, partitionError, type TopicLookup } from './topic-lookup.js';

/** Kafka's offset.metadata.max.bytes. */
export const offsetMetadataBytesMax = 4096;

/**
 * One partition of an offset commit (OffsetCommit, TxnOffsetCommit) once its group may commit: READ
 * on the topic, the partition exists, metadata within offset.metadata.max.bytes. The entry to store,
 * or the partition's error.
 */
export function offsetCommitEntry(
  ctx: RequestContext,
  topicName: string,
  lookup: TopicLookup,
  p: { readonly partitionIndex: number; readonly committedOffset: number; readonly committedLeaderEpoch: number; readonly committedMetadata: string | null },
): { errorCode: number; entry: OffsetCommitEntry | null } {
  let errorCode = topicAllowed(ctx, AclOperation.READ, topicName, lookup.full) ? partitionError(lookup, p.partitionIndex) : KafkaErrorCode.TOPIC_AUTHORIZATION_FAILED;
  if (errorCode === KafkaErrorCode.NONE && p.committedMetadata !== null && Buffer.byteLength(p.committedMetadata) > offsetMetadataBytesMax) {
    errorCode = KafkaErrorCode.OFFSET_METADATA_TOO_LARGE;
  }
  if (errorCode !== KafkaErrorCode.NONE || !lookup.ok) return { errorCode, entry: null };
  return {
    errorCode,
    entry: { topic: lookup.full, partition: p.partitionIndex, offset: p.committedOffset, leaderEpoch: p.committedLeaderEpoch, metadata: p.committedMetadata },
  };
}

export const offsetCommitApi = defineApi<OffsetCommitRequest, OffsetCommitResponse>({
  apiKey: API_KEY.OffsetCommit,
  name: 'OffsetCommit',
  minVersion: 0,
  maxVersion: 8,
  pipelined: false,
  async handle(ctx, request) {
    const { broker, apiVersion } = ctx;
    const generationId = apiVersion >= 1 ? request.generationIdOrMemberEpoch : -1;
    const memberId = apiVersion >= 1 ? request.memberId : '';
    // ACLs: READ on the group, then READ on each topic.
    const commitError =
      request.groupId === ''
        ? KafkaErrorCode.INVALID_GROUP_ID
        : groupError(ctx, AclOperation.READ, request.groupId) || broker.groups.validateCommit(request.groupId, memberId, generationId);
    const entries: OffsetCommitEntry[] = [];
    const topics = request.topics.map((topic) => {
      const lookup = commitError === KafkaErrorCode.NONE ? lookupTopic(broker, topic.name) : null;
      return {
        name: topic.name,
        partitions: topic.partitions.map((p) => {
          if (commitError !== KafkaErrorCode.NONE) return { partitionIndex: p.partitionIndex, errorCode: commitError };
          const { errorCode, entry } = offsetCommitEntry(ctx, topic.name, lookup!, p);
          if (entry !== null) entries.push(entry);
          return { partitionIndex: p.partitionIndex, errorCode };
        }),
      };
    });
    if (entries.length > 0) {
      try {
        await broker.offsets.commit(request.groupId, entries);
      } catch (error) {
        const errorCode = kafkaErrorCodeOf(error);
        broker.logger.warn('offset commit failed', { group: request.groupId, error });
        for (const t of topics) for (const p of t.partitions) if (p.errorCode === KafkaErrorCode.NONE) p.errorCode = errorCode;
      }
    }
    return { throttleTimeMs: 0, topics };
  },
  errorResponse: (_ctx, request, errorCode) => ({
    topics: (request?.topics ?? []).map((t) => ({ name: t.name, partitions: t.partitions.map((p) => ({ partitionIndex: p.partitionIndex, errorCode })) })),
  }),
});

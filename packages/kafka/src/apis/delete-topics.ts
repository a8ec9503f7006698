/** DeleteTopics (key 20) v0-6: by name (v0-5) or by name or topic id (v6). */
import { topicIdOf, ZERO_UUID } from '../broker.js';
import { KafkaErrorCode } from '../error-codes.js';
import { errorMessageOf, kafkaErrorCodeOf } from '../errors.js';
import { API_KEY } from '../protocol/messages/index.js';
import type { DeleteTopicsRequest, DeleteTopicsResponse } from '../protocol/messages/delete-topics/types.js';
import { AclOperation } from '../acl/acl-types.js';
import { topicAllowed } from '../acl/checks.js';
import { defineApi } from './api.js';
import { lookupTopic, topicNameOfId } from './topic-lookup.js';

const TOPIC_IDS_VERSION = 6;

export const deleteTopicsApi = defineApi<DeleteTopicsRequest, DeleteTopicsResponse>({
  apiKey: API_KEY.DeleteTopics,
  name: 'DeleteTopics',
  minVersion: 0,
  maxVersion: 6,
  pipelined: false,
  async handle(ctx, request) {
    const { broker, apiVersion } = ctx;
    const wanted =
      apiVersion >= TOPIC_IDS_VERSION
        ? request.topics.map((t) => ({ name: t.name, topicId: t.topicId }))
        : request.topicNames.map((name) => ({ name: name as string | null, topicId: ZERO_UUID }));
    const responses = [];
    for (const want of wanted) {
      const name = want.name ?? (want.topicId.equals(ZERO_UUID) ? null : topicNameOfId(broker, want.topicId));
      if (name === null) {
        responses.push({ name: null, topicId: want.topicId, errorCode: KafkaErrorCode.UNKNOWN_TOPIC_ID, errorMessage: 'unknown topic id' });
        continue;
      }
      const lookup = lookupTopic(broker, name);
      // ACLs: DELETE on the topic (asked before existence, so a refusal tells nothing about it).
      if (!topicAllowed(ctx, AclOperation.DELETE, name, lookup.full)) {
        responses.push({ name, topicId: want.topicId, errorCode: KafkaErrorCode.TOPIC_AUTHORIZATION_FAILED, errorMessage: null });
        continue;
      }
      if (!lookup.ok) {
        responses.push({ name, topicId: want.topicId, errorCode: lookup.errorCode, errorMessage: null });
        continue;
      }
      const topicId = topicIdOf(lookup.full, lookup.description.createdAtMs);
      try {
        await broker.core.topics.delete(lookup.full);
        responses.push({ name, topicId, errorCode: KafkaErrorCode.NONE, errorMessage: null });
      } catch (error) {
        responses.push({ name, topicId, errorCode: kafkaErrorCodeOf(error), errorMessage: errorMessageOf(error) });
      }
    }
    return { throttleTimeMs: 0, responses };
  },
  errorResponse: (_ctx, request, errorCode) => ({
    responses: [...(request?.topicNames ?? []), ...(request?.topics ?? []).map((t) => t.name ?? '')].map((name) => ({ name, errorCode })),
  }),
});

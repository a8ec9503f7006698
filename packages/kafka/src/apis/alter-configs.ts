/**
 * AlterConfigs (key 33) v0-2: replaces a topic's whole config set: named configs are set, every
 * other mapped override goes back to the namespace default (Kafka's non-incremental semantics).
 */
import { API_KEY } from '../protocol/messages/index.js';
import type { AlterConfigsRequest, AlterConfigsResponse } from '../protocol/messages/alter-configs/types.js';
import { applyTopicConfig, TOPIC_CONFIGS } from '../topic-configs.js';
import { alterTopicConfigs } from './alter-topic-configs.js';
import { defineApi } from './api.js';

export const alterConfigsApi = defineApi<AlterConfigsRequest, AlterConfigsResponse>({
  apiKey: API_KEY.AlterConfigs,
  name: 'AlterConfigs',
  minVersion: 0,
  maxVersion: 2,
  pipelined: false,
  async handle(ctx, request) {
    const responses = [];
    for (const resource of request.resources) {
      responses.push(
        await alterTopicConfigs(ctx, resource, request.validateOnly, (patch) => {
          for (const name of Object.keys(TOPIC_CONFIGS)) applyTopicConfig(patch, name, null);
          for (const c of resource.configs) {
            const error = applyTopicConfig(patch, c.name, c.value);
            if (error) return error;
          }
          return null;
        }),
      );
    }
    return { throttleTimeMs: 0, responses };
  },
  errorResponse: (_ctx, request, errorCode) => ({
    responses: (request?.resources ?? []).map((r) => ({ errorCode, errorMessage: null, resourceType: r.resourceType, resourceName: r.resourceName })),
  }),
});

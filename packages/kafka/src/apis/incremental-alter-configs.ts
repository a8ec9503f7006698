/**
 * IncrementalAlterConfigs (key 44) v0-1 (KIP-339): SET (0) and DELETE (1) per config. APPEND (2)
 * and SUBTRACT (3) apply to list configs; cleanup.policy is the only list we map.
 */
import { API_KEY } from '../protocol/messages/index.js';
import type { IncrementalAlterConfigsRequest, IncrementalAlterConfigsResponse } from '../protocol/messages/incremental-alter-configs/types.js';
import { applyTopicConfig } from '../topic-configs.js';
import { alterTopicConfigs } from './alter-topic-configs.js';
import { defineApi } from './api.js';
import { lookupTopic } from './topic-lookup.js';

const OP_SET = 0;
const OP_DELETE = 1;
const OP_APPEND = 2;
const OP_SUBTRACT = 3;

export const incrementalAlterConfigsApi = defineApi<IncrementalAlterConfigsRequest, IncrementalAlterConfigsResponse>({
  apiKey: API_KEY.IncrementalAlterConfigs,
  name: 'IncrementalAlterConfigs',
  minVersion: 0,
  maxVersion: 1,
  pipelined: false,
  async handle(ctx, request) {
    const responses = [];
    for (const resource of request.resources) {
      responses.push(
        await alterTopicConfigs(ctx, resource, request.validateOnly, (patch) => {
          for (const c of resource.configs) {
            let value: string | null;
            switch (c.configOperation) {
              case OP_SET:
                value = c.value;
                break;
              case OP_DELETE:
                value = null;
                break;
              case OP_APPEND:
              case OP_SUBTRACT: {
                if (c.name !== 'cleanup.policy') return `${c.name} is not a list config`;
                const lookup = lookupTopic(ctx.broker, resource.resourceName);
                const current = new Set(lookup.ok ? lookup.description.policies.cleanupPolicy.split(',') : []);
                for (const v of (c.value ?? '').split(',').map((s) => s.trim()).filter((s) => s !== '')) {
                  if (c.configOperation === OP_APPEND) current.add(v);
                  else current.delete(v);
                }
                value = [...current].join(',');
                if (value === '') return 'cleanup.policy cannot be empty';
                break;
              }
              default:
                return `unknown config operation ${c.configOperation}`;
            }
            const error = applyTopicConfig(patch, c.name, value);
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

/**
 * ApiVersions (key 18) v0-3. Advertises every API in the handler table with its range (the SASL
 * ones only where SASL is on). Produce
 * starts at 0 although v0-2 are answered UNSUPPORTED_VERSION: librdkafka < 2.11 turns compression
 * off unless Produce v0 is advertised (KAFKA-18659), and checks other exact old versions too.
 */
import type { ApiVersionsRequest, ApiVersionsResponse } from '../protocol/messages/api-versions/types.js';
import { API_KEY } from '../protocol/messages/index.js';
import { defineApi, type ApiHandler } from './api.js';

/** Served only on a listener with SASL (KafkaConfig.sasl): not advertised elsewhere. */
const SASL_API_KEYS: ReadonlySet<number> = new Set([API_KEY.SaslHandshake, API_KEY.SaslAuthenticate]);

export function createApiVersionsApi(table: () => Iterable<ApiHandler>) {
  const advertised = (sasl: boolean) =>
    [...table()]
      .filter((api) => sasl || !SASL_API_KEYS.has(api.apiKey))
      .sort((a, b) => a.apiKey - b.apiKey)
      .map((api) => ({ apiKey: api.apiKey, minVersion: api.minVersion, maxVersion: api.maxVersion }));
  return defineApi<ApiVersionsRequest, ApiVersionsResponse>({
    apiKey: API_KEY.ApiVersions,
    name: 'ApiVersions',
    minVersion: 0,
    maxVersion: 3,
    pipelined: false,
    handle: (ctx) => ({ errorCode: 0, apiKeys: advertised(ctx.broker.config.sasl !== null), throttleTimeMs: 0 }),
    // KIP-511: an unsupported version gets our own ApiVersions range so the client can retry.
    errorResponse: (_ctx, _request, errorCode) => ({
      errorCode,
      apiKeys: [{ apiKey: API_KEY.ApiVersions, minVersion: 0, maxVersion: 3 }],
      throttleTimeMs: 0,
    }),
  });
}

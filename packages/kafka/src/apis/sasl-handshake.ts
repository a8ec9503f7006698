/**
 * SaslHandshake (key 17) v0-1 (KIP-43, KIP-152): the client names a mechanism. v1 is followed by
 * SaslAuthenticate requests; v0 by the mechanism's messages as bare size-prefixed frames
 * (connection.ts). With SASL off on the listener, or a second handshake, the answer is
 * ILLEGAL_SASL_STATE and the connection closes, as Kafka does; an unknown mechanism gets
 * UNSUPPORTED_SASL_MECHANISM with the enabled ones, then the connection closes.
 */
import { API_KEY } from '../protocol/messages/index.js';
import type { SaslHandshakeRequest, SaslHandshakeResponse } from '../protocol/messages/sasl-handshake/types.js';
import { KafkaErrorCode } from '../error-codes.js';
import { defineApi } from './api.js';

export const saslHandshakeApi = defineApi<SaslHandshakeRequest, SaslHandshakeResponse>({
  apiKey: API_KEY.SaslHandshake,
  name: 'SaslHandshake',
  minVersion: 0,
  maxVersion: 1,
  pipelined: false,
  handle: (ctx, request) => {
    const sasl = ctx.sasl;
    if (sasl === null || sasl.state !== 'handshake') {
      ctx.closeAfterResponse();
      return { errorCode: KafkaErrorCode.ILLEGAL_SASL_STATE, mechanisms: sasl ? [...sasl.settings.mechanisms] : [] };
    }
    if (!sasl.handshake(request.mechanism, ctx.apiVersion)) {
      ctx.broker.logger.info('SASL mechanism not enabled', { mechanism: request.mechanism.slice(0, 64), client: ctx.clientHost });
      ctx.closeAfterResponse();
      return { errorCode: KafkaErrorCode.UNSUPPORTED_SASL_MECHANISM, mechanisms: [...sasl.settings.mechanisms] };
    }
    return { errorCode: KafkaErrorCode.NONE, mechanisms: [...sasl.settings.mechanisms] };
  },
  errorResponse: (_ctx, _request, errorCode) => ({ errorCode, mechanisms: [] }),
});

/**
 * SaslAuthenticate (key 36) v0-2 (KIP-152, KIP-368): one message of the SASL exchange chosen by
 * SaslHandshake v1. A failed authentication is answered with SASL_AUTHENTICATION_FAILED and a
 * message, then the connection closes. Sessions do not expire (sessionLifetimeMs 0: no
 * re-authentication is asked for).
 */
import { API_KEY } from '../protocol/messages/index.js';
import type { SaslAuthenticateRequest, SaslAuthenticateResponse } from '../protocol/messages/sasl-authenticate/types.js';
import { KafkaErrorCode } from '../error-codes.js';
import { SaslFailure } from '../sasl/scram.js';
import { defineApi } from './api.js';

const EMPTY = Buffer.alloc(0);

export const saslAuthenticateApi = defineApi<SaslAuthenticateRequest, SaslAuthenticateResponse>({
  apiKey: API_KEY.SaslAuthenticate,
  name: 'SaslAuthenticate',
  minVersion: 0,
  maxVersion: 2,
  pipelined: false,
  handle: async (ctx, request) => {
    const sasl = ctx.sasl;
    if (sasl === null || sasl.state !== 'exchange' || sasl.bareTokens) {
      ctx.closeAfterResponse();
      return { errorCode: KafkaErrorCode.ILLEGAL_SASL_STATE, errorMessage: 'Unexpected SaslAuthenticate request', authBytes: EMPTY, sessionLifetimeMs: 0 };
    }
    try {
      const answer = await sasl.respond(request.authBytes);
      if (sasl.authenticated) ctx.broker.logger.info('SASL authenticated', { user: sasl.user, mechanism: sasl.mechanism, client: ctx.clientHost });
      return { errorCode: KafkaErrorCode.NONE, errorMessage: null, authBytes: answer, sessionLifetimeMs: 0 };
    } catch (error) {
      if (!(error instanceof SaslFailure)) throw error;
      ctx.broker.logger.info('SASL authentication failed', { mechanism: sasl.mechanism, reason: error.detail, client: ctx.clientHost });
      ctx.closeAfterResponse();
      return { errorCode: KafkaErrorCode.SASL_AUTHENTICATION_FAILED, errorMessage: error.message, authBytes: EMPTY, sessionLifetimeMs: 0 };
    }
  },
  errorResponse: (_ctx, _request, errorCode) => ({ errorCode, errorMessage: null, authBytes: EMPTY, sessionLifetimeMs: 0 }),
});

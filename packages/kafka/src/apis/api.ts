/**
 * The shape of one API's logic: a pure function from a decoded request (any version: the generated
 * `<Api>Request` type spans them all) to a response object, or null for "send nothing" (Produce
 * acks=0). Codecs, framing and ordering are the connection's business, not the API's.
 */
import type { KafkaBroker } from '../broker.js';
import type { ConnectionAccess } from '../acl/access.js';
import type { SaslSession } from '../sasl/session.js';

export interface RequestContext {
  readonly broker: KafkaBroker;
  readonly apiVersion: number;
  readonly clientId: string | null;
  readonly clientHost: string;
  /** Aborted when the connection closes (ends long polls early). */
  readonly signal: AbortSignal;
  /**
   * Runs `callback` once this request's response has been handed to the socket (its write
   * completed, successfully or not), or once it is certain never to be written (connection
   * closed). After that nothing references the response's buffers: Fetch releases its core reads
   * here (ReadResult.release), so their read-ahead buffers can be reused. Register before the
   * handler returns; the callback may never run (a failed handler), which is always safe.
   */
  onResponseSent(callback: () => void): void;
  /**
   * Says that this request's frame was given away (Produce handing a large batch to the core with
   * `transfer`): the connection must not put the frame back in its frame pool for reuse.
   */
  keepFrame(): void;
  /** The connection's SASL state (sasl/session.ts); null when the listener has no SASL. */
  readonly sasl: SaslSession | null;
  /** Closes the connection once this request's response is written (a refused SASL login). */
  closeAfterResponse(): void;
  /** The connection's principal and its ACL decisions (acl/checks.ts has the per-resource helpers). */
  readonly access: ConnectionAccess;
}

export interface ApiHandler<Req = any, Res = any> {
  readonly apiKey: number;
  readonly name: string;
  /** The range ApiVersions advertises; versions outside get UNSUPPORTED_VERSION. */
  readonly minVersion: number;
  readonly maxVersion: number;
  /**
   * True when the next request on the connection may start before this one completes (Produce,
   * Fetch): responses still go out in order. Such a handler must issue its side effects before its
   * first await, so requests that follow cannot overtake them.
   */
  readonly pipelined: boolean;
  /**
   * ACL check of the whole request (acl/checks.ts), for APIs whose refusal is one error for
   * everything (group membership, EndTxn, cluster APIs): NONE, or the code `errorResponse` carries.
   * APIs that refuse per topic or partition check inside `handle`.
   */
  readonly authorize?: (ctx: RequestContext, request: Req) => number;
  handle(ctx: RequestContext, request: Req): Promise<Res | null> | Res | null;
  /** The response for a request we will not serve (unsupported version), carrying `errorCode`. */
  errorResponse(ctx: RequestContext, request: Req | null, errorCode: number): Res;
}

export function defineApi<Req, Res>(api: ApiHandler<Req, Res>): ApiHandler<Req, Res> {
  return api;
}

import { API_KEY, messageCodecs } from './messages/index.js';
import type { Reader } from './reader.js';
import type { Writer } from './writer.js';

export interface RequestHeader {
  apiKey: number;
  apiVersion: number;
  correlationId: number;
  clientId: string | null;
}

/**
 * Request header version for an API version (RequestHeader.json): v2 (v1 + tagged fields) for flexible
 * versions, v1 otherwise. An unknown API key or a version newer than we know is judged by the API's
 * flexible range, which is open-ended ("N+"), so the header still parses and the broker can answer
 * UNSUPPORTED_VERSION; an unknown API key is read as v1.
 */
export function requestHeaderVersion(apiKey: number, apiVersion: number): 1 | 2 {
  const codecs = messageCodecs.get(apiKey);
  return codecs !== undefined && apiVersion >= codecs.flexibleMinVersion ? 2 : 1;
}

/**
 * Response header version: v1 (correlation id + tagged fields) for flexible versions, v0 otherwise.
 * ApiVersions always answers with v0 so that a client can parse the answer before it knows which
 * versions the broker speaks (ApiVersionsResponse.json: "tagged fields are only supported in the body").
 */
export function responseHeaderVersion(apiKey: number, apiVersion: number): 0 | 1 {
  if (apiKey === API_KEY.ApiVersions) return 0;
  const codecs = messageCodecs.get(apiKey);
  return codecs !== undefined && apiVersion >= codecs.flexibleMinVersion ? 1 : 0;
}

/**
 * Decodes the request header at the start of a frame; the reader is left at the body.
 * Layout: api_key INT16, api_version INT16, correlation_id INT32, client_id NULLABLE_STRING, and in
 * header v2 a TAGGED_FIELDS section. ClientId stays an int16-length string even in v2
 * (RequestHeader.json: "flexibleVersions": "none"). Throws KafkaDecodeError on truncated input.
 */
export function decodeRequestHeader(r: Reader): RequestHeader {
  const apiKey = r.int16();
  const apiVersion = r.int16();
  const correlationId = r.int32();
  const clientId = r.nullableString();
  if (requestHeaderVersion(apiKey, apiVersion) === 2) r.skipTaggedFields();
  return { apiKey, apiVersion, correlationId, clientId };
}

/** Encodes a request header (for clients and tests), choosing v1 or v2 from the API version. */
export function encodeRequestHeader(w: Writer, header: RequestHeader): void {
  w.int16(header.apiKey);
  w.int16(header.apiVersion);
  w.int32(header.correlationId);
  w.nullableString(header.clientId);
  if (requestHeaderVersion(header.apiKey, header.apiVersion) === 2) w.emptyTaggedFields();
}

/** Response header v0 = correlation_id INT32; v1 adds an (empty) TAGGED_FIELDS section. */
export function encodeResponseHeader(w: Writer, correlationId: number, version: 0 | 1 | number): void {
  w.int32(correlationId);
  if (version >= 1) w.emptyTaggedFields();
}

/** Decodes a response header of the given version (for clients and tests). */
export function decodeResponseHeader(r: Reader, version: 0 | 1 | number): { correlationId: number } {
  const correlationId = r.int32();
  if (version >= 1) r.skipTaggedFields();
  return { correlationId };
}

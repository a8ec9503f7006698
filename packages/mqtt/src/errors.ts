/**
 * Core error codes → MQTT 5 reason codes for PUBACK/PUBREC (docs/errors.md "MQTT"). MQTT 3.1.1 has no
 * negative acknowledgement: a publish that cannot be stored closes the connection, so the client
 * re-sends it after reconnecting.
 */
import type { StrataErrorCode } from '@strata/core';
import { RC } from './reason-codes.js';

export const STRATA_TO_MQTT_REASON: Readonly<Partial<Record<StrataErrorCode, number>>> = {
  MESSAGE_TOO_LARGE: RC.packetTooLarge,
  LIMIT_EXCEEDED: RC.quotaExceeded,
  STORAGE_FULL: RC.quotaExceeded,
  STORAGE_ERROR: RC.unspecifiedError,
  UNKNOWN_TOPIC: RC.topicNameInvalid,
  CLOSED: RC.serverUnavailable,
  TIMEOUT: RC.unspecifiedError,
};

/** The reason code for a failed append; anything unlisted (or not a StrataError) is 0x80. */
export function reasonForAppendError(error: unknown): number {
  const code = (error as { code?: StrataErrorCode } | null)?.code;
  return (code !== undefined ? STRATA_TO_MQTT_REASON[code] : undefined) ?? RC.unspecifiedError;
}

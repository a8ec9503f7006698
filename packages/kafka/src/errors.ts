/**
 * Core errors → Kafka error codes: ONE data table (docs/errors.md repeats it). Every API file maps
 * a caught error through `kafkaErrorCodeOf`; nothing else in the package picks codes for core errors.
 */
import { isStrataError, type StrataErrorCode } from '@strata/core';
import { KafkaErrorCode } from './error-codes.js';

export const STRATA_TO_KAFKA_ERROR: Readonly<Record<StrataErrorCode, number>> = {
  UNKNOWN_TOPIC: KafkaErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
  UNKNOWN_PARTITION: KafkaErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
  TOPIC_EXISTS: KafkaErrorCode.TOPIC_ALREADY_EXISTS,
  UNKNOWN_NAMESPACE: KafkaErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
  NAMESPACE_EXISTS: KafkaErrorCode.INVALID_REQUEST,
  NAMESPACE_NOT_EMPTY: KafkaErrorCode.INVALID_REQUEST,
  INVALID_NAME: KafkaErrorCode.INVALID_TOPIC_EXCEPTION,
  INVALID_ARGUMENT: KafkaErrorCode.INVALID_REQUEST,
  INVALID_PARTITION_COUNT: KafkaErrorCode.INVALID_PARTITIONS,
  OFFSET_OUT_OF_RANGE: KafkaErrorCode.OFFSET_OUT_OF_RANGE,
  CORRUPT_BATCH: KafkaErrorCode.CORRUPT_MESSAGE,
  UNSUPPORTED_COMPRESSION: KafkaErrorCode.UNSUPPORTED_COMPRESSION_TYPE,
  DUPLICATE_SEQUENCE: KafkaErrorCode.DUPLICATE_SEQUENCE_NUMBER,
  OUT_OF_ORDER_SEQUENCE: KafkaErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER,
  FENCED: KafkaErrorCode.INVALID_PRODUCER_EPOCH,
  STORAGE_FULL: KafkaErrorCode.KAFKA_STORAGE_ERROR,
  STORAGE_ERROR: KafkaErrorCode.KAFKA_STORAGE_ERROR,
  LIMIT_EXCEEDED: KafkaErrorCode.POLICY_VIOLATION,
  MESSAGE_TOO_LARGE: KafkaErrorCode.MESSAGE_TOO_LARGE,
  BAD_VERSION: KafkaErrorCode.UNKNOWN_SERVER_ERROR,
  NOT_FOUND: KafkaErrorCode.UNKNOWN_SERVER_ERROR,
  UNKNOWN_SUBSCRIPTION: KafkaErrorCode.UNKNOWN_SERVER_ERROR,
  CONSUMER_BUSY: KafkaErrorCode.UNKNOWN_SERVER_ERROR,
  CLOSED: KafkaErrorCode.NOT_LEADER_OR_FOLLOWER, // retriable for clients: they refresh metadata and retry
  TIMEOUT: KafkaErrorCode.REQUEST_TIMED_OUT,
};

/** The Kafka error code for anything a core call threw; unknown errors are UNKNOWN_SERVER_ERROR. */
export function kafkaErrorCodeOf(error: unknown): number {
  if (isStrataError(error)) return STRATA_TO_KAFKA_ERROR[error.code] ?? KafkaErrorCode.UNKNOWN_SERVER_ERROR;
  return KafkaErrorCode.UNKNOWN_SERVER_ERROR;
}

/** A short message for the optional `errorMessage` response fields. */
export function errorMessageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

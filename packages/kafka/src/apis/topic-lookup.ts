/**
 * Kafka name → core topic, with the Kafka error for a name that does not resolve. Shared by every
 * API that addresses topics or partitions.
 */
import type { TopicDescription } from '@strata/core';
import type { KafkaBroker } from '../broker.js';
import { KafkaErrorCode } from '../error-codes.js';
import { kafkaErrorCodeOf } from '../errors.js';
import { isValidKafkaTopicName } from '../naming.js';

export type TopicLookup =
  | { readonly ok: true; readonly full: string; readonly description: TopicDescription }
  | { readonly ok: false; readonly errorCode: number; readonly full: string | null };

export function coreNameOf(broker: KafkaBroker, kafkaName: string): { full: string } | { errorCode: number } {
  try {
    return { full: broker.naming.toCore(kafkaName) };
  } catch (error) {
    return { errorCode: kafkaErrorCodeOf(error) };
  }
}

export function lookupTopic(broker: KafkaBroker, kafkaName: string): TopicLookup {
  const name = coreNameOf(broker, kafkaName);
  if ('errorCode' in name) return { ok: false, errorCode: name.errorCode, full: null };
  try {
    return { ok: true, full: name.full, description: broker.core.topics.describe(name.full) };
  } catch (error) {
    return { ok: false, errorCode: kafkaErrorCodeOf(error), full: name.full };
  }
}

/** NONE when `partition` exists in the topic, else UNKNOWN_TOPIC_OR_PARTITION. */
export function partitionError(lookup: TopicLookup, partition: number): number {
  if (!lookup.ok) return lookup.errorCode;
  return partition >= 0 && partition < lookup.description.partitions ? KafkaErrorCode.NONE : KafkaErrorCode.UNKNOWN_TOPIC_OR_PARTITION;
}

/** The Kafka name of the topic with this id (Metadata v10+ ids), or null. */
export function topicNameOfId(broker: KafkaBroker, topicId: Buffer): string | null {
  const full = broker.topicIds.lookup(topicId);
  return full === null ? null : broker.naming.toKafka(full);
}

/**
 * Kafka clients may only create names Kafka allows ([a-zA-Z0-9._-], or the full/slash forms whose
 * parts are checked by the core); other core names are reachable but not creatable through Kafka.
 */
export function isCreatableName(kafkaName: string): boolean {
  return isValidKafkaTopicName(kafkaName) || kafkaName.includes('/');
}

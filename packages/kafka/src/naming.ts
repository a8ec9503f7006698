/**
 * Kafka topic names ↔ core topic names (design brief §6).
 *
 *  - `orders`                        → persistent://<defaultNamespace>/orders
 *  - `acme--billing--orders`         → persistent://acme/billing/orders  (separator form, `--` by default,
 *                                       exactly three non-empty parts; only characters Kafka allows)
 *  - `persistent://acme/billing/orders` and `acme/billing/orders` are accepted as well, for clients
 *    that do not validate names client-side (kafkajs, librdkafka).
 *
 * The way back: topics of the default namespace keep their short name; any other topic is named in
 * the separator form, so a name a client got from us always resolves to the same topic. (A default
 * namespace topic whose own name has the separator form, created through another protocol, is only
 * reachable by its `persistent://` name.)
 */
import { formatTopicName, isValidLocalName, isValidNamespacePart, parseTopicName, StrataError, TOPIC_SCHEME } from '@strata/core';

export interface TopicNaming {
  /** Kafka name → full core name; throws StrataError INVALID_NAME. */
  toCore(kafkaName: string): string;
  /** Full core name → the Kafka name clients see. */
  toKafka(coreName: string): string;
  /** The namespace (`tenant/ns`) whose topics a Metadata request for "all topics" lists. */
  readonly defaultNamespace: string;
}

// Kafka's own rule (kafka.common.internals.Topic): [a-zA-Z0-9._-], at most 249, not '.' or '..'.
const KAFKA_NAME = /^[A-Za-z0-9._-]+$/;
export const kafkaTopicNameLengthMax = 249;

export function isValidKafkaTopicName(name: string): boolean {
  return name.length > 0 && name.length <= kafkaTopicNameLengthMax && KAFKA_NAME.test(name) && name !== '.' && name !== '..';
}

export function createTopicNaming(defaultNamespace: string, separator: string): TopicNaming {
  const [defaultTenant, defaultNs] = defaultNamespace.split('/') as [string, string];
  return {
    defaultNamespace,
    toCore(kafkaName: string): string {
      if (kafkaName.startsWith(TOPIC_SCHEME)) return parseTopicName(kafkaName).full;
      const slashParts = kafkaName.split('/');
      if (slashParts.length === 3) return parseTopicName(`${TOPIC_SCHEME}${kafkaName}`).full;
      // Topics other protocols created may use core characters Kafka does not ('=', ':', '%', '@',
      // '+'); clients that do not validate names can still reach them. Creating such names through
      // Kafka is refused by the create paths (isValidKafkaTopicName).
      if (!isValidKafkaTopicName(kafkaName) && !isValidLocalName(kafkaName)) {
        throw new StrataError('INVALID_NAME', `invalid Kafka topic name: ${JSON.stringify(kafkaName)}`);
      }
      const parts = kafkaName.split(separator);
      if (parts.length === 3 && isValidNamespacePart(parts[0]!) && isValidNamespacePart(parts[1]!) && isValidLocalName(parts[2]!)) {
        return formatTopicName(parts[0]!, parts[1]!, parts[2]!);
      }
      return parseTopicName(formatTopicName(defaultTenant, defaultNs, kafkaName)).full;
    },
    toKafka(coreName: string): string {
      const name = parseTopicName(coreName);
      if (name.tenant === defaultTenant && name.namespace === defaultNs) return name.local;
      return `${name.tenant}${separator}${name.namespace}${separator}${name.local}`;
    },
  };
}

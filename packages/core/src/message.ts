/**
 * One message, as every protocol sees it (design brief §1): key, value, headers, timestamp.
 * Header names that carry protocol attributes (MQTT QoS, AMQP properties, ...) are listed in
 * docs/headers.md and exported from ./headers.ts; every handler uses that one table.
 */
export interface Header {
  readonly key: string;
  readonly value: Buffer | null;
}

export interface Message {
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  readonly headers: readonly Header[];
  /** Milliseconds since the epoch. */
  readonly timestamp: number;
}

/** A message as read back from a partition. */
export interface StoredMessage extends Message {
  readonly offset: number;
}

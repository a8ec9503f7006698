/** Named maxima and intervals of subscriptions (design brief §4 "Limits"). */
export interface SubscriptionLimits {
  /** Messages read from the log and waiting for permits; one read may overshoot by one batch of entries. */
  readonly readAheadMessagesMax: number;
  /** Bytes asked of one core.read. */
  readonly readBytesMax: number;
  readonly readEntriesMax: number;
  /** Delivered-but-unacked (and waiting-for-redelivery) messages per subscription; dispatch pauses at it. */
  readonly unackedMessagesMax: number;
  /** Messages held back by the deliver-at header; reading pauses at it. */
  readonly delayedMessagesMax: number;
  /** Individually acked ranges written to the metadata store; more only cost redelivery after a crash. */
  readonly persistedAckRangesMax: number;
  /** Cursor state is written at most this often per subscription (and at flush/close). */
  readonly persistIntervalMs: number;
  /** Pause before retrying a failed read or dead-letter append. */
  readonly retryDelayMs: number;
  readonly consumersMax: number;
}

export const defaultSubscriptionLimits: SubscriptionLimits = {
  readAheadMessagesMax: 1000,
  readBytesMax: 1024 * 1024,
  readEntriesMax: 64,
  unackedMessagesMax: 10_000,
  delayedMessagesMax: 10_000,
  persistedAckRangesMax: 10_000,
  persistIntervalMs: 200,
  retryDelayMs: 1000,
  consumersMax: 10_000,
};

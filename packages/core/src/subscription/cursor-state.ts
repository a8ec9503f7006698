/**
 * Persisted form of a subscription: type, options and cursor. Written rate-limited to the
 * metadata store under /strata/subscriptions/<topic>/<partition>/<name> (each path part
 * URI-encoded). JSON: it is written at most every persistIntervalMs, never per message.
 */
import { StrataError } from '../errors.js';
import type { SubscriptionOptions, SubscriptionType } from './types.js';

export const SUBSCRIPTIONS_ROOT = '/strata/subscriptions';
const TYPES: readonly SubscriptionType[] = ['Exclusive', 'Failover', 'Shared', 'Key_Shared'];

export interface PersistedCursor {
  readonly options: SubscriptionOptions;
  readonly markDeleteOffset: number;
  readonly ackedRanges: [number, number][];
}

export function subscriptionKey(topic: string, partition: number, name: string): string {
  return `${SUBSCRIPTIONS_ROOT}/${encodeURIComponent(topic)}/${partition}/${encodeURIComponent(name)}`;
}

export function encodeCursor(cursor: PersistedCursor): Buffer {
  return Buffer.from(JSON.stringify({ v: 1, ...cursor }));
}

export function decodeCursor(data: Buffer): PersistedCursor {
  let parsed: unknown;
  try {
    parsed = JSON.parse(data.toString('utf8'));
  } catch (error) {
    throw new StrataError('STORAGE_ERROR', 'unreadable subscription cursor', { cause: error });
  }
  const record = parsed as { options?: { type?: unknown }; markDeleteOffset?: unknown; ackedRanges?: unknown };
  const type = record.options?.type;
  if (
    typeof record !== 'object' ||
    record === null ||
    !TYPES.includes(type as SubscriptionType) ||
    !Number.isSafeInteger(record.markDeleteOffset) ||
    !Array.isArray(record.ackedRanges)
  ) {
    throw new StrataError('STORAGE_ERROR', 'malformed subscription cursor');
  }
  const ranges = (record.ackedRanges as unknown[]).filter(
    (range): range is [number, number] =>
      Array.isArray(range) && range.length === 2 && Number.isSafeInteger(range[0]) && Number.isSafeInteger(range[1]),
  );
  return { options: record.options as SubscriptionOptions, markDeleteOffset: record.markDeleteOffset as number, ackedRanges: ranges };
}

/**
 * Value parsers for config settings. Each takes the raw value (a string from a flag or the
 * environment, any YAML value from the file) and returns the typed value or throws a
 * `ValueProblem` whose text completes "must be ...". The caller adds the key and the source.
 */
import type { CleanupPolicy, FsyncPolicy, JournalIo, LogLevel } from '@strata/core';

export class ValueProblem extends Error {}

export type ValueParser<T> = (raw: unknown) => T;

function describe(raw: unknown): string {
  if (typeof raw === 'string') return JSON.stringify(raw);
  if (raw === null) return 'null';
  if (Array.isArray(raw)) return 'a list';
  if (typeof raw === 'object') return 'a mapping';
  return String(raw);
}

const INTEGER_TEXT = /^-?\d+$/;

/** An integer in [min, max]; strings from flags and env must be plain decimal. */
export function integer(min: number, max: number = Number.MAX_SAFE_INTEGER): ValueParser<number> {
  return (raw) => {
    let value: number;
    if (typeof raw === 'number') value = raw;
    else if (typeof raw === 'string' && INTEGER_TEXT.test(raw.trim())) value = Number(raw.trim());
    else throw new ValueProblem(`must be an integer from ${min} to ${max}, got ${describe(raw)}`);
    if (!Number.isSafeInteger(value) || value < min || value > max) {
      throw new ValueProblem(`must be an integer from ${min} to ${max}, got ${describe(raw)}`);
    }
    return value;
  };
}

export const port: ValueParser<number> = (raw) => {
  try {
    return integer(0, 65535)(raw);
  } catch {
    throw new ValueProblem(`must be a port number from 0 to 65535 (0 = any free port), got ${describe(raw)}`);
  }
};

export const nonEmptyString: ValueParser<string> = (raw) => {
  if (typeof raw !== 'string' || raw.trim() === '') throw new ValueProblem(`must be a non-empty string, got ${describe(raw)}`);
  return raw.trim();
};

export function oneOf<T extends string>(choices: readonly T[]): ValueParser<T> {
  return (raw) => {
    if (typeof raw === 'string' && (choices as readonly string[]).includes(raw.trim())) return raw.trim() as T;
    throw new ValueProblem(`must be one of ${choices.join(', ')}, got ${describe(raw)}`);
  };
}

export const journalIo: ValueParser<JournalIo> = oneOf<JournalIo>(['auto', 'event-loop', 'thread-pool']);

export const logLevel: ValueParser<LogLevel> = oneOf<LogLevel>(['debug', 'info', 'warn', 'error', 'silent']);

export const cleanupPolicy: ValueParser<CleanupPolicy> = oneOf<CleanupPolicy>(['delete', 'compact', 'compact,delete']);

const FSYNC_INTERVAL = /^interval:(\d+)$/;
/** Longest fsync interval accepted: past a minute "interval" is no longer a durability policy. */
export const fsyncIntervalMsMax = 60_000;

/** `always` (default: an ack means on disk) or `interval:<ms>` (opt-in: acks before the fsync). */
export const fsync: ValueParser<FsyncPolicy> = (raw) => {
  const text = typeof raw === 'string' ? raw.trim() : '';
  if (text === 'always') return { kind: 'always' };
  const match = FSYNC_INTERVAL.exec(text);
  if (match) {
    const intervalMs = Number(match[1]);
    if (intervalMs >= 1 && intervalMs <= fsyncIntervalMsMax) return { kind: 'interval', intervalMs };
  }
  throw new ValueProblem(`must be "always" or "interval:<ms>" with ms from 1 to ${fsyncIntervalMsMax}, got ${describe(raw)}`);
};

/** A list of strings: a YAML sequence, or a comma-separated string from a flag or the environment. */
export const stringList: ValueParser<string[]> = (raw) => {
  const items = typeof raw === 'string' ? raw.split(',') : raw;
  if (!Array.isArray(items)) throw new ValueProblem(`must be a list of strings, got ${describe(raw)}`);
  return items.map((item) => {
    if (typeof item !== 'string' || item.trim() === '') throw new ValueProblem(`must be a list of non-empty strings, got ${describe(raw)}`);
    return item.trim();
  });
};

/** true/false; from a flag or the environment also 1/0, yes/no. */
export const boolean: ValueParser<boolean> = (raw) => {
  if (typeof raw === 'boolean') return raw;
  const text = typeof raw === 'string' ? raw.trim().toLowerCase() : '';
  if (text === 'true' || text === '1' || text === 'yes') return true;
  if (text === 'false' || text === '0' || text === 'no') return false;
  throw new ValueProblem(`must be true or false, got ${describe(raw)}`);
};

export function isPlainMapping(raw: unknown): raw is Record<string, unknown> {
  return typeof raw === 'object' && raw !== null && !Array.isArray(raw) && !Buffer.isBuffer(raw);
}

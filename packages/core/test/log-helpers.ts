import assert from 'node:assert/strict';
// Shared helpers of the core log tests: temporary data directories and message builders.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Message } from '../src/message.js';
import { openCoreImpl, type CoreImpl } from '../src/open-core.js';
import { decodeRecordBatch } from '../src/record-batch/index.js';

export function tempDir(prefix = 'strata-core-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

export function removeDir(dir: string): void {
  fs.rmSync(dir, { recursive: true, force: true });
}

export function message(value: string | Buffer, options: { key?: string; timestamp?: number; headers?: Message['headers'] } = {}): Message {
  return {
    key: options.key === undefined ? null : Buffer.from(options.key),
    value: typeof value === 'string' ? Buffer.from(value) : value,
    headers: options.headers ?? [],
    timestamp: options.timestamp ?? Date.now(),
  };
}

export const TOPIC = 'persistent://public/default/orders';

/** Polls `condition` every 5 ms until it holds; fails the test after `ms`. */
export async function until(condition: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/**
 * Simulates the death of the process behind `core`: its timers stop and a checkpoint already under
 * way settles, so the abandoned instance no longer touches the files the next instance recovers (a
 * dead process cannot; left running, its 20 ms checkpoints deleted journals during the next replay).
 * Nothing is flushed or closed.
 */
export async function abandon(core: CoreImpl, dataDir: string): Promise<void> {
  const log = core.log as unknown as { timers: NodeJS.Timeout[]; checkpointer: { settled(): Promise<void> } };
  for (const timer of log.timers) clearInterval(timer);
  await log.checkpointer.settled();
  fs.rmSync(path.join(dataDir, 'LOCK'));
}

/** `abandon`, then a new core on the same data directory (default options): what a restart after a crash finds. */
export async function reopenAbandoned(core: CoreImpl, dataDir: string): Promise<CoreImpl> {
  await abandon(core, dataDir);
  return openCoreImpl({ dataDir });
}

/** Every value of TOPIC's `partition` from its log start, read from disk; asserts dense offsets. */
export async function readValues(core: CoreImpl, partition: number): Promise<string[]> {
  core.log.tailCache.drop(core.log.getLog(TOPIC, partition).tail);
  const result = await core.read(TOPIC, partition, { offset: core.offsets(TOPIC, partition).logStartOffset, maxBytes: 1 << 24 });
  const values: string[] = [];
  let expected = 0;
  for (const entry of result.entries) {
    for (const m of decodeRecordBatch(entry.bytes).messages) {
      assert.equal(m.offset, expected++, 'offsets dense');
      values.push(m.value!.toString());
    }
  }
  return values;
}

/**
 * Appends to TOPIC's partition 0 from `producers` closed-loop producers (each waits for its
 * acknowledgement) until `enough` holds, at most 10,000 appends each and `runMsMax`; returns the
 * acknowledged values, `<prefix>-<producer>-<n>`.
 */
export async function produceUntil(core: CoreImpl, producers: number, prefix: string, enough: () => boolean, runMsMax: number): Promise<string[]> {
  const acknowledged: string[] = [];
  const started = Date.now();
  await Promise.all(
    Array.from({ length: producers }, async (_, producer) => {
      for (let i = 0; i < 10_000 && !enough() && Date.now() - started < runMsMax; i++) {
        const value = `${prefix}-${producer}-${i}`;
        await core.append(TOPIC, 0, { kind: 'messages', messages: [message(value)] });
        acknowledged.push(value);
      }
    }),
  );
  return acknowledged;
}

/** TOPIC's partition 0 holds exactly the `acknowledged` values (any order), offsets dense. */
export async function assertHoldsExactly(core: CoreImpl, acknowledged: readonly string[]): Promise<void> {
  const values = new Set(await readValues(core, 0));
  assert.equal(values.size, acknowledged.length, 'nothing more, nothing less, offsets dense');
  for (const value of acknowledged) assert.ok(values.has(value), `acknowledged ${value} is back`);
}

import assert from 'node:assert/strict';
// Shared helpers of the core log tests: temporary data directories and message builders.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Message } from '../src/message.js';

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

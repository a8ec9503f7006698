/**
 * Crash test (issue 2 "Proof"): a child process appends concurrently to several partitions and
 * prints every acknowledged (partition, offset, checksum); it is SIGKILLed at a random moment;
 * the store is reopened and every acknowledged message must be there with identical bytes, with
 * dense offsets (no gaps, no duplicates). Many rounds on the same data directory.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import type { JournalIo } from '../src/core.js';
import { openCoreImpl } from '../src/open-core.js';
import { decodeRecordBatch } from '../src/record-batch/index.js';
import { removeDir, tempDir } from './log-helpers.js';
import { runChildUntilKilled } from './support/kill-child.js';

const CRASH_TOPIC = 'persistent://public/default/crash';
const CRASH_PARTITIONS = 4;
const ROUNDS = 15;
const TOTAL_MS_MAX = 60_000;
const CHILD = fileURLToPath(new URL('./crash-child.js', import.meta.url));

function digest(value: Buffer): string {
  return createHash('sha256').update(value).digest('hex').slice(0, 16);
}

function runChild(dataDir: string, killAfterMs: number, journalIo: JournalIo): Promise<string[]> {
  return runChildUntilKilled(CHILD, [dataDir, journalIo], killAfterMs);
}

test('kill -9 at random moments loses no acknowledged message and leaves no gap', async (t) => {
  const dir = tempDir('strata-crash-');
  const started = Date.now();
  const acked = new Map<string, string>(); // "partition offset" -> digest
  let totalAcked = 0;
  let rounds = 0;
  try {
    for (let round = 0; round < ROUNDS && Date.now() - started < TOTAL_MS_MAX - 5_000; round++) {
      // The three journal I/O modes, in turn on the same data directory.
      const lines = await runChild(dir, 30 + Math.floor(Math.random() * 400), (['event-loop', 'thread-pool', 'auto'] as const)[round % 3]!);
      for (const line of lines) {
        const [partition, offset, hash] = line.split(' ');
        const key = `${partition} ${offset}`;
        const previous = acked.get(key);
        assert.ok(previous === undefined || previous === hash, `offset ${key} acknowledged twice with different values`);
        acked.set(key, hash!);
      }
      totalAcked += lines.length;
      rounds++;

      const core = await openCoreImpl({ dataDir: dir });
      try {
        const stored = new Map<string, string>();
        for (let partition = 0; partition < CRASH_PARTITIONS; partition++) {
          const { logStartOffset, highWatermark } = core.offsets(CRASH_TOPIC, partition);
          assert.equal(logStartOffset, 0);
          let expected = 0;
          while (expected < highWatermark) {
            const read = await core.read(CRASH_TOPIC, partition, { offset: expected, maxBytes: 1 << 20 });
            assert.ok(read.entries.length > 0, `data below the high watermark ${highWatermark} at ${expected}`);
            for (const entry of read.entries) {
              for (const m of decodeRecordBatch(entry.bytes).messages) {
                if (m.offset < expected) continue;
                assert.equal(m.offset, expected, `partition ${partition}: offsets dense`);
                stored.set(`${partition} ${m.offset}`, digest(m.value ?? Buffer.alloc(0)));
                expected++;
              }
            }
          }
          assert.equal(expected, highWatermark);
        }
        for (const [key, hash] of acked) {
          assert.equal(stored.get(key), hash, `round ${round}: acknowledged message ${key} present with identical bytes`);
        }
      } finally {
        await core.close();
      }
    }
    t.diagnostic(`${rounds} rounds, ${totalAcked} acknowledged messages verified, ${Date.now() - started} ms`);
    // Time-bounded by the loop: no new round starts past TOTAL_MS_MAX - 5 s (a loaded machine runs fewer).
    assert.ok(rounds >= 3, `at least 3 rounds ran (${rounds})`);
    assert.ok(totalAcked > 100, `enough acknowledged messages to mean something (${totalAcked})`);
  } finally {
    removeDir(dir);
  }
});

// The group commit must not starve the rest of the process. With journal I/O on the event loop a
// group is written and fsynced synchronously and completes in promise reactions; producers that
// append again from their acknowledgement keep the queue full. The committer takes a macrotask
// turn after each group (group-commit.ts), so timers, sockets and the checkpoint's callbacks run.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { openCoreImpl } from '../src/open-core.js';
import { message, removeDir, tempDir, TOPIC } from './log-helpers.js';

const RUN_MS = 600;
const TIMER_MS = 10;

for (const fsync of [{ kind: 'always' as const }, { kind: 'interval' as const, intervalMs: 1000 }]) {
  test(`closed-loop producers do not starve timers (journal I/O on the event loop, fsync ${fsync.kind})`, async () => {
    const dir = tempDir('strata-fairness-');
    const core = await openCoreImpl({ dataDir: dir, fsync, journalIo: 'event-loop' }, { tuning: { checkpointIntervalMs: 1e9 } });
    try {
      await core.topics.create(TOPIC);
      let ticks = 0;
      const timer = setInterval(() => ticks++, TIMER_MS);
      let appends = 0;
      const started = Date.now();
      try {
        await Promise.all(
          Array.from({ length: 50 }, async () => {
            // Bounded by time (checked in the loop itself, not by a timer that could starve) and count.
            while (Date.now() - started < RUN_MS && appends < 1_000_000) {
              await core.append(TOPIC, 0, { kind: 'messages', messages: [message('x')] });
              appends++;
            }
          }),
        );
      } finally {
        clearInterval(timer);
      }
      assert.ok(appends > 100, `the producers appended (${appends})`);
      // A 10 ms interval over 600 ms: ~60 ticks on an idle loop; a starved loop gets none or one.
      assert.ok(ticks >= 10, `the interval timer ran ${ticks} times while the producers appended`);
    } finally {
      await core.close();
      removeDir(dir);
    }
  });
}

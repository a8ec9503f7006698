// The group commit must not starve the rest of the process. With journal I/O on the event loop a
// group is written and fsynced synchronously and completes in promise reactions; producers that
// append again from their acknowledgement keep the queue full. The committer takes a macrotask
// turn after each group (group-commit.ts), so timers, sockets and the checkpoint's callbacks run.
// With `auto` I/O and fsync always, groups alternate in the fsync thread and the window never
// empties: the committer takes a turn at least every millisecond.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { openCoreImpl } from '../src/open-core.js';
import { message, removeDir, tempDir, TOPIC } from './log-helpers.js';

const RUN_MS = 600;
const TIMER_MS = 10;

const CASES = [
  { journalIo: 'event-loop' as const, fsync: { kind: 'always' as const } },
  { journalIo: 'event-loop' as const, fsync: { kind: 'interval' as const, intervalMs: 1000 } },
  { journalIo: 'auto' as const, fsync: { kind: 'always' as const } },
];

for (const { journalIo, fsync } of CASES) {
  test(`closed-loop producers do not starve timers (journal I/O ${journalIo}, fsync ${fsync.kind})`, async () => {
    const dir = tempDir('strata-fairness-');
    const core = await openCoreImpl({ dataDir: dir, fsync, journalIo }, { tuning: { checkpointIntervalMs: 1e9, fsyncThreadHalves: 'always' } });
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
      if (journalIo === 'auto') assert.ok(core.log.stats().journalSyncsInThread > 0, 'the fsync thread took groups');
    } finally {
      await core.close();
      removeDir(dir);
    }
  });
}

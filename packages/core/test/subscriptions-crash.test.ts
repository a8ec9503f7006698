/**
 * Crash test for subscriptions: a child consumes and acks through a durable subscription and is
 * SIGKILLed at a random moment. After reopening, every message the child did not ack must be
 * delivered again (redelivery allowed, loss never): the persisted cursor may only cover offsets
 * the child announced as acked.
 */
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { openCore } from '../src/open-core.js';
import { removeDir, tempDir } from './log-helpers.js';
import { runChildUntilKilled } from './support/kill-child.js';

const TOPIC = 'persistent://public/default/sub-crash';
const ROUNDS = 4;
const CHILD = fileURLToPath(new URL('./support/subscription-crash-child.js', import.meta.url));

async function runChild(dataDir: string, killAfterMs: number): Promise<number[]> {
  const lines = await runChildUntilKilled(CHILD, [dataDir], killAfterMs);
  return lines.filter((line) => line.startsWith('ack ')).map((line) => Number(line.slice(4)));
}

test('kill -9 while acking: after restart every unacked message is delivered again', async (t) => {
  const dir = tempDir('strata-sub-crash-');
  t.after(() => removeDir(dir));
  const announced = new Set<number>();
  let persistedProgress = 0;
  for (let round = 0; round < ROUNDS; round++) {
    for (const offset of await runChild(dir, 100 + Math.floor(Math.random() * 500))) announced.add(offset);
    const core = await openCore({ dataDir: dir });
    try {
      const highWatermark = core.offsets(TOPIC, 0).highWatermark;
      const subscription = await core.subscriptions.open(TOPIC, 0, 'crash', { type: 'Shared' });
      const { markDeleteOffset, backlog } = subscription.state();
      // Offset 0 is never acked (multiples of 7 are not), so progress shows as acked ranges.
      persistedProgress = Math.max(persistedProgress, highWatermark - backlog);
      for (let offset = 0; offset < markDeleteOffset; offset++) {
        assert.ok(announced.has(offset), `round ${round}: offset ${offset} is below the cursor but was never acked`);
      }
      const delivered = new Set<number>();
      const consumer = subscription.attach({ name: 'check', onDelivery: (deliveries) => deliveries.forEach((d) => delivered.add(d.message.offset)) });
      consumer.flow(highWatermark);
      const deadline = Date.now() + 10_000;
      let lastSize = -1;
      let stableSince = Date.now();
      while (Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 20));
        if (delivered.size !== lastSize) {
          lastSize = delivered.size;
          stableSince = Date.now();
        } else if (Date.now() - stableSince > 300) break;
      }
      for (let offset = markDeleteOffset; offset < highWatermark; offset++) {
        // Never loss: whatever was not acked comes again; acked-and-persisted offsets may not.
        if (!announced.has(offset)) assert.ok(delivered.has(offset), `round ${round}: unacked offset ${offset} was not redelivered`);
      }
      for (const offset of delivered) assert.ok(offset >= markDeleteOffset);
      consumer.close();
    } finally {
      await core.close();
    }
  }
  assert.ok(announced.size > 0, 'the child acked something');
  assert.ok(persistedProgress > 0, 'cursor progress survived the kills');
});

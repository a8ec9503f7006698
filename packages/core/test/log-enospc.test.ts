import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { isStrataError } from '../src/errors.js';
import { openCoreImpl, type CoreImpl } from '../src/open-core.js';
import { message, removeDir, tempDir, TOPIC } from './log-helpers.js';

/** Mounts a 16 MiB tmpfs; false when this machine does not allow it (not root, no mount). */
function freeBytes(dir: string): number {
  const stats = fs.statfsSync(dir);
  return stats.bavail * stats.bsize;
}

/** Waits (bounded) until the free space stops changing: the journal's zeros written ahead are in. */
async function settledFreeBytes(dir: string): Promise<number> {
  let last = freeBytes(dir);
  for (let i = 0; i < 40; i++) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    const now = freeBytes(dir);
    if (now === last) return now;
    last = now;
  }
  return last;
}

function mountSmallTmpfs(dir: string): boolean {
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=16m', 'tmpfs', dir], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

test('ENOSPC: append fails with STORAGE_FULL, data stays readable, appends resume when space returns', async (t) => {
  const dir = tempDir('strata-enospc-');
  if (!mountSmallTmpfs(dir)) {
    t.skip('cannot mount a tmpfs here (needs root)');
    removeDir(dir);
    return;
  }
  let core: CoreImpl | null = null;
  try {
    core = await openCoreImpl({ dataDir: dir });
    await core.topics.create(TOPIC);
    const filler = path.join(dir, 'filler');
    const value = Buffer.alloc(32 * 1024, 7);
    let acked = 0;
    let full: unknown = null;
    // Leave 1.5 MiB: the journal's preallocated zeros absorb the first appends, then the disk fills.
    fs.writeFileSync(filler, Buffer.alloc(Math.max(0, (await settledFreeBytes(dir)) - 1.5 * 1024 * 1024)));
    for (let i = 0; i < 1000 && !full; i++) {
      try {
        await core.append(TOPIC, 0, { kind: 'messages', messages: [message(value)] });
        acked++;
      } catch (error) {
        full = error;
      }
    }
    assert.ok(full, 'the disk filled up');
    assert.ok(isStrataError(full, 'STORAGE_FULL'), `STORAGE_FULL, got ${String(full)}`);
    assert.equal((full as { retriable: boolean }).retriable, true);
    assert.ok(acked > 0);
    assert.equal(core.offsets(TOPIC, 0).highWatermark, acked);
    // Still full: retries fail the same way (also many at once, several groups in flight), and
    // nothing partial is visible.
    await assert.rejects(core.append(TOPIC, 0, { kind: 'messages', messages: [message(value)] }), (error) => isStrataError(error, 'STORAGE_FULL'));
    const concurrent = await Promise.allSettled(
      Array.from({ length: 20 }, () => core!.append(TOPIC, 0, { kind: 'messages', messages: [message(value)] })),
    );
    assert.ok(concurrent.every((result) => result.status === 'rejected' && isStrataError(result.reason, 'STORAGE_FULL')));
    assert.equal(core.offsets(TOPIC, 0).highWatermark, acked);
    core.log.tailCache.drop(core.log.getLog(TOPIC, 0).tail);
    const readable = await core.read(TOPIC, 0, { offset: 0, maxBytes: 1 << 24 });
    assert.equal(readable.entries.length, acked);
    assert.equal(readable.entries[acked - 1]!.baseOffset, acked - 1);

    fs.rmSync(filler); // space returns
    const resumed = await core.append(TOPIC, 0, { kind: 'messages', messages: [message(value)] });
    assert.equal(resumed.baseOffset, acked, 'no gap in offsets after the failures');
    const more = await Promise.all(Array.from({ length: 5 }, () => core!.append(TOPIC, 0, { kind: 'messages', messages: [message('small')] })));
    assert.deepEqual(more.map((r) => r.baseOffset).sort((a, b) => a - b), [1, 2, 3, 4, 5].map((i) => acked + i));
    await core.close();
    core = await openCoreImpl({ dataDir: dir });
    assert.equal(core.offsets(TOPIC, 0).highWatermark, acked + 6);
  } finally {
    await core?.close().catch(() => undefined);
    try {
      execFileSync('umount', ['-l', dir], { stdio: 'ignore' });
    } catch {
      // already unmounted
    }
    removeDir(dir);
  }
});

// The server's answer to a failed fsync in the core (docs/storage.md "When an fsync fails"): log,
// shut down in order, exit non-zero so that a supervisor restarts it and recovery repairs the
// segments from the journal.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openCore } from '@strata/core';
import { makeTempDir, spawnServer } from '@strata/testing';
import { startServer } from '../src/start-server.js';
import { createEchoHandler } from './echo-handler.js';
import { FAILING_FSYNC_TOPIC } from './failing-fsync-handler.js';
import { fakeCore } from './fake-core.js';
import { exchange, openSocket } from './net-helpers.js';

const failingFsyncModule = fileURLToPath(new URL('./failing-fsync-handler.js', import.meta.url));

test('a storage failure of the core shuts the server down (handlers, then the core) and tells the host', async (t) => {
  const dir = await makeTempDir();
  t.after(() => dir.remove());
  const events: string[] = [];
  const probe = fakeCore(events);
  const echo = createEchoHandler({
    onClose: async () => {
      events.push('handler:close');
    },
  });
  const told: { error: Error; stopped: Promise<void> }[] = [];
  const server = await startServer({
    dataDir: dir.path,
    handlers: [echo],
    openCore: probe.openCore,
    config: { logLevel: 'silent' },
    onStorageFailure: (error, stopped) => told.push({ error, stopped }),
  });
  t.after(() => server.close());
  const port = server.addresses.get('echo')?.port ?? 0;
  assert.equal(await exchange(port, 'x', 1), 'x');

  probe.failStorage(new Error('EIO'));
  assert.equal(told.length, 1);
  assert.equal(told[0]!.error.message, 'EIO');
  await told[0]!.stopped;
  assert.deepEqual(events, ['core:open', 'handler:close', 'core:close']);
  await assert.rejects(openSocket(port), /ECONNREFUSED/);
});

test('strata serve exits 1 after a failed journal fsync (interval policy); the restart rewrites from the journal and removes the marker', async (t) => {
  const dir = await makeTempDir();
  t.after(() => dir.remove());
  const args = ['--handler-module', failingFsyncModule, '--fsync', 'interval:10'];
  const server = await spawnServer({ dataDir: dir.path, args });
  t.after(() => server.kill('SIGKILL'));
  const reply = await exchange(server.address('failing-fsync').port, '', 'appended\n'.length).catch((error: unknown) => String(error));
  assert.equal(reply, 'appended\n', 'the append was acknowledged before the interval fsync');
  const status = await server.waitExit(15_000);
  assert.deepEqual(status, { code: 1, signal: null });
  const logLines = server.stderr().trim().split('\n').map((line) => JSON.parse(line) as { msg: string; level: string });
  assert.ok(logLines.some((line) => line.level === 'error' && /^storage failed/.test(line.msg)), 'the failure is logged at error level');
  assert.ok(logLines.some((line) => line.msg === 'server stopped'), 'listeners and handlers were closed first');
  const marker = join(dir.path, 'journal', 'REWRITE-REQUIRED');
  assert.ok(existsSync(marker), 'the rewrite marker is on disk');

  // The supervisor's restart (here: the core opened directly, fdatasync intact) repairs and goes on.
  const core = await openCore({ dataDir: dir.path });
  try {
    assert.ok(!existsSync(marker), 'the marker is removed once the rewrite is checkpointed');
    const read = await core.read(FAILING_FSYNC_TOPIC, 0, { offset: 0, maxBytes: 1 << 16 });
    assert.equal(read.entries.length, 1, 'the acknowledged message is there');
    await core.append(FAILING_FSYNC_TOPIC, 0, { kind: 'messages', messages: [{ key: null, value: Buffer.from('again'), headers: [], timestamp: Date.now() }] });
  } finally {
    await core.close();
  }
});

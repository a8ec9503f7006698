import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { findTool, freePort, makeTempDir, requireTool, waitFor } from '../src/index.js';

test('waitFor resolves when the condition holds and rejects after the timeout', async () => {
  let calls = 0;
  await waitFor(() => ++calls >= 3, 1_000, { intervalMs: 1 });
  assert.equal(calls, 3);
  const startedMs = Date.now();
  await assert.rejects(waitFor(async () => false, 50, { message: 'never' }), /waitFor timed out after 50 ms: never/);
  assert.ok(Date.now() - startedMs < 1_000);
});

test('findTool finds programs on PATH and reports missing ones as null', () => {
  assert.ok(findTool('sh'));
  assert.equal(findTool('strata-no-such-tool'), null);
  assert.equal(findTool('python3:no_such_module_for_strata'), null);
  assert.equal(findTool('python3:bad module;'), null);
});

test('requireTool skips outside CI and fails in CI when a tool is missing', (t) => {
  const previous = process.env['CI'];
  t.after(() => {
    if (previous === undefined) delete process.env['CI'];
    else process.env['CI'] = previous;
  });
  const skipped: string[] = [];
  const fake = { skip: (message?: string) => void skipped.push(message ?? '') };
  delete process.env['CI'];
  // Capture the loud banner instead of printing it into the suite's output.
  const written: string[] = [];
  const originalWrite = process.stderr.write;
  process.stderr.write = ((chunk: string) => written.push(String(chunk)) > 0) as typeof process.stderr.write;
  try {
    assert.equal(requireTool(fake, 'strata-no-such-tool'), null);
  } finally {
    process.stderr.write = originalWrite;
  }
  assert.match(written.join(''), /\*\*\* SKIPPED: interop tool strata-no-such-tool is missing/);
  assert.match(skipped[0] ?? '', /interop tool strata-no-such-tool is missing/);
  process.env['CI'] = 'true';
  assert.throws(() => requireTool(fake, 'strata-no-such-tool'), /CI is set, so this fails instead of skipping/);
  assert.equal(requireTool(fake, 'sh'), findTool('sh'));
  assert.equal(skipped.length, 1);
});

test('makeTempDir and freePort', async () => {
  const dir = await makeTempDir();
  assert.ok(existsSync(dir.path));
  await dir.remove();
  assert.ok(!existsSync(dir.path));
  const port = await freePort();
  assert.ok(port > 0 && port < 65536);
});

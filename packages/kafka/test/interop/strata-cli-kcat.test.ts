/**
 * The real CLI (`strata serve`) with kcat: what a user does. Acknowledged messages (acks=all) and a
 * kcat balanced consumer's committed offsets survive a SIGKILL of the server.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { test } from 'node:test';
import { cliPath, makeTempDir, requireTool, runProgram, spawnServer, type ProgramRun } from '@strata/testing';

function run(program: string, args: readonly string[], input = '', ms = 30_000): Promise<ProgramRun> {
  return runProgram(program, args, { input, timeoutMs: ms });
}

test('strata serve + kcat: acked messages and group offsets survive kill -9', async (t) => {
  const kcat = requireTool(t, 'kcat');
  if (kcat === null) return;
  if (!existsSync(cliPath)) {
    if (process.env['CI']) throw new Error(`the CLI is not built: ${cliPath}`);
    t.skip(`the CLI is not built (${cliPath}); run npm run build`);
    return;
  }
  const dir = await makeTempDir('strata-kafka-cli-');
  let server = await spawnServer({ dataDir: dir.path });
  try {
    const { port } = server.address('kafka');
    const b = ['-b', `127.0.0.1:${port}`];
    const lines = Array.from({ length: 200 }, (_, i) => `k${i}:v${i}`).join('\n') + '\n';
    const produced = await run(kcat, [...b, '-P', '-t', 'cli-t', '-K:', '-z', 'lz4', '-X', 'topic.request.required.acks=-1'], lines);
    assert.equal(produced.code, 0, produced.stderr);
    const group = await run(kcat, [...b, '-G', 'cli-group', '-o', 'beginning', '-c', '120', '-f', '%o\\n', '-X', 'enable.auto.commit=true', '-X', 'auto.commit.interval.ms=100', 'cli-t'], '', 30_000);
    assert.equal(group.stdout.trim().split('\n').length, 120, group.stderr);

    server.kill('SIGKILL');
    await server.waitExit(10_000);
    server = await spawnServer({ dataDir: dir.path });
    const after = server.address('kafka');
    const b2 = ['-b', `127.0.0.1:${after.port}`];
    const consumed = await run(kcat, [...b2, '-C', '-t', 'cli-t', '-o', 'beginning', '-e', '-f', '%k=%s\\n']);
    const rows = consumed.stdout.trim().split('\n');
    assert.equal(rows.length, 200, consumed.stderr);
    assert.equal(rows[199], 'k199=v199');
    // The group resumes from its committed offset (kcat committed at least part of what it read).
    const resumed = await run(kcat, [...b2, '-G', 'cli-group', '-c', '1', '-f', '%o\\n', 'cli-t'], '', 30_000);
    const next = Number(resumed.stdout.trim());
    assert.ok(next > 0 && next <= 120, `resumed at ${resumed.stdout.trim()} (${resumed.stderr.slice(-500)})`);
  } finally {
    await server.stop(10_000).catch(() => server.kill('SIGKILL'));
    await dir.remove();
  }
});

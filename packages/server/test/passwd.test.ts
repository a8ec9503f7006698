/**
 * `strata passwd` end to end: the hash line it prints, put in a YAML config's mqtt.users with
 * allowAnonymous false, lets mqtt.js log in to `strata serve`; a wrong password and an anonymous
 * client are refused. Mistakes exit 2 with one line.
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import mqtt from 'mqtt';
import { parsePasswordHash } from '@strata/mqtt';
import { cliPath, makeTempDir, runProgram, spawnServer } from '@strata/testing';

function passwd(args: string[], input: string) {
  return runProgram(process.execPath, [cliPath, 'passwd', ...args], { input, env: { PATH: process.env['PATH'] ?? '' }, timeoutMs: 15_000 });
}

test('strata passwd prints a scrypt hash line; mistakes exit 2', async () => {
  const run = await passwd([], 'hunter2\n');
  assert.equal(run.code, 0, run.stderr);
  assert.equal(parsePasswordHash(run.stdout.trim()).cost, 16384);
  assert.doesNotMatch(run.stdout, /hunter2/);
  assert.equal(parsePasswordHash((await passwd(['--cost', '1024'], 'x\n')).stdout.trim()).cost, 1024);
  for (const [args, input, why] of [
    [['--cost', '1000'], 'x\n', /--cost must be a power of two/],
    [['--rounds', '3'], 'x\n', /unknown flag --rounds/],
    [[], '', /no password on stdin/],
  ] as const) {
    const failed = await passwd([...args], input);
    assert.equal(failed.code, 2, failed.stderr);
    assert.match(failed.stderr, why);
  }
});

test('a hash line in mqtt.users lets mqtt.js log in to strata serve; wrong passwords and anonymous clients are refused', async (t) => {
  const dir = await makeTempDir();
  t.after(() => dir.remove());
  const line = (await passwd(['--cost', '1024'], 'open sesame\n')).stdout.trim();
  const config = join(dir.path, 'strata.yaml');
  await writeFile(config, `mqtt:\n  allowAnonymous: false\n  users:\n    dave: "${line}"\n`);
  const server = await spawnServer({ dataDir: join(dir.path, 'data'), args: ['--config', config] });
  t.after(() => server.kill('SIGKILL'));
  const address = server.address('mqtt');
  const url = `mqtt://${address.host}:${address.port}`;
  const client = await mqtt.connectAsync(url, { username: 'dave', password: 'open sesame', reconnectPeriod: 0 });
  await client.publishAsync('cli/passwd', 'ok', { qos: 1 });
  await client.endAsync();
  for (const options of [{ username: 'dave', password: 'open sesame!' }, {}]) {
    await assert.rejects(mqtt.connectAsync(url, { ...options, reconnectPeriod: 0, connectTimeout: 3_000 }));
  }
});

/**
 * `strata kafka-credential` end to end: the line it prints for a password, put in a YAML config's
 * kafka.sasl.users, lets kafkajs log in to `strata serve` with SCRAM and PLAIN; a wrong password
 * is refused. Mistakes exit 2 with one line.
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import kafkajs from 'kafkajs';
import { parseScramCredential } from '@strata/kafka';
import { cliPath, makeTempDir, runProgram, spawnServer } from '@strata/testing';

const { Kafka, logLevel } = kafkajs;

function credential(args: string[], password: string) {
  return runProgram(process.execPath, [cliPath, 'kafka-credential', ...args], { input: `${password}\n`, env: { PATH: process.env['PATH'] ?? '' }, timeoutMs: 15_000 });
}

test('strata kafka-credential prints a SCRAM credential line; mistakes exit 2', async () => {
  const sha512 = await credential([], 'hunter2');
  assert.equal(sha512.code, 0, sha512.stderr);
  const parsed = parseScramCredential(sha512.stdout.trim());
  assert.equal(parsed.mechanism, 'SCRAM-SHA-512');
  assert.equal(parsed.iterations, 4096);
  assert.doesNotMatch(sha512.stdout, /hunter2/);
  const sha256 = await credential(['--mechanism', 'SCRAM-SHA-256', '--iterations', '8192'], 'hunter2');
  assert.equal(parseScramCredential(sha256.stdout.trim()).iterations, 8192);
  for (const [args, input, why] of [
    [['--mechanism', 'MD5'], 'x', /--mechanism must be one of/],
    [['--iterations', '10'], 'x', /iterations must be/],
    [['--colour', 'red'], 'x', /unknown flag --colour/],
    [[], '', /no password on stdin/],
  ] as const) {
    const run = await credential([...args], input);
    assert.equal(run.code, 2, `${args.join(' ')}: ${run.stderr}`);
    assert.match(run.stderr, why);
  }
});

test('a credential line in kafka.sasl.users lets kafkajs log in to strata serve (SCRAM-SHA-512 and PLAIN); a wrong password is refused', async (t) => {
  const dir = await makeTempDir();
  t.after(() => dir.remove());
  const line = (await credential([], 'open sesame')).stdout.trim();
  const config = join(dir.path, 'strata.yaml');
  await writeFile(config, `kafka:\n  sasl:\n    mechanisms: [SCRAM-SHA-512, PLAIN]\n    users:\n      dave: "${line}"\n`);
  const server = await spawnServer({ dataDir: join(dir.path, 'data'), args: ['--config', config] });
  t.after(() => server.kill('SIGKILL'));
  const address = server.addresses.get('kafka');
  assert.ok(address, 'a kafka listener');
  const broker = `${address.host}:${address.port}`;
  for (const sasl of [
    { mechanism: 'scram-sha-512', username: 'dave', password: 'open sesame' },
    { mechanism: 'plain', username: 'dave', password: 'open sesame' },
  ] as kafkajs.SASLOptions[]) {
    const producer = new Kafka({ brokers: [broker], logLevel: logLevel.NOTHING, retry: { retries: 1 }, sasl }).producer();
    await producer.connect();
    await producer.send({ topic: 'cli-sasl', messages: [{ value: sasl.mechanism }] });
    await producer.disconnect();
  }
  const refused = new Kafka({ brokers: [broker], logLevel: logLevel.NOTHING, retry: { retries: 0 }, sasl: { mechanism: 'scram-sha-512', username: 'dave', password: 'open sesame!' } }).producer();
  await assert.rejects(refused.connect());
  await refused.disconnect();
});

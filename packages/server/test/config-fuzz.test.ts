import { test } from 'node:test';
import { seededRandom } from '@strata/core';
import assert from 'node:assert/strict';
import { parseCommandLine } from '../src/config/command-line.js';
import { ConfigError } from '../src/config/config-error.js';
import { parseConfigText } from '../src/config/config-file.js';
import { resolveConfig } from '../src/config/resolve-config.js';

const ITERATIONS = 3_000;
const schema = {
  handlerNames: ['kafka'],
  listeners: [{ id: 'kafka', defaultPort: 9092, description: 'Kafka' }],
};


const TOKENS = [
  'dataDir', 'host', 'fsync', 'listeners', 'kafka', 'port', 'connectionsMax', 'limits', 'policies', 'entryBytesMax',
  'retentionMs', 'handlerModules', 'freePorts', ':', ': ', '\n', '  ', '- ', '[', ']', '{', '}', ',', '"', "'", '&a', '*a',
  '!!binary', '!!str', '0', '-1', '65536', '1e309', '0x10', 'true', 'null', '~', '#', '---', '...', '\t', 'interval:5',
  'always', '\u0000', '\uFFFF', '%YAML 1.2', '<<: *a', '?', '|', '>',
];

function randomText(next: () => number): string {
  let text = '';
  const length = Math.floor(next() * 40);
  for (let index = 0; index < length; index++) text += TOKENS[Math.floor(next() * TOKENS.length)];
  return text;
}

test('fuzz: any config text either resolves or is a one-line ConfigError, never a crash', () => {
  const next = seededRandom(0x5eed);
  let accepted = 0;
  for (let iteration = 0; iteration < ITERATIONS; iteration++) {
    const text = randomText(next);
    try {
      const file = parseConfigText('fuzz.yaml', text);
      resolveConfig({ flags: new Map(), env: {}, file, cwd: '/' }, schema);
      accepted++;
    } catch (error) {
      assert.ok(error instanceof ConfigError, `iteration ${iteration}: ${JSON.stringify(text)} threw ${String(error)}`);
      assert.ok(!error.message.includes('\n'), `iteration ${iteration}: one line`);
    }
  }
  assert.ok(accepted > 0, 'some random texts are valid configs (the fuzzer reaches the resolver)');
});

test('fuzz: any argv either parses and resolves or is a ConfigError', () => {
  const next = seededRandom(0xa11);
  const words = ['serve', '--host', '--kafka-port', '--fsync', '--data-dir', '--x', '=', '--', '-h', '1', '0', 'a', '--kafka-port=70000', '--log-level=debug', ''];
  for (let iteration = 0; iteration < ITERATIONS; iteration++) {
    const argv = Array.from({ length: Math.floor(next() * 8) }, () => words[Math.floor(next() * words.length)] as string);
    try {
      const commandLine = parseCommandLine(argv);
      resolveConfig({ flags: commandLine.flags, env: {}, file: null, cwd: '/' }, schema);
    } catch (error) {
      assert.ok(error instanceof ConfigError, `argv ${JSON.stringify(argv)} threw ${String(error)}`);
    }
  }
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isStrataError } from '@strata/core';
import { cliPath, makeTempDir, runProgram } from '@strata/testing';
import { DEFAULT_MQTT_CONFIG, parseMqttConfig } from '../src/config.js';

/** Asserts parseMqttConfig refuses `section` with INVALID_ARGUMENT and one line matching `text`. */
function assertRefused(section: Record<string, unknown>, text: RegExp): void {
  assert.throws(
    () => parseMqttConfig(section),
    (error: unknown) => {
      assert.ok(isStrataError(error, 'INVALID_ARGUMENT'), `INVALID_ARGUMENT for ${JSON.stringify(section)}, got ${String(error)}`);
      assert.match(error.message, /^mqtt config: /);
      assert.match(error.message, text);
      assert.equal(error.message.includes('\n'), false, 'one line');
      return true;
    },
  );
}

test('an empty section gives the defaults; valid keys are taken, numeric strings too', () => {
  assert.deepEqual(parseMqttConfig({}), DEFAULT_MQTT_CONFIG);
  assert.deepEqual(parseMqttConfig(), DEFAULT_MQTT_CONFIG);
  const config = parseMqttConfig({
    inflightMax: '10',
    keepAliveSecondsMax: 60,
    foreignMessageQos: 2,
    namespace: 'acme/iot',
    retainedTopic: 'persistent://acme/iot/kept',
    topicRules: [{ filter: 'sensors/+/temp', topic: 'temps', partitions: 4 }, { filter: 'orders/#', topic: 'orders' }],
  });
  assert.equal(config.inflightMax, 10);
  assert.equal(config.keepAliveSecondsMax, 60);
  assert.equal(config.foreignMessageQos, 2);
  assert.equal(config.namespace, 'acme/iot');
  assert.deepEqual(config.topicRules, [
    { filter: 'sensors/+/temp', topic: 'temps', partitions: 4 },
    { filter: 'orders/#', topic: 'orders', partitions: 1 },
  ]);
});

test('unknown keys are refused, naming the key (a typo must not silently keep the default)', () => {
  assertRefused({ inflightMaxx: 5 }, /unknown key inflightMaxx$/);
  assertRefused({ port: 1883 }, /unknown key port$/);
  assertRefused({ topicRules: [{ filter: 'a/#', topic: 'a', partition: 4 }] }, /topicRules\[0\]: unknown key partition$/);
});

test('wrong types and out-of-range values are refused, naming the key', () => {
  const cases: [Record<string, unknown>, RegExp][] = [
    [{ inflightMax: 'many' }, /^mqtt config: inflightMax must be an integer from 1 to 65535, got "many"$/],
    [{ inflightMax: 0 }, /inflightMax must be an integer from 1 to 65535, got 0$/],
    [{ inflightMax: 70_000 }, /inflightMax/],
    [{ packetBytesMax: 64 }, /packetBytesMax must be an integer from 128/],
    [{ packetBytesMax: 300 * 1024 * 1024 }, /packetBytesMax/],
    [{ queuedMessagesMax: -1 }, /queuedMessagesMax/],
    [{ outboundBytesMax: 1.5 }, /outboundBytesMax/],
    [{ connectionsMax: true }, /connectionsMax .*got true$/],
    [{ connectionsMax: '' }, /connectionsMax .*got ""$/],
    [{ connectionsMax: null }, /connectionsMax .*got null$/],
    [{ topicAliasMax: 65_536 }, /topicAliasMax/],
    [{ keepAliveSecondsMax: 65_536 }, /keepAliveSecondsMax/],
    [{ sessionExpirySecondsMax: 0x1_0000_0000 }, /sessionExpirySecondsMax/],
    [{ foreignMessageQos: 3 }, /foreignMessageQos must be an integer from 0 to 2, got 3$/],
    [{ connectTimeoutMs: 0 }, /connectTimeoutMs/],
    [{ namespace: 'public' }, /namespace must be tenant\/namespace, got "public"$/],
    [{ namespace: 5 }, /namespace/],
    [{ retainedTopic: '' }, /retainedTopic must be a core topic name/],
    [{ retainedTopic: 'has space' }, /retainedTopic must be a core topic name.*"has space"$/],
    [{ topicRules: { filter: '#', topic: 'x' } }, /topicRules must be a list/],
    [{ topicRules: ['sensors/#'] }, /topicRules\[0\] must be \{ filter, topic, partitions\? \}/],
    [{ topicRules: [{ filter: 'a/#/b', topic: 'a' }] }, /topicRules\[0\]\.filter must be an MQTT topic filter/],
    [{ topicRules: [{ filter: '$share/g/a', topic: 'a' }] }, /topicRules\[0\]\.filter/],
    [{ topicRules: [{ filter: 'a/#', topic: 'a' }, { filter: 'b/#' }] }, /topicRules\[1\]\.topic must be a core topic name, got undefined$/],
    [{ topicRules: [{ filter: 'a/#', topic: 'a/b' }] }, /topicRules\[0\]\.topic/],
    [{ topicRules: [{ filter: 'a/#', topic: 'a', partitions: 0 }] }, /topicRules\[0\]\.partitions must be an integer from 1/],
    // Filter limits come from the same section.
    [{ topicLevelsMax: 2, topicRules: [{ filter: 'a/b/c', topic: 'a' }] }, /topicRules\[0\]\.filter/],
  ];
  for (const [section, text] of cases) assertRefused(section, text);
});

test('long values are shortened in the message so it stays one short line', () => {
  assertRefused({ retainedTopic: 'x y'.repeat(100) }, /retainedTopic .*\.\.\.$/);
});

test('strata serve with a bad mqtt section exits 2 with one line naming the key', { skip: !existsSync(cliPath) && 'server not built' }, async (t) => {
  const dir = await makeTempDir();
  t.after(() => dir.remove());
  for (const [yaml, text] of [
    ['mqtt:\n  inflightMaxx: 5\n', /^strata: handler mqtt failed to start: mqtt config: unknown key inflightMaxx$/m],
    ['mqtt:\n  inflightMax: lots\n', /^strata: handler mqtt failed to start: mqtt config: inflightMax must be an integer/m],
  ] as const) {
    const configPath = join(dir.path, 'strata.yaml');
    await writeFile(configPath, yaml);
    const args = [cliPath, 'serve', '--data-dir', join(dir.path, 'data'), '--free-ports', 'true', '--log-level', 'silent', '--config', configPath];
    const result = await runProgram(process.execPath, args, { env: { PATH: process.env['PATH'] ?? '' }, timeoutMs: 15_000 });
    assert.equal(result.code, 2, result.stderr);
    assert.match(result.stderr, text);
    assert.equal(result.stderr.trim().split('\n').length, 1, result.stderr);
    assert.equal(result.stdout, '');
  }
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ListenerSpec } from '@strata/core';
import { parseCommandLine } from '../src/config/command-line.js';
import { ConfigError } from '../src/config/config-error.js';
import { parseConfigText } from '../src/config/config-file.js';
import { resolveConfig, resolveHandlerModules, type ConfigSources } from '../src/config/resolve-config.js';

const listeners: ListenerSpec[] = [
  { id: 'kafka', defaultPort: 9092, description: 'Kafka' },
  { id: 'mqtt-ws', defaultPort: 8083, description: 'MQTT over WebSocket' },
];
const schema = { handlerNames: ['kafka', 'mqtt'], listeners };

function sources(parts: { flags?: string[]; env?: Record<string, string>; yaml?: string }): ConfigSources {
  return {
    flags: parseCommandLine(['serve', ...(parts.flags ?? [])]).flags,
    env: parts.env ?? {},
    file: parts.yaml === undefined ? null : parseConfigText('strata.yaml', parts.yaml),
    cwd: '/srv/strata',
  };
}

function configError(action: () => unknown): ConfigError {
  try {
    action();
  } catch (error) {
    assert.ok(error instanceof ConfigError, `expected ConfigError, got ${String(error)}`);
    assert.ok(!error.message.includes('\n'), 'config errors are one line');
    return error;
  }
  assert.fail('expected a ConfigError');
}

test('defaults: ./data under cwd, 127.0.0.1, fsync always, default ports', () => {
  const config = resolveConfig(sources({}), schema);
  assert.equal(config.dataDir, '/srv/strata/data');
  assert.equal(config.host, '127.0.0.1');
  assert.equal(config.advertisedHost, null);
  assert.deepEqual(config.fsync, { kind: 'always' });
  assert.equal(config.journalIo, 'auto');
  assert.equal(config.logLevel, 'info');
  assert.equal(config.listeners.get('kafka')?.port, 9092);
  assert.equal(config.listeners.get('mqtt-ws')?.port, 8083);
  assert.equal(config.listeners.get('kafka')?.connectionsMax, 10_000);
  assert.deepEqual(config.handlerSections.get('kafka'), {});
});

test('precedence per setting: flags > env > file > defaults', () => {
  const yaml = 'host: 10.0.0.1\nlisteners:\n  kafka:\n    port: 1111\nfsync: interval:50\n';
  const env = { STRATA_HOST: '10.0.0.2', STRATA_KAFKA_PORT: '2222' };
  const flags = ['--host', '10.0.0.3', '--kafka-port=3333'];
  const all = resolveConfig(sources({ yaml, env, flags }), schema);
  assert.equal(all.host, '10.0.0.3');
  assert.equal(all.listeners.get('kafka')?.port, 3333);
  assert.deepEqual(all.fsync, { kind: 'interval', intervalMs: 50 }); // only the file sets it
  const envAndFile = resolveConfig(sources({ yaml, env }), schema);
  assert.equal(envAndFile.host, '10.0.0.2');
  assert.equal(envAndFile.listeners.get('kafka')?.port, 2222);
  assert.equal(resolveConfig(sources({ flags: ['--journal-io', 'thread-pool'] }), schema).journalIo, 'thread-pool');
  assert.equal(resolveConfig(sources({ env: { STRATA_JOURNAL_IO: 'thread-pool' } }), schema).journalIo, 'thread-pool');
  assert.equal(resolveConfig(sources({ yaml: 'journalIo: thread-pool' }), schema).journalIo, 'thread-pool');
  const fileOnly = resolveConfig(sources({ yaml }), schema);
  assert.equal(fileOnly.host, '10.0.0.1');
  assert.equal(fileOnly.listeners.get('kafka')?.port, 1111);
  assert.equal(fileOnly.listeners.get('mqtt-ws')?.port, 8083);
});

test('listener ids with dashes map to flags and env names', () => {
  const config = resolveConfig(sources({ flags: ['--mqtt-ws-port', '0'], env: { STRATA_MQTT_WS_CONNECTIONS_MAX: '5' } }), schema);
  assert.equal(config.listeners.get('mqtt-ws')?.port, 0);
  assert.equal(config.listeners.get('mqtt-ws')?.connectionsMax, 5);
});

test('Kubernetes service-link variables (STRATA_SERVICE_HOST, STRATA_PORT_9092_TCP, ...) are not settings', () => {
  const env = {
    STRATA_SERVICE_HOST: '10.0.0.1',
    STRATA_SERVICE_PORT: '9092',
    STRATA_SERVICE_PORT_KAFKA: '9092',
    STRATA_PORT: 'tcp://10.0.0.1:9092',
    STRATA_PORT_9092_TCP: 'tcp://10.0.0.1:9092',
    STRATA_PORT_9092_TCP_ADDR: '10.0.0.1',
    STRATA_PORT_9092_TCP_PROTO: 'tcp',
    STRATA_BROKER_SERVICE_HOST: '10.0.0.2',
  };
  const config = resolveConfig(sources({ env }), schema);
  assert.equal(config.listeners.get('kafka')?.port, 9092);
  assert.match(configError(() => resolveConfig(sources({ env: { STRATA_PORTS: '1' } }), schema)).message, /unknown environment variable STRATA_PORTS/);
});

test('freePorts puts every listener without an explicit port on port 0', () => {
  const config = resolveConfig(sources({ flags: ['--free-ports', 'true', '--kafka-port', '9999'] }), schema);
  assert.equal(config.listeners.get('kafka')?.port, 9999);
  assert.equal(config.listeners.get('mqtt-ws')?.port, 0);
});

test('handler sections, limits and policies come from the file', () => {
  const yaml = [
    'kafka:',
    '  defaultPartitions: 3',
    'limits:',
    '  entryBytesMax: 1048576',
    'policies:',
    '  retentionMs: -1',
    '  cleanupPolicy: compact',
    'connectionsMax: 7',
  ].join('\n');
  const config = resolveConfig(sources({ yaml }), schema);
  assert.deepEqual(config.handlerSections.get('kafka'), { defaultPartitions: 3 });
  assert.deepEqual(config.limits, { entryBytesMax: 1048576 });
  assert.deepEqual(config.policies, { retentionMs: -1, cleanupPolicy: 'compact' });
  assert.equal(config.listeners.get('kafka')?.connectionsMax, 7);
});

test('handler modules accumulate from repeated flags; env is a comma list', () => {
  assert.deepEqual(resolveHandlerModules(sources({ flags: ['--handler-module', './a.js', '--handler-module', './b.js'] })), ['./a.js', './b.js']);
  assert.deepEqual(resolveHandlerModules(sources({ env: { STRATA_HANDLER_MODULES: './a.js, ./b.js' } })), ['./a.js', './b.js']);
  assert.deepEqual(resolveHandlerModules(sources({ yaml: 'handlerModules: [./c.js]' })), ['./c.js']);
});

test('validation: every mistake names its key and source on one line', () => {
  const cases: { parts: Parameters<typeof sources>[0]; key: string; text: RegExp }[] = [
    { parts: { yaml: 'hots: 1.2.3.4' }, key: 'hots', text: /unknown key hots in strata\.yaml/ },
    { parts: { yaml: 'listeners:\n  amqp:\n    port: 5672' }, key: 'listeners.amqp', text: /unknown key listeners\.amqp/ },
    { parts: { yaml: 'listeners:\n  kafka:\n    prot: 1' }, key: 'listeners.kafka.prot', text: /unknown key/ },
    { parts: { yaml: 'listeners:\n  kafka:\n    port: abc' }, key: 'listeners.kafka.port', text: /listeners\.kafka\.port \(from strata\.yaml\): must be a port/ },
    { parts: { flags: ['--kafka-port', '70000'] }, key: 'listeners.kafka.port', text: /from flag --kafka-port.*70000/ },
    { parts: { flags: ['--kafka-port', '-1'] }, key: 'listeners.kafka.port', text: /must be a port/ },
    { parts: { env: { STRATA_KAFKA_PORT: '12ab' } }, key: 'listeners.kafka.port', text: /from environment STRATA_KAFKA_PORT/ },
    { parts: { flags: ['--fsync', 'sometimes'] }, key: 'fsync', text: /"always" or "interval:<ms>"/ },
    { parts: { flags: ['--fsync', 'interval:0'] }, key: 'fsync', text: /interval/ },
    { parts: { flags: ['--journal-io', 'worker'] }, key: 'journalIo', text: /one of auto, event-loop, thread-pool/ },
    { parts: { flags: ['--log-level', 'loud'] }, key: 'logLevel', text: /one of debug, info/ },
    { parts: { flags: ['--bogus', '1'] }, key: '--bogus', text: /unknown flag --bogus/ },
    { parts: { env: { STRATA_BOGUS: '1' } }, key: 'STRATA_BOGUS', text: /unknown environment variable STRATA_BOGUS/ },
    { parts: { yaml: 'limits:\n  frobsMax: 1' }, key: 'limits.frobsMax', text: /unknown key/ },
    { parts: { yaml: 'limits:\n  entryBytesMax: 0' }, key: 'limits.entryBytesMax', text: /integer from 1/ },
    { parts: { yaml: 'policies:\n  cleanupPolicy: shred' }, key: 'policies.cleanupPolicy', text: /one of delete/ },
    { parts: { yaml: 'kafka: 3' }, key: 'kafka', text: /must be a mapping/ },
    { parts: { yaml: 'host: ""' }, key: 'host', text: /non-empty string/ },
    { parts: { yaml: 'host: [a, b]' }, key: 'host', text: /non-empty string, got a list/ },
    { parts: { yaml: 'freePorts: maybe' }, key: 'freePorts', text: /true or false/ },
  ];
  for (const { parts, key, text } of cases) {
    const error = configError(() => resolveConfig(sources(parts), schema));
    assert.equal(error.key, key, `key for ${JSON.stringify(parts)}`);
    assert.match(error.message, text);
  }
});

test('the config file must be valid YAML with a mapping at the top', () => {
  assert.match(configError(() => parseConfigText('s.yaml', 'host: [unclosed')).message, /invalid YAML in s\.yaml/);
  assert.match(configError(() => parseConfigText('s.yaml', 'host: a\nhost: b\n')).message, /invalid YAML/);
  assert.match(configError(() => parseConfigText('s.yaml', '- a\n- b\n')).message, /must be a mapping/);
  // An alias bomb ("billion laughs") is refused instead of expanded.
  const bomb = ['a0: &a0 [x, x, x, x, x, x, x, x, x, x]'];
  for (let level = 1; level < 8; level++) bomb.push(`a${level}: &a${level} [${Array(10).fill(`*a${level - 1}`).join(', ')}]`);
  assert.match(configError(() => parseConfigText('s.yaml', bomb.join('\n'))).message, /invalid YAML in s\.yaml/);
  assert.match(configError(() => parseConfigText('s.yaml', 'a: *missing')).message, /invalid YAML/);
  assert.deepEqual(parseConfigText('s.yaml', '').content, {});
  assert.deepEqual(parseConfigText('s.yaml', '# only a comment\n').content, {});
});

test('the command line: command, --name value, --name=value, help', () => {
  const parsed = parseCommandLine(['serve', '--data-dir', '/d', '--host=0.0.0.0', '-h']);
  assert.equal(parsed.command, 'serve');
  assert.equal(parsed.help, true);
  assert.deepEqual(parsed.flags.get('data-dir'), ['/d']);
  assert.deepEqual(parsed.flags.get('host'), ['0.0.0.0']);
  assert.match(configError(() => parseCommandLine(['serve', '--host'])).message, /--host needs a value/);
  assert.match(configError(() => parseCommandLine(['serve', '--host', '--port', '1'])).message, /--host needs a value/);
  assert.match(configError(() => parseCommandLine(['serve', 'extra'])).message, /unexpected argument "extra"/);
  assert.match(configError(() => parseCommandLine(['serve', '--Bad_Flag', '1'])).message, /malformed flag/);
  assert.deepEqual(parseCommandLine(['serve', '--empty=']).flags.get('empty'), ['']);
});

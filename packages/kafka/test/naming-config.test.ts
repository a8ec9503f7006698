import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isStrataError } from '@strata/core';
import { parseKafkaConfig, DEFAULT_KAFKA_CONFIG } from '../src/config.js';
import { STRATA_TO_KAFKA_ERROR } from '../src/errors.js';
import { createTopicNaming, isValidKafkaTopicName } from '../src/naming.js';
import { applyTopicConfig, reportTopicConfigs, type ConfigPatch } from '../src/topic-configs.js';

test('topic names map into the default namespace and, by the separator form, into others', () => {
  const naming = createTopicNaming('public/default', '--');
  assert.equal(naming.toCore('orders'), 'persistent://public/default/orders');
  assert.equal(naming.toCore('orders--v2'), 'persistent://public/default/orders--v2');
  assert.equal(naming.toCore('acme--billing--orders'), 'persistent://acme/billing/orders');
  assert.equal(naming.toCore('persistent://acme/billing/orders'), 'persistent://acme/billing/orders');
  assert.equal(naming.toCore('acme/billing/orders'), 'persistent://acme/billing/orders');
  assert.equal(naming.toKafka('persistent://public/default/orders'), 'orders');
  assert.equal(naming.toKafka('persistent://acme/billing/orders'), 'acme--billing--orders');
  // Core names other protocols made are reachable even where Kafka would not allow them.
  assert.equal(naming.toCore('sensors=temp'), 'persistent://public/default/sensors=temp');
  for (const bad of ['', '.', '..', 'a b', 'x'.repeat(250), 'ü', 'a/b', 'a#b']) {
    assert.throws(() => naming.toCore(bad), (e) => isStrataError(e, 'INVALID_NAME'), bad);
  }
  const other = createTopicNaming('t1/ns1', '.ns.');
  assert.equal(other.toCore('x'), 'persistent://t1/ns1/x');
  assert.equal(other.toCore('a.ns.b.ns.c'), 'persistent://a/b/c');
  assert.equal(other.toKafka('persistent://a/b/c'), 'a.ns.b.ns.c');
  assert.ok(isValidKafkaTopicName('a.b-c_D9'));
  assert.ok(!isValidKafkaTopicName('a:b'));
});

test('config: defaults, overrides, validation', () => {
  assert.deepEqual(parseKafkaConfig({}), DEFAULT_KAFKA_CONFIG);
  const c = parseKafkaConfig({ defaultPartitions: '3', autoCreateTopics: 'false', advertisedHost: 'kafka.local', port: 9092 });
  assert.equal(c.defaultPartitions, 3);
  assert.equal(c.autoCreateTopics, false);
  assert.equal(c.advertisedHost, 'kafka.local');
  for (const bad of [{ defaultPartitions: 0 }, { frameBytesMax: -1 }, { nope: 1 }, { defaultNamespace: 'x' }, { namespaceSeparator: '/' }, { autoCreateTopics: 'yes' }]) {
    assert.throws(() => parseKafkaConfig(bad), (e) => isStrataError(e, 'INVALID_ARGUMENT'), JSON.stringify(bad));
  }
});

test('topic configs map onto core policies', () => {
  const patch: ConfigPatch = {};
  assert.equal(applyTopicConfig(patch, 'retention.ms', '60000'), null);
  assert.equal(applyTopicConfig(patch, 'cleanup.policy', 'delete,compact'), null);
  assert.equal(applyTopicConfig(patch, 'retention.bytes', null), null);
  assert.deepEqual(patch, { retentionMs: 60000, cleanupPolicy: 'compact,delete', retentionBytes: null });
  assert.match(applyTopicConfig(patch, 'retention.ms', 'soon')!, /invalid value/);
  assert.match(applyTopicConfig(patch, 'cleanup.policy', 'shred')!, /invalid value/);
  assert.match(applyTopicConfig(patch, 'flush.ms', '1')!, /unsupported/);
  assert.equal(applyTopicConfig(patch, 'min.insync.replicas', '1'), null);
  assert.match(applyTopicConfig(patch, 'min.insync.replicas', '2')!, /fixed/);
  const policies = { retentionMs: 1, retentionBytes: -1, ttlMs: 0, cleanupPolicy: 'compact' as const, segmentBytesMax: 10, segmentMsMax: 20, segmentEntriesMax: 5, entryBytesMax: 30 };
  const reported = new Map(reportTopicConfigs(policies, { retentionMs: 1 }).map((c) => [c.name, c]));
  assert.equal(reported.get('retention.ms')!.value, '1');
  assert.equal(reported.get('retention.ms')!.isOverride, true);
  assert.equal(reported.get('cleanup.policy')!.value, 'compact');
  assert.equal(reported.get('max.message.bytes')!.value, '30');
  assert.equal(reported.get('compression.type')!.readOnly, true);
});

test('every core error code has a Kafka error code', () => {
  for (const [code, kafka] of Object.entries(STRATA_TO_KAFKA_ERROR)) assert.equal(typeof kafka, 'number', code);
  assert.equal(STRATA_TO_KAFKA_ERROR.OUT_OF_ORDER_SEQUENCE, 45);
  assert.equal(STRATA_TO_KAFKA_ERROR.CORRUPT_BATCH, 2);
  assert.equal(STRATA_TO_KAFKA_ERROR.MESSAGE_TOO_LARGE, 10);
});

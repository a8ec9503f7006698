import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isStrataError } from '../src/errors.js';
import { DEFAULT_TOPIC_POLICIES } from '../src/limits.js';
import { openCoreImpl } from '../src/open-core.js';
import { message, removeDir, tempDir, TOPIC } from './log-helpers.js';

test('topics and namespaces: create, describe, list, policies, grow, delete, persisted', async () => {
  const dir = tempDir();
  try {
    let core = await openCoreImpl({ dataDir: dir, defaultPolicies: { retentionMs: 60_000 } });
    assert.deepEqual(core.namespaces.list(), ['public/default']);
    assert.equal(core.namespaces.describe('public/default').policies.retentionMs, 60_000);
    await core.namespaces.create('acme/iot', { retentionBytes: 1 << 20 });
    await assert.rejects(core.namespaces.create('acme/iot'), (error) => isStrataError(error, 'NAMESPACE_EXISTS'));
    await assert.rejects(core.namespaces.create('bad name/x'), (error) => isStrataError(error, 'INVALID_NAME'));
    const created = await core.topics.create('persistent://acme/iot/temps', { partitions: 4, overrides: { segmentBytesMax: 1 << 20 } });
    assert.equal(created.partitions, 4);
    assert.equal(created.policies.retentionBytes, 1 << 20);
    assert.equal(created.policies.segmentBytesMax, 1 << 20);
    assert.equal(created.policies.entryBytesMax, DEFAULT_TOPIC_POLICIES.entryBytesMax);
    assert.deepEqual(created.overrides, { segmentBytesMax: 1 << 20 });
    await core.topics.create('short-name');
    assert.equal(core.topics.exists('persistent://public/default/short-name'), true);
    assert.equal(core.topics.exists('short-name'), true);
    await assert.rejects(core.topics.create('short-name'), (error) => isStrataError(error, 'TOPIC_EXISTS'));
    await assert.rejects(core.topics.create('persistent://nope/ns/t'), (error) => isStrataError(error, 'UNKNOWN_NAMESPACE'));
    await assert.rejects(core.topics.create('persistent://public/default/a/b'), (error) => isStrataError(error, 'INVALID_NAME'));
    await assert.rejects(core.topics.create('t0', { partitions: 0 }), (error) => isStrataError(error, 'INVALID_PARTITION_COUNT'));
    await assert.rejects(core.topics.create('t1', { overrides: { retentionMs: -5 } }), (error) => isStrataError(error, 'INVALID_ARGUMENT'));
    assert.deepEqual(core.topics.list('acme/iot'), ['persistent://acme/iot/temps']);
    assert.equal(core.topics.list().length, 2);
    await assert.rejects(core.namespaces.delete('acme/iot'), (error) => isStrataError(error, 'NAMESPACE_NOT_EMPTY'));

    await core.append('persistent://acme/iot/temps', 3, { kind: 'messages', messages: [message('t')] });
    await core.append('short-name', 0, { kind: 'messages', messages: [message('s')] });
    await core.topics.setPartitionCount('persistent://acme/iot/temps', 6);
    await assert.rejects(core.topics.setPartitionCount('persistent://acme/iot/temps', 2), (error) => isStrataError(error, 'INVALID_PARTITION_COUNT'));
    await core.append('persistent://acme/iot/temps', 5, { kind: 'messages', messages: [message('u')] });
    const updated = await core.topics.updatePolicies('persistent://acme/iot/temps', { segmentBytesMax: null, retentionMs: 5000 });
    assert.deepEqual(updated.overrides, { retentionMs: 5000 });
    await core.namespaces.updatePolicies('acme/iot', { ttlMs: 1000 });
    assert.equal(core.topics.describe('persistent://acme/iot/temps').policies.ttlMs, 1000);
    await core.close();

    core = await openCoreImpl({ dataDir: dir, defaultPolicies: { retentionMs: 60_000 } });
    const after = core.topics.describe('persistent://acme/iot/temps');
    assert.equal(after.partitions, 6);
    assert.deepEqual(after.overrides, { retentionMs: 5000 });
    assert.equal(after.policies.ttlMs, 1000);
    assert.equal(core.offsets('persistent://acme/iot/temps', 3).highWatermark, 1);
    assert.equal(core.offsets('persistent://acme/iot/temps', 5).highWatermark, 1);
    await core.topics.delete('persistent://acme/iot/temps');
    assert.throws(() => core.topics.describe('persistent://acme/iot/temps'), (error) => isStrataError(error, 'UNKNOWN_TOPIC'));
    await core.namespaces.delete('acme/iot');
    // Recreating a deleted topic starts from offset 0, with none of the old data.
    await core.namespaces.create('acme/iot');
    await core.topics.create('persistent://acme/iot/temps', { partitions: 4 });
    assert.equal(core.offsets('persistent://acme/iot/temps', 3).highWatermark, 0);
    await core.close();
    core = await openCoreImpl({ dataDir: dir });
    assert.equal(core.offsets('persistent://acme/iot/temps', 3).highWatermark, 0);
    assert.equal(core.offsets(TOPIC.replace('orders', 'short-name'), 0).highWatermark, 1);
    await core.close();
  } finally {
    removeDir(dir);
  }
});

test('one process per data directory', async () => {
  const dir = tempDir();
  try {
    const core = await openCoreImpl({ dataDir: dir });
    await assert.rejects(openCoreImpl({ dataDir: dir }), (error) => isStrataError(error, 'STORAGE_ERROR'));
    await core.close();
    const again = await openCoreImpl({ dataDir: dir });
    await again.close();
  } finally {
    removeDir(dir);
  }
});

test('invalid options are refused with INVALID_ARGUMENT', async () => {
  const dir = tempDir();
  try {
    await assert.rejects(openCoreImpl({ dataDir: dir, limits: { openFilesMax: 0 } }), (error) => isStrataError(error, 'INVALID_ARGUMENT'));
    await assert.rejects(openCoreImpl({ dataDir: dir, defaultPolicies: { segmentBytesMax: -3 } }), (error) => isStrataError(error, 'INVALID_ARGUMENT'));
    await assert.rejects(openCoreImpl({ dataDir: '' }), (error) => isStrataError(error, 'INVALID_ARGUMENT'));
    const core = await openCoreImpl({ dataDir: dir }); // the refused attempts left no lock behind
    await core.close();
  } finally {
    removeDir(dir);
  }
});

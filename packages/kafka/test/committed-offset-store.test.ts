import assert from 'node:assert/strict';
import { test } from 'node:test';
import { openEmbeddedMetadataStore, systemClock } from '@strata/core';
import { makeTempDir } from '@strata/testing';
import { CommittedOffsetStore, decodeKeySegment, encodeKeySegment } from '../src/offsets/committed-offset-store.js';

test('committed offsets survive reopening the metadata store; concurrent commits coalesce', async () => {
  const dir = await makeTempDir('strata-kafka-offsets-');
  try {
    let metadata = await openEmbeddedMetadataStore({ dir: dir.path });
    let store = new CommittedOffsetStore(metadata, systemClock);
    await store.load();
    const commits = [];
    for (let i = 0; i < 20; i++) {
      commits.push(store.commit('group/ü .x', [{ topic: 'persistent://public/default/t', partition: i % 3, offset: i, leaderEpoch: -1, metadata: i === 19 ? 'm' : null }]));
    }
    await Promise.all(commits);
    await store.commit('other', [{ topic: 'persistent://public/default/u', partition: 0, offset: 5, leaderEpoch: 0, metadata: null }]);
    await store.delete('other');
    await store.commit('third', [{ topic: 'persistent://public/default/u', partition: 1, offset: 9, leaderEpoch: 0, metadata: null }]);
    await metadata.close();

    metadata = await openEmbeddedMetadataStore({ dir: dir.path });
    store = new CommittedOffsetStore(metadata, systemClock);
    await store.load();
    assert.deepEqual(store.groupIds().sort(), ['group/ü .x', 'third']);
    assert.equal(store.get('group/ü .x', 'persistent://public/default/t', 0)!.offset, 18);
    assert.equal(store.get('group/ü .x', 'persistent://public/default/t', 1)!.offset, 19);
    assert.equal(store.get('group/ü .x', 'persistent://public/default/t', 1)!.metadata, 'm');
    assert.equal(store.get('group/ü .x', 'persistent://public/default/t', 2)!.offset, 17);
    assert.equal(store.list('group/ü .x').length, 3);
    assert.equal(store.hasOffsets('other'), false);
    await store.forgetTopic('persistent://public/default/u');
    assert.equal(store.hasOffsets('third'), false);
    await metadata.close();
  } finally {
    await dir.remove();
  }
});

test('key segments encode any group id reversibly', () => {
  for (const id of ['a', 'a/b', '..', '%41', 'ü', 'with space', '']) {
    const segment = encodeKeySegment(id);
    assert.match(segment, /^[A-Za-z0-9_%-]*$/);
    assert.equal(decodeKeySegment(segment), id);
  }
});

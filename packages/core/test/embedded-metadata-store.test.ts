import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { isStrataError } from '../src/errors.js';
import { openEmbeddedMetadataStore } from '../src/metadata/embedded-metadata-store.js';
import type { MetadataEvent } from '../src/metadata/metadata-store.js';

async function tempDir(t: { after(fn: () => Promise<void>): void }): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'strata-meta-'));
  t.after(() => fs.rm(dir, { recursive: true, force: true }));
  return dir;
}

test('versioned put/get, compare-and-set, delete', async (t) => {
  const dir = await tempDir(t);
  const store = await openEmbeddedMetadataStore({ dir });
  t.after(() => store.close());
  assert.equal(await store.get('/a/b'), null);
  assert.equal(await store.put('/a/b', Buffer.from('one'), { expectedVersion: -1 }), 0);
  await assert.rejects(store.put('/a/b', Buffer.from('x'), { expectedVersion: -1 }), (e) => isStrataError(e, 'BAD_VERSION'));
  assert.equal(await store.put('/a/b', Buffer.from('two'), { expectedVersion: 0 }), 1);
  await assert.rejects(store.put('/a/b', Buffer.from('x'), { expectedVersion: 0 }), (e) => isStrataError(e, 'BAD_VERSION'));
  await assert.rejects(store.put('/missing', Buffer.from('x'), { expectedVersion: 3 }), (e) => isStrataError(e, 'BAD_VERSION'));
  assert.equal(await store.put('/a/b', Buffer.from('three')), 2);
  const got = await store.get('/a/b');
  assert.equal(got?.value.toString(), 'three');
  assert.equal(got?.version, 2);
  await assert.rejects(store.delete('/a/b', { expectedVersion: 1 }), (e) => isStrataError(e, 'BAD_VERSION'));
  await store.delete('/a/b', { expectedVersion: 2 });
  await assert.rejects(store.delete('/a/b'), (e) => isStrataError(e, 'NOT_FOUND'));
  assert.equal(await store.put('/a/b', Buffer.from('again')), 0); // a new key starts again at 0
  await assert.rejects(store.put('relative', Buffer.alloc(0)), (e) => isStrataError(e, 'INVALID_ARGUMENT'));
  await assert.rejects(store.put('/a//b', Buffer.alloc(0)), (e) => isStrataError(e, 'INVALID_ARGUMENT'));
  await assert.rejects(store.get('/trailing/'), (e) => isStrataError(e, 'INVALID_ARGUMENT'));
});

test('children lists direct child names, sorted, tracking deletes', async (t) => {
  const store = await openEmbeddedMetadataStore({ dir: await tempDir(t) });
  t.after(() => store.close());
  await Promise.all([
    store.put('/strata/topics/public/default/b', Buffer.alloc(0)),
    store.put('/strata/topics/public/default/a', Buffer.alloc(0)),
    store.put('/strata/topics/public/other/x/deep', Buffer.alloc(0)),
    store.put('/strata/topics/public', Buffer.from('a node with a value and children')),
  ]);
  assert.deepEqual(await store.children('/strata/topics/public'), ['default', 'other']);
  assert.deepEqual(await store.children('/strata/topics/public/default/'), ['a', 'b']);
  assert.deepEqual(await store.children('/'), ['strata']);
  assert.deepEqual(await store.children('/nothing'), []);
  await store.delete('/strata/topics/public/other/x/deep');
  assert.deepEqual(await store.children('/strata/topics/public'), ['default']);
  assert.deepEqual(await store.children('/strata/topics/public/other'), []);
});

test('state survives reopen; ephemeral keys do not', async (t) => {
  const dir = await tempDir(t);
  let store = await openEmbeddedMetadataStore({ dir });
  await store.put('/durable', Buffer.from('d'));
  await store.put('/durable', Buffer.from('d2'));
  await store.put('/gone', Buffer.from('g'));
  await store.delete('/gone');
  await store.put('/session/owner', Buffer.from('me'), { ephemeral: true });
  await store.put('/was-durable', Buffer.from('x'));
  await store.put('/was-durable', Buffer.from('y'), { ephemeral: true });
  assert.equal((await store.get('/session/owner'))?.value.toString(), 'me');
  await store.close();
  await assert.rejects(store.get('/durable'), (e) => isStrataError(e, 'CLOSED'));
  store = await openEmbeddedMetadataStore({ dir });
  t.after(() => store.close());
  assert.deepEqual(await store.get('/durable'), { value: Buffer.from('d2'), version: 1 });
  assert.equal(await store.get('/gone'), null);
  assert.equal(await store.get('/session/owner'), null);
  assert.equal(await store.get('/was-durable'), null);
  assert.deepEqual(await store.children('/'), ['durable']);
});

test('torn tail: a partial or corrupt last record is truncated, earlier ones kept', async (t) => {
  const dir = await tempDir(t);
  const store = await openEmbeddedMetadataStore({ dir });
  await store.put('/one', Buffer.from('1'));
  await store.put('/two', Buffer.from('2'));
  await store.close();
  const logPath = path.join(dir, 'metadata.log');
  const full = await fs.readFile(logPath);
  for (let cut = 1; cut < 30; cut++) {
    await fs.writeFile(logPath, full.subarray(0, full.length - cut));
    const reopened = await openEmbeddedMetadataStore({ dir });
    assert.equal((await reopened.get('/one'))?.value.toString(), '1', `cut ${cut}`);
    assert.equal(await reopened.get('/two'), null, `cut ${cut}`);
    await reopened.put('/three', Buffer.from('3')); // appends after the truncated point
    await reopened.close();
    const again = await openEmbeddedMetadataStore({ dir });
    assert.equal((await again.get('/three'))?.value.toString(), '3');
    assert.equal((await again.get('/one'))?.value.toString(), '1');
    await again.close();
  }
  const flipped = Buffer.from(full);
  flipped[flipped.length - 1]! ^= 0xff;
  await fs.writeFile(logPath, Buffer.concat([flipped, Buffer.from('garbage')]));
  const reopened = await openEmbeddedMetadataStore({ dir });
  t.after(() => reopened.close());
  assert.equal((await reopened.get('/one'))?.value.toString(), '1');
  assert.equal(await reopened.get('/two'), null);
});

test('watch delivers put and delete events under a path prefix, after they are durable', async (t) => {
  const store = await openEmbeddedMetadataStore({ dir: await tempDir(t) });
  t.after(() => store.close());
  const events: MetadataEvent[] = [];
  const unwatch = store.watch('/w', (event) => events.push(event));
  const put = store.put('/w/a', Buffer.from('1'));
  assert.equal(events.length, 0); // not before it is on disk
  await put;
  await store.put('/w', Buffer.from('self'));
  await store.put('/wx', Buffer.from('not under /w'));
  await store.delete('/w/a');
  unwatch();
  await store.put('/w/b', Buffer.from('after unwatch'));
  assert.deepEqual(events, [
    { type: 'put', key: '/w/a', version: 0 },
    { type: 'put', key: '/w', version: 0 },
    { type: 'delete', key: '/w/a' },
  ]);
});

test('group commit: many concurrent puts resolve, all durable, with CAS serialised', async (t) => {
  const dir = await tempDir(t);
  const store = await openEmbeddedMetadataStore({ dir });
  const writes = Array.from({ length: 500 }, (_, i) => store.put(`/many/${i % 50}`, Buffer.from(String(i))));
  const versions = await Promise.all(writes);
  assert.equal(Math.max(...versions), 9);
  // Exactly one of 20 racing creators wins.
  const racers = await Promise.allSettled(Array.from({ length: 20 }, () => store.put('/leader', Buffer.from('x'), { expectedVersion: -1 })));
  assert.equal(racers.filter((r) => r.status === 'fulfilled').length, 1);
  await store.close();
  const reopened = await openEmbeddedMetadataStore({ dir });
  t.after(() => reopened.close());
  assert.equal((await reopened.children('/many')).length, 50);
  assert.equal((await reopened.get('/many/7'))?.value.toString(), '457');
});

test('compaction rewrites the log when it outgrows the live data and keeps state', async (t) => {
  const dir = await tempDir(t);
  const store = await openEmbeddedMetadataStore({ dir, limits: { compactLogBytesMin: 16 * 1024 } });
  const value = Buffer.alloc(1000, 1);
  for (let i = 0; i < 200; i++) await store.put(`/hot/${i % 5}`, value);
  const logBytes = (await fs.stat(path.join(dir, 'metadata.log'))).size;
  assert.ok(logBytes < 40 * 1024, `log compacted to ${logBytes} bytes`);
  await store.put('/after', Buffer.from('compaction'));
  await store.close();
  const reopened = await openEmbeddedMetadataStore({ dir });
  t.after(() => reopened.close());
  assert.equal((await reopened.get('/hot/3'))?.version, 39);
  assert.equal((await reopened.get('/after'))?.value.toString(), 'compaction');
});

test('limits: oversized values are refused', async (t) => {
  const store = await openEmbeddedMetadataStore({ dir: await tempDir(t), limits: { valueBytesMax: 10 } });
  t.after(() => store.close());
  await assert.rejects(store.put('/big', Buffer.alloc(11)), (e) => isStrataError(e, 'LIMIT_EXCEEDED'));
});

test('fuzz: a log file of random or mutated bytes opens (keeping the valid prefix), never crashes', async (t) => {
  const dir = await tempDir(t);
  const store = await openEmbeddedMetadataStore({ dir });
  for (let i = 0; i < 20; i++) await store.put(`/k/${i}`, Buffer.from(`value-${i}`));
  await store.close();
  const logPath = path.join(dir, 'metadata.log');
  const good = await fs.readFile(logPath);
  let seed = 99;
  const random = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
  for (let round = 0; round < 60; round++) {
    const mutated = Buffer.from(good);
    if (round % 3 === 0) for (let f = 0; f < 3; f++) mutated[Math.floor(random() * mutated.length)] = Math.floor(random() * 256);
    const data = round % 3 === 1 ? Buffer.from(Array.from({ length: Math.floor(random() * 300) }, () => Math.floor(random() * 256))) : mutated;
    await fs.writeFile(logPath, round % 3 === 2 ? Buffer.concat([good.subarray(0, Math.floor(random() * good.length)), data.subarray(0, 40)]) : data);
    const reopened = await openEmbeddedMetadataStore({ dir });
    const keys = await reopened.children('/k');
    for (const key of keys) assert.match((await reopened.get(`/k/${key}`))!.value.toString(), /^value-\d+$/);
    await reopened.put('/after', Buffer.from('ok'));
    await reopened.close();
  }
});

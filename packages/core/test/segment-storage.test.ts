// The log engine reaches segment files only through SegmentStorage: it runs on a recording storage
// (delegating to LocalSegmentStorage) whose root is NOT <dataDir>/log, through append, read, roll,
// retention, compaction and restart. Every file in the storage's root must be one the storage
// created and did not remove, nothing may appear in <dataDir>/log, and each kind of call is seen.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import type { Core } from '../src/core.js';
import { openCoreImpl, type CoreImpl } from '../src/open-core.js';
import { decodeRecordBatch } from '../src/record-batch/index.js';
import { LocalSegmentStorage } from '../src/storage/local-segment-storage.js';
import type { SegmentFile, SegmentFileStat, SegmentRewrite, SegmentStorage } from '../src/storage/segment-storage.js';
import { message, removeDir, tempDir } from './log-helpers.js';

const RETAINED = 'persistent://public/default/retained';
const COMPACTED = 'persistent://public/default/compacted';
const MESSAGES = 64;

class RecordingStorage implements SegmentStorage {
  readonly calls = new Map<string, number>();
  /** Files the storage made and has not removed: must equal what is on disk. */
  readonly live = new Set<string>();
  readonly dirs = new Set<string>();
  private readonly inner: LocalSegmentStorage;

  constructor(readonly root: string) {
    this.inner = new LocalSegmentStorage(root, 4);
    this.dirs.add(root);
  }

  private count(name: string): void {
    this.calls.set(name, (this.calls.get(name) ?? 0) + 1);
  }

  get openCount(): number {
    return this.inner.openCount;
  }
  get syncFileSystemPath(): null {
    return null; // every sync must come through the interface
  }
  async makeDirectory(dir: string): Promise<void> {
    this.count('makeDirectory');
    for (let d = dir; d.startsWith(this.root); d = path.dirname(d)) this.dirs.add(d);
    await this.inner.makeDirectory(dir);
  }
  list(dir: string): Promise<string[]> {
    this.count('list');
    return this.inner.list(dir);
  }
  async removeDirectory(dir: string): Promise<void> {
    this.count('removeDirectory');
    for (const file of [...this.live]) if (file.startsWith(dir + path.sep)) this.live.delete(file);
    for (const d of [...this.dirs]) if (d === dir || d.startsWith(dir + path.sep)) this.dirs.delete(d);
    await this.inner.removeDirectory(dir);
  }
  syncDirectory(dir: string): Promise<void> {
    this.count('syncDirectory');
    return this.inner.syncDirectory(dir);
  }
  async open(file: string, create: boolean): Promise<SegmentFile> {
    this.count(create ? 'open(create)' : 'open');
    const inner = await this.inner.open(file, create);
    if (create) this.live.add(file);
    return {
      read: (length, position) => (this.count('read'), inner.read(length, position)),
      write: (buffers, position) => (this.count('write'), inner.write(buffers, position)),
      sync: () => (this.count('sync'), inner.sync()),
      release: () => inner.release(),
    };
  }
  stat(file: string): Promise<SegmentFileStat | null> {
    this.count('stat');
    return this.inner.stat(file);
  }
  truncate(file: string, bytes: number): Promise<void> {
    this.count('truncate');
    return this.inner.truncate(file, bytes);
  }
  async remove(file: string): Promise<void> {
    this.count('remove');
    this.live.delete(file);
    await this.inner.remove(file);
  }
  forget(file: string): void {
    this.count('forget');
    this.inner.forget(file);
  }
  async rewrite(file: string, temporaryPath: string): Promise<SegmentRewrite> {
    this.count('rewrite');
    const inner = await this.inner.rewrite(file, temporaryPath);
    this.live.add(temporaryPath);
    return {
      write: (buffers) => inner.write(buffers),
      sync: () => inner.sync(),
      close: () => inner.close(),
      discard: async () => {
        this.live.delete(temporaryPath);
        await inner.discard();
      },
      replace: () => {
        this.count('replace');
        this.live.delete(temporaryPath);
        inner.replace();
      },
    };
  }
  readWhole(file: string): Promise<Buffer | null> {
    this.count('readWhole');
    return this.inner.readWhole(file);
  }
  async writeWhole(file: string, data: Buffer | string, options?: { syncMetadata?: boolean }): Promise<void> {
    this.count('writeWhole');
    await this.inner.writeWhole(file, data, options);
    this.live.add(file);
  }
  close(): Promise<void> {
    this.count('close');
    return this.inner.close();
  }

  /** Files on disk under the root, and the live set, sorted. */
  compareWithDisk(): { disk: string[]; live: string[] } {
    const disk: string[] = [];
    const walk = (dir: string): void => {
      for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
        const full = path.join(dir, entry.name);
        if (entry.isDirectory()) {
          assert.ok(this.dirs.has(full), `directory ${full} was made through the storage`);
          walk(full);
        } else disk.push(full);
      }
    };
    walk(this.root);
    return { disk: disk.sort(), live: [...this.live].sort() };
  }
}

async function readAll(core: Core, topic: string): Promise<string[]> {
  const values: string[] = [];
  let offset = core.offsets(topic, 0).logStartOffset;
  const end = core.offsets(topic, 0).highWatermark;
  for (let step = 0; step < 10_000 && offset < end; step++) {
    const { entries } = await core.read(topic, 0, { offset, maxBytes: 4096, maxEntries: 16 });
    if (entries.length === 0) break;
    for (const entry of entries) {
      for (const m of decodeRecordBatch(entry.bytes).messages) if (m.offset >= offset) values.push(`${m.offset}:${m.value?.toString() ?? 'null'}`);
      offset = Math.max(offset, entry.lastOffset + 1);
    }
  }
  return values;
}

test('the log engine touches segment files only through SegmentStorage (append, roll, retention, compaction, restart)', async (t) => {
  const dir = tempDir('strata-segment-storage-');
  let core: CoreImpl | null = null;
  t.after(async () => {
    await core?.close();
    removeDir(dir);
  });
  const root = path.join(dir, 'segments-elsewhere');
  let storage = new RecordingStorage(root);
  core = await openCoreImpl({ dataDir: dir }, { segmentStorage: storage });
  await core.topics.create(RETAINED, { overrides: { segmentEntriesMax: 8, retentionBytes: 1 } });
  await core.topics.create(COMPACTED, { overrides: { cleanupPolicy: 'compact', segmentEntriesMax: 8 } });
  for (let i = 0; i < MESSAGES; i++) {
    await core.append(RETAINED, 0, { kind: 'messages', messages: [message(`r${i}`)] });
    await core.append(COMPACTED, 0, { kind: 'messages', messages: [message(`c${i}`, { key: `k${i % 4}` })] });
  }
  assert.equal((await readAll(core, RETAINED)).length, MESSAGES);
  await core.log.checkpoint(); // segment files complete and fsynced; sealed ones summarized
  const retainedBefore = core.offsets(RETAINED, 0).logStartOffset;
  await core.enforceRetention(); // deletes old segments of RETAINED, compacts COMPACTED
  assert.ok(core.offsets(RETAINED, 0).logStartOffset > retainedBefore, 'retention deleted segments');
  const compacted = await readAll(core, COMPACTED);
  assert.ok(compacted.length < MESSAGES, `compaction removed messages (${compacted.length} left)`);
  const retained = await readAll(core, RETAINED);
  await core.log.checkpoint();

  for (const call of ['open(create)', 'write', 'sync', 'syncDirectory', 'writeWhole', 'remove', 'rewrite', 'replace', 'list', 'makeDirectory']) {
    assert.ok((storage.calls.get(call) ?? 0) > 0, `${call} went through the storage (${JSON.stringify([...storage.calls])})`);
  }
  assert.ok(storage.openCount <= 4, 'the descriptor bound of the local storage holds');
  let { disk, live } = storage.compareWithDisk();
  assert.ok(disk.some((file) => file.endsWith('.log')) && disk.some((file) => file.endsWith('.idx')), 'segments and summaries are in the storage root');
  assert.deepEqual(disk, live, 'every file on disk was made through the storage, and every removed one is gone');
  await core.close();
  assert.equal(storage.calls.get('close'), 1, 'closing the core closes its storage');
  assert.ok(!fs.existsSync(path.join(dir, 'log')), 'nothing went to <dataDir>/log behind the storage');

  // Restart on a fresh storage over the same root: recovery and disk reads go through it too.
  storage = new RecordingStorage(root);
  for (const file of live) storage.live.add(file);
  for (const d of fs.readdirSync(root, { recursive: true, withFileTypes: true })) if (d.isDirectory()) storage.dirs.add(path.join(d.parentPath, d.name));
  core = await openCoreImpl({ dataDir: dir }, { segmentStorage: storage });
  assert.deepEqual(await readAll(core, COMPACTED), compacted);
  assert.deepEqual(await readAll(core, RETAINED), retained);
  for (const call of ['list', 'readWhole', 'stat', 'open', 'read']) {
    assert.ok((storage.calls.get(call) ?? 0) > 0, `after restart, ${call} went through the storage`);
  }
  const filesBeforeDelete = storage.compareWithDisk().disk.length;
  await core.topics.delete(RETAINED);
  await core.log.checkpoint();
  ({ disk, live } = storage.compareWithDisk());
  assert.deepEqual(disk, live, 'topic deletion went through the storage');
  assert.ok(disk.length < filesBeforeDelete, "the deleted topic's files are gone");
  assert.ok((storage.calls.get('removeDirectory') ?? 0) > 0);
  assert.ok(!fs.existsSync(path.join(dir, 'log')));
});

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { openCoreImpl } from '../src/open-core.js';
import { message, removeDir, tempDir, TOPIC } from './log-helpers.js';

test('10,000 partitions: bounded open files, few fsyncs, all recovered', async () => {
  const dir = tempDir();
  const partitions = 10_000;
  const openFilesMax = 128;
  try {
    let core = await openCoreImpl({ dataDir: dir, limits: { openFilesMax } });
    await core.topics.create(TOPIC, { partitions });
    const pending: Promise<unknown>[] = [];
    for (let p = 0; p < partitions; p++) pending.push(core.append(TOPIC, p, { kind: 'messages', messages: [message(`p${p}`)] }));
    const results = (await Promise.all(pending)) as { baseOffset: number }[];
    assert.ok(results.every((result) => result.baseOffset === 0));
    const stats = core.log.stats();
    assert.ok(stats.openFiles <= openFilesMax, `open files ${stats.openFiles} <= ${openFilesMax}`);
    assert.ok(stats.groups < partitions / 10, `${stats.groups} group commits (journal fsyncs) for ${partitions} appends`);
    await core.close();

    core = await openCoreImpl({ dataDir: dir, limits: { openFilesMax } });
    for (const p of [0, 1, 4999, 9999]) assert.equal(core.offsets(TOPIC, p).highWatermark, 1);
    let total = 0;
    for (let p = 0; p < partitions; p++) total += core.offsets(TOPIC, p).highWatermark;
    assert.equal(total, partitions);
    const read = await core.read(TOPIC, 9999, { offset: 0, maxBytes: 1000 });
    assert.equal(read.entries.length, 1);
    assert.ok(core.log.stats().openFiles <= openFilesMax);
    await core.close();
  } finally {
    removeDir(dir);
  }
});

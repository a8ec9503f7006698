// The forced rewrite's cut (src/log/journal-rewrite.ts): exact positions on valid segments, and no
// crash, hang or cut past the file on damaged ones.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { cutPartitionForRewrite } from '../src/log/journal-rewrite.js';
import { indexPathOf } from '../src/log/segment-index-file.js';
import { segmentFileName } from '../src/log/segment.js';
import { encodeRecordBatch } from '../src/record-batch/encode.js';
import { setBaseOffset } from '../src/record-batch/header.js';
import { seededRandom } from '../src/random.js';
import { LocalSegmentStorage } from '../src/storage/local-segment-storage.js';
import { message, removeDir, tempDir } from './log-helpers.js';

/** Batches of 1-3 records each, with base offsets from `base` on; returns them and their offsets. */
function batchesFrom(base: number, count: number): { bytes: Buffer[]; bases: number[] } {
  const bytes: Buffer[] = [];
  const bases: number[] = [];
  let offset = base;
  for (let i = 0; i < count; i++) {
    const records = 1 + (i % 3);
    const batch = encodeRecordBatch(Array.from({ length: records }, (_, r) => message(`value-${i}-${r}`, { timestamp: 1_700_000_000_000 })));
    setBaseOffset(batch, offset);
    bytes.push(batch);
    bases.push(offset);
    offset += records;
  }
  return { bytes, bases };
}

function withStorage(body: (storage: LocalSegmentStorage, partitionDir: string) => Promise<void>): Promise<void> {
  const root = tempDir('strata-cut-');
  const storage = new LocalSegmentStorage(root, 8);
  const partitionDir = path.join(root, '1', '0');
  fs.mkdirSync(partitionDir, { recursive: true });
  return body(storage, partitionDir).finally(async () => {
    await storage.close();
    removeDir(root);
  });
}

test('cut: the segment holding the offset is truncated before its batch, later segments and index files go', async () => {
  await withStorage(async (storage, dir) => {
    const first = batchesFrom(100, 6);
    const firstEnd = first.bases[5]! + 3; // batch 5 holds 3 records
    const second = batchesFrom(firstEnd, 4);
    const firstFile = path.join(dir, segmentFileName(100));
    const secondFile = path.join(dir, segmentFileName(firstEnd));
    const writeAll = (): void => {
      fs.writeFileSync(firstFile, Buffer.concat(first.bytes));
      fs.writeFileSync(indexPathOf(firstFile), 'summary');
      fs.writeFileSync(secondFile, Buffer.concat(second.bytes));
      fs.writeFileSync(indexPathOf(secondFile), 'summary');
    };
    for (let i = 0; i < first.bases.length; i++) {
      writeAll();
      const cut = await cutPartitionForRewrite(storage, dir, first.bases[i]!);
      const kept = first.bytes.slice(0, i).reduce((sum, batch) => sum + batch.length, 0);
      assert.equal(fs.statSync(firstFile).size, kept, `cut at batch ${i}`);
      assert.equal(cut?.segmentsRemoved, 1);
      assert.equal(cut?.file, firstFile);
      assert.ok(!fs.existsSync(secondFile) && !fs.existsSync(indexPathOf(secondFile)));
      assert.ok(!fs.existsSync(indexPathOf(firstFile)), "the cut segment's index file describes the old length");
    }
    // An offset in the second segment leaves the first one whole, with its index file.
    writeAll();
    await cutPartitionForRewrite(storage, dir, second.bases[2]!);
    assert.equal(fs.statSync(firstFile).size, Buffer.concat(first.bytes).length);
    assert.ok(fs.existsSync(indexPathOf(firstFile)));
    assert.equal(fs.statSync(secondFile).size, second.bytes[0]!.length + second.bytes[1]!.length);
    // The offset right after the last batch: nothing to cut.
    writeAll();
    const none = await cutPartitionForRewrite(storage, dir, second.bases[3]! + 1);
    assert.equal(none?.bytesCut, 0);
    assert.ok(fs.existsSync(indexPathOf(secondFile)));
    // An offset below the first segment (retention deleted what came before): rewritten whole.
    writeAll();
    await cutPartitionForRewrite(storage, dir, 50);
    assert.equal(fs.statSync(firstFile).size, 0);
    // No segment at all.
    fs.rmSync(firstFile);
    assert.equal(await cutPartitionForRewrite(storage, dir, 0), null);
  });
});

test('cut fuzz: damaged bytes after the cut point or before it never throw, hang, or cut past the file', async () => {
  const random = seededRandom(20261122);
  await withStorage(async (storage, dir) => {
    const file = path.join(dir, segmentFileName(0));
    const { bytes, bases } = batchesFrom(0, 12);
    const whole = Buffer.concat(bytes);
    for (let round = 0; round < 200; round++) {
      const damaged = Buffer.from(whole);
      const damageAt = Math.floor(random() * damaged.length);
      const damageBytes = 1 + Math.floor(random() * 64);
      for (let i = damageAt; i < Math.min(damaged.length, damageAt + damageBytes); i++) damaged[i] = Math.floor(random() * 256);
      const extra = random() < 0.3 ? Buffer.from(Array.from({ length: Math.floor(random() * 100) }, () => Math.floor(random() * 256))) : Buffer.alloc(0);
      const content = random() < 0.2 ? damaged.subarray(0, Math.floor(random() * damaged.length)) : Buffer.concat([damaged, extra]);
      fs.writeFileSync(file, content);
      const offset = Math.floor(random() * (bases[bases.length - 1]! + 5));
      const cut = await cutPartitionForRewrite(storage, dir, offset);
      assert.ok(cut);
      const size = fs.statSync(file).size;
      assert.ok(size <= content.length);
      assert.equal(cut.bytesCut, content.length - size);
      // Undamaged batches wholly before both the damage and the offset are always kept.
      let intact = 0;
      for (let i = 0; i < bytes.length && bases[i]! < offset; i++) {
        if (intact + bytes[i]!.length > Math.min(damageAt, content.length)) break;
        intact += bytes[i]!.length;
      }
      assert.ok(size >= intact, `round ${round}: kept ${size} < intact ${intact}`);
    }
  });
});

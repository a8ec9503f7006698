// The committed codecs are exactly what the generator writes from the specs (when the specs are here:
// they live outside the repository and are not committed).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const packageDir = fileURLToPath(new URL('../../../', import.meta.url));
const specDir = join(packageDir, '../../../shared/kafka-protocol/3.8.0');

function files(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) files(path, out);
    else out.push(path);
  }
  return out;
}

test('generated codecs are up to date with the generator', { skip: !existsSync(specDir) && 'Kafka JSON specs not present' }, () => {
  const outDir = mkdtempSync(join(tmpdir(), 'strata-kafka-generate-'));
  try {
    const result = spawnSync(process.execPath, [join(packageDir, 'scripts/generate-messages.mjs'), specDir, outDir], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(result.status, 0, result.stderr);
    for (const sub of ['src/protocol/messages', 'test/protocol/generated']) {
      const fresh = files(join(outDir, sub)).map((path) => relative(outDir, path)).sort();
      const committed = files(join(packageDir, sub)).map((path) => relative(packageDir, path)).sort();
      assert.deepEqual(committed, fresh, `${sub}: same files`);
      for (const path of fresh) {
        assert.equal(readFileSync(join(packageDir, path), 'utf8'), readFileSync(join(outDir, path), 'utf8'), `${path} is stale: run npm run generate -w packages/kafka`);
      }
    }
  } finally {
    rmSync(outDir, { recursive: true, force: true });
  }
});

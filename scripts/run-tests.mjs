#!/usr/bin/env node
// Runs every compiled test file with Node's own test runner: packages/*/dist/test/**/*.test.js and
// test/dist/**/*.test.js. Arguments filter by substring of the path (npm test -- kafka).
//
// Output: the spec reporter while tests run, then Node's own summary (tests, pass, fail, ...) as the
// last lines. The spec reporter lists failures after its summary, so the summary is taken from a TAP
// reporter written to a temporary file and printed again at the very end.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';

const root = new URL('..', import.meta.url).pathname;

function collect(dir, out) {
  if (!existsSync(dir)) return;
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) collect(path, out);
    else if (name.endsWith('.test.js')) out.push(path);
  }
}

const files = [];
for (const pkg of readdirSync(join(root, 'packages'))) collect(join(root, 'packages', pkg, 'dist', 'test'), files);
collect(join(root, 'test', 'dist'), files);

const filters = process.argv.slice(2);
const selected = files
  .map((file) => relative(root, file))
  .filter((file) => filters.length === 0 || filters.some((filter) => file.includes(filter)))
  .sort();

if (selected.length === 0) {
  console.error('no test files found (did tsc -b run?)');
  process.exit(1);
}

const tapDir = mkdtempSync(join(tmpdir(), 'strata-tests-'));
const tapFile = join(tapDir, 'results.tap');
const result = spawnSync(
  process.execPath,
  [
    '--test',
    '--test-concurrency=2',
    '--test-timeout=300000',
    '--test-reporter=spec',
    '--test-reporter-destination=stdout',
    '--test-reporter=tap',
    `--test-reporter-destination=${tapFile}`,
    ...selected,
  ],
  { cwd: root, stdio: 'inherit' },
);

// The TAP stream ends with Node's summary: "# tests N", "# pass N", "# fail N", ...
let summary = [];
if (existsSync(tapFile)) {
  const lines = readFileSync(tapFile, 'utf8').trimEnd().split('\n');
  const start = lines.findLastIndex((line) => /^# tests \d+/.test(line));
  if (start !== -1) summary = lines.slice(start).filter((line) => line.startsWith('# '));
}
rmSync(tapDir, { recursive: true, force: true });
if (summary.length > 0) console.log(`\n${summary.join('\n')}`);
process.exit(result.status ?? 1);

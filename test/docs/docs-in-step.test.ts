/**
 * The docs that are tables of code (header names, error codes) must say what the code says. These
 * tests fail when a name is added on one side only.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import * as core from '@strata/core';

const root = new URL('../../../', import.meta.url).pathname;
const read = (path: string): string => readFileSync(join(root, path), 'utf8');

/** Backticked names in the first column of markdown table rows. */
function firstColumnNames(markdown: string): string[] {
  const names: string[] = [];
  for (const line of markdown.split('\n')) {
    const match = /^\| `([^`]+)` \|/.exec(line);
    if (match) names.push(match[1] as string);
  }
  return names;
}

function sourceText(directory: string): string {
  let text = '';
  for (const name of readdirSync(directory)) {
    const path = join(directory, name);
    if (statSync(path).isDirectory()) text += sourceText(path);
    else if (name.endsWith('.ts')) text += readFileSync(path, 'utf8');
  }
  return text;
}

test('docs/headers.md documents every header name the core exports, and only names the code uses', () => {
  const documented = new Set(firstColumnNames(read('docs/headers.md')));
  const exported = new Set<string>(Object.values(core.HEADER));
  for (const [name, value] of Object.entries(core)) {
    if (name.endsWith('_HEADER') && typeof value === 'string') exported.add(value);
  }
  for (const header of exported) assert.ok(documented.has(header), `docs/headers.md is missing ${header}`);
  const packages = readdirSync(join(root, 'packages')).map((name) => sourceText(join(root, 'packages', name, 'src'))).join('\n');
  for (const header of documented) assert.ok(packages.includes(`'${header}'`), `docs/headers.md lists ${header}, which no source file defines`);
});

test('docs/errors.md lists every core error code, and only those', () => {
  const source = read('packages/core/src/errors.ts');
  const union = source.slice(source.indexOf('export type StrataErrorCode'), source.indexOf(';', source.indexOf('export type StrataErrorCode')));
  const codes = [...union.matchAll(/'([A-Z_]+)'/g)].map((match) => match[1] as string);
  assert.ok(codes.length > 10, 'the union was found');
  const docs = read('docs/errors.md');
  const table = docs.slice(docs.indexOf('## Core error codes'), docs.indexOf('## ', docs.indexOf('## Core error codes') + 3));
  const documented = firstColumnNames(table);
  assert.deepEqual([...documented].sort(), [...codes].sort());
  for (const code of codes) {
    const retriable = new core.StrataError(code as core.StrataErrorCode, 'x').retriable;
    const row = table.split('\n').find((line) => line.startsWith(`| \`${code}\` |`)) ?? '';
    assert.match(row, retriable ? /\| yes \|/ : /\| no \|/, `retriable column of ${code}`);
  }
});

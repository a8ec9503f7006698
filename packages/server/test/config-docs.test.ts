import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describeSettings } from '../src/config/resolve-config.js';

const configurationDoc = readFileSync(new URL('../../../../docs/configuration.md', import.meta.url), 'utf8');

test('docs/configuration.md names every setting: key, flag and environment variable', () => {
  for (const row of describeSettings({ handlerNames: [], listeners: [] })) {
    if (!row.key.startsWith('(')) assert.ok(configurationDoc.includes(`\`${row.key}\``), `key ${row.key}`);
    assert.ok(configurationDoc.includes(`\`--${row.flag}`), `flag --${row.flag}`);
    assert.ok(configurationDoc.includes(`\`${row.env}\``), `environment ${row.env}`);
  }
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { DEFAULT_CORE_LIMITS, DEFAULT_TOPIC_POLICIES } from '@strata/core';
import { describeSettings } from '../src/config/resolve-config.js';

const configurationDoc = readFileSync(new URL('../../../../docs/configuration.md', import.meta.url), 'utf8');

test('docs/configuration.md names every setting: key, flag and environment variable', () => {
  for (const row of describeSettings({ handlerNames: [], listeners: [] })) {
    if (!row.key.startsWith('(')) assert.ok(configurationDoc.includes(`\`${row.key}\``), `key ${row.key}`);
    assert.ok(configurationDoc.includes(`\`--${row.flag}`), `flag --${row.flag}`);
    assert.ok(configurationDoc.includes(`\`${row.env}\``), `environment ${row.env}`);
  }
});

test('docs/configuration.md names every core limit and topic policy key', () => {
  for (const key of [...Object.keys(DEFAULT_CORE_LIMITS), ...Object.keys(DEFAULT_TOPIC_POLICIES)]) {
    assert.ok(configurationDoc.includes(`\`${key}\``), `limits/policies key ${key}`);
  }
});

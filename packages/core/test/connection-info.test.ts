import assert from 'node:assert/strict';
import { test } from 'node:test';
import { rfc2253Name } from '../src/handler.js';

test('rfc2253Name: certificate-order RDNs become an RFC 2253 name, most specific first, specials escaped', () => {
  assert.equal(rfc2253Name('C=US\nO=Example\nOU=eng\nCN=alice'), 'CN=alice,OU=eng,O=Example,C=US');
  assert.equal(rfc2253Name('CN=test-client'), 'CN=test-client');
  assert.equal(rfc2253Name('O=Smith, Jones\nCN=a+b'), 'CN=a\\+b,O=Smith\\, Jones');
  assert.equal(rfc2253Name(''), '');
});

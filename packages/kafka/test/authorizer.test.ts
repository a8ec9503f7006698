/** The authorizer's decision rules and the ACL filters, against Kafka's documented semantics. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { openEmbeddedMetadataStore } from '@strata/core';
import { makeTempDir } from '@strata/testing';
import { AclOperation as Op, AclPermission, filterMatches, PatternType, ResourceType, invalidBinding, type AclBinding } from '../src/acl/acl-types.js';
import { Authorizer } from '../src/acl/authorizer.js';

function acl(partial: Partial<AclBinding> & Pick<AclBinding, 'principal' | 'operation' | 'resourceName'>): AclBinding {
  return { resourceType: ResourceType.TOPIC, patternType: PatternType.LITERAL, host: '*', permission: AclPermission.ALLOW, ...partial };
}

async function authorizerWith(configured: AclBinding[], options: { allowIfNoAcl?: boolean } = {}) {
  const dir = await makeTempDir('strata-acl-');
  const metadata = await openEmbeddedMetadataStore({ dir: dir.path });
  const authorizer = new Authorizer(metadata, { superUsers: ['User:root'], allowIfNoAcl: options.allowIfNoAcl ?? false, configured, aclsMax: 3 });
  await authorizer.load();
  return { authorizer, metadata, dir };
}

test('authorizer: allow, deny wins, implied DESCRIBE, prefixes, wildcards, hosts, super users, no ACL', async () => {
  const { authorizer, metadata, dir } = await authorizerWith([
    acl({ principal: 'User:alice', operation: Op.READ, resourceName: 'orders' }),
    acl({ principal: 'User:alice', operation: Op.WRITE, resourceName: 'alice-', patternType: PatternType.PREFIXED }),
    acl({ principal: 'User:alice', operation: Op.WRITE, resourceName: 'alice-secret', permission: AclPermission.DENY }),
    acl({ principal: 'User:*', operation: Op.DESCRIBE, resourceName: '*' }),
    acl({ principal: 'User:bob', operation: Op.ALL, resourceName: 'bobs', host: '10.0.0.1' }),
    acl({ principal: 'User:carol', operation: Op.ALTER_CONFIGS, resourceName: 'orders' }),
  ]);
  try {
    const can = (principal: string, operation: number, name: string, host = '127.0.0.1', type: number = ResourceType.TOPIC) => authorizer.authorize(principal, host, operation, type, name);
    assert.equal(can('User:alice', Op.READ, 'orders'), true);
    assert.equal(can('User:alice', Op.WRITE, 'orders'), false, 'READ does not grant WRITE');
    assert.equal(can('User:alice', Op.DESCRIBE, 'orders'), true, 'READ implies DESCRIBE');
    assert.equal(can('User:alice', Op.WRITE, 'alice-orders'), true, 'PREFIXED');
    assert.equal(can('User:alice', Op.WRITE, 'alice-secret'), false, 'DENY wins over a matching ALLOW');
    assert.equal(can('User:alice', Op.WRITE, 'bob-orders'), false);
    assert.equal(can('User:dave', Op.DESCRIBE, 'anything'), true, 'User:* and the * resource');
    assert.equal(can('User:dave', Op.READ, 'anything'), false);
    assert.equal(can('User:bob', Op.DELETE, 'bobs', '10.0.0.1'), true, 'ALL from the named host');
    assert.equal(can('User:bob', Op.DELETE, 'bobs', '10.0.0.2'), false, 'another host');
    assert.equal(can('User:carol', Op.DESCRIBE_CONFIGS, 'orders'), true, 'ALTER_CONFIGS implies DESCRIBE_CONFIGS');
    assert.equal(can('User:root', Op.DELETE, 'orders'), true, 'super user');
    assert.equal(can('User:alice', Op.READ, 'g', '127.0.0.1', ResourceType.GROUP), false, 'no ACL names the resource: denied');
    assert.equal(authorizer.allowsSome('User:alice', '127.0.0.1', Op.WRITE, ResourceType.TOPIC), true, 'WRITE on some topic');
    assert.equal(authorizer.allowsSome('User:dave', '127.0.0.1', Op.WRITE, ResourceType.TOPIC), false);

    // Stored bindings: created, deduplicated, bounded, deleted by filter; configured ones stay.
    const generation = authorizer.generation;
    await authorizer.create([acl({ principal: 'User:dave', operation: Op.READ, resourceName: 'dave' }), acl({ principal: 'User:dave', operation: Op.READ, resourceName: 'dave' })]);
    assert.ok(authorizer.generation > generation, 'a change moves the generation (per-connection caches)');
    assert.equal(can('User:dave', Op.READ, 'dave'), true);
    await assert.rejects(authorizer.create([1, 2, 3].map((i) => acl({ principal: 'User:x', operation: Op.READ, resourceName: `t${i}` }))), /more than 3 ACLs/);
    const filterAll = { resourceType: ResourceType.ANY, resourceName: null, patternType: PatternType.ANY, principal: null, host: null, operation: Op.ANY, permission: AclPermission.ANY };
    const [deleted] = await authorizer.delete([{ ...filterAll, principal: 'User:dave' }]);
    assert.equal(deleted!.length, 1);
    assert.equal(can('User:dave', Op.READ, 'dave'), false);
    const [none] = await authorizer.delete([{ ...filterAll, principal: 'User:alice' }]);
    assert.equal(none!.length, 0, 'configured bindings are not deleted');
    assert.equal(authorizer.list().length, 6);
  } finally {
    await metadata.close();
    await dir.remove();
  }
});

test('authorizer: allowIfNoAcl opens resources no binding names, and only those', async () => {
  const { authorizer, metadata, dir } = await authorizerWith([acl({ principal: 'User:alice', operation: Op.READ, resourceName: 'orders' })], { allowIfNoAcl: true });
  try {
    assert.equal(authorizer.authorize('User:bob', 'h', Op.READ, ResourceType.TOPIC, 'free'), true);
    assert.equal(authorizer.authorize('User:bob', 'h', Op.READ, ResourceType.TOPIC, 'orders'), false);
  } finally {
    await metadata.close();
    await dir.remove();
  }
});

test('ACL filters: MATCH takes literal, wildcard and prefixed bindings; bindings are validated', () => {
  const filter = { resourceType: ResourceType.TOPIC, resourceName: 'alice-orders', patternType: PatternType.MATCH, principal: null, host: null, operation: Op.ANY, permission: AclPermission.ANY };
  assert.equal(filterMatches(filter, acl({ principal: 'User:a', operation: Op.READ, resourceName: 'alice-orders' })), true);
  assert.equal(filterMatches(filter, acl({ principal: 'User:a', operation: Op.READ, resourceName: '*' })), true);
  assert.equal(filterMatches(filter, acl({ principal: 'User:a', operation: Op.READ, resourceName: 'alice-', patternType: PatternType.PREFIXED })), true);
  assert.equal(filterMatches(filter, acl({ principal: 'User:a', operation: Op.READ, resourceName: 'bob-', patternType: PatternType.PREFIXED })), false);
  assert.equal(filterMatches({ ...filter, patternType: PatternType.LITERAL }, acl({ principal: 'User:a', operation: Op.READ, resourceName: '*' })), false);
  assert.match(invalidBinding(acl({ principal: 'alice', operation: Op.READ, resourceName: 'x' }))!, /User:/);
  assert.match(invalidBinding(acl({ principal: 'User:a', operation: Op.ANY, resourceName: 'x' }))!, /operation/);
  assert.match(invalidBinding(acl({ principal: 'User:a', operation: Op.READ, resourceName: 'x', resourceType: ResourceType.CLUSTER }))!, /kafka-cluster/);
  assert.equal(invalidBinding(acl({ principal: 'User:a', operation: Op.READ, resourceName: 'x' })), null);
});

/**
 * Authentication (mqtt.users, mqtt.allowAnonymous) and topic authorization (mqtt.acl,
 * mqtt.aclDefault) with mqtt.js over MQTT 3.1.1 and 5: CONNACK refusals per version, SUBACK
 * failures for refused filters beside granted ones, per-message filtering of a wildcard
 * subscription, refused publishes (5: reason 0x87; 3.1.1: acknowledged, never stored), %u rules,
 * refused wills, and config validation.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { IPublishPacket } from 'mqtt';
import { hashPassword, parsePasswordHash } from '../src/auth/password-hash.js';
import { ConcurrencyLimit } from '@strata/core';
import { passwordMatches } from '../src/auth/password-hash.js';
import { Acl, filterCovers } from '../src/auth/acl.js';
import { parseMqttConfig } from '../src/config.js';
import { collect, connect, endClient, sleep, startBroker, type TestBroker } from './harness.js';

const v5 = { protocolVersion: 5 as const };
const v4 = { protocolVersion: 4 as const };
const CORE_TOPIC = 'persistent://public/default/mqtt';
/** Low-cost hashes keep the tests fast; the format and the check are the same as the default's. */
const TEST_COST = 1024;

function storedCount(broker: TestBroker): number {
  return broker.core.offsets(CORE_TOPIC, 0).highWatermark;
}

/** The SUBACK's return codes for `subscriptions` (mqtt.js rejects when any failed, so they are read off the packet). */
function subackCodes(client: import('mqtt').MqttClient, subscriptions: Record<string, { qos: 0 | 1 | 2 }>): Promise<number[]> {
  return new Promise((resolve) => {
    const onPacket = (packet: import('mqtt').Packet) => {
      if (packet.cmd !== 'suback') return;
      client.off('packetreceive', onPacket);
      resolve(packet.granted as number[]);
    };
    client.on('packetreceive', onPacket);
    client.subscribe(subscriptions, () => {});
  });
}

async function refusedWith(promise: Promise<unknown>): Promise<number> {
  try {
    await promise;
  } catch (error) {
    return (error as { code?: number }).code ?? -1;
  }
  assert.fail('the connection was accepted');
}

test('authentication: good and bad passwords, unknown users and anonymous clients, per protocol version', async () => {
  const broker = await startBroker({ config: { allowAnonymous: false, users: { alice: await hashPassword('wonderland', TEST_COST) } } });
  try {
    for (const version of [v4, v5]) {
      const ok = await connect(broker.url, { ...version, username: 'alice', password: 'wonderland' });
      await endClient(ok);
      const badPassword = version === v5 ? 0x86 : 4;
      assert.equal(await refusedWith(connect(broker.url, { ...version, username: 'alice', password: 'wonder' })), badPassword);
      assert.equal(await refusedWith(connect(broker.url, { ...version, username: 'mallory', password: 'wonderland' })), badPassword);
      assert.equal(await refusedWith(connect(broker.url, { ...version, username: 'alice' })), badPassword, 'no password');
      assert.equal(await refusedWith(connect(broker.url, { ...version })), version === v5 ? 0x87 : 5, 'anonymous');
    }
  } finally {
    await broker.close();
  }
  // allowAnonymous (the default) with users: anonymous clients come in, a named one must still match.
  const open = await startBroker({ config: { users: { alice: await hashPassword('wonderland', TEST_COST) } } });
  try {
    await endClient(await connect(open.url, v4));
    assert.equal(await refusedWith(connect(open.url, { ...v4, username: 'alice', password: 'x' })), 4);
  } finally {
    await open.close();
  }
});

test('SUBSCRIBE: a denied filter fails (0x80 in 3.1.1, 0x87 in 5) while the others in the same packet are granted', async () => {
  const broker = await startBroker({ config: { acl: [{ filter: 'test/nosubscribe', access: 'deny' }] } });
  try {
    for (const [version, failure] of [[v4, 0x80], [v5, 0x87]] as const) {
      const client = await connect(broker.url, version);
      assert.deepEqual(await subackCodes(client, { 'test/nosubscribe': { qos: 1 }, 'test/ok': { qos: 1 }, 'test/#': { qos: 0 } }), [failure, 1, 0]);
      await endClient(client);
    }
  } finally {
    await broker.close();
  }
});

test('delivery: a wildcard subscription gets only the topics its client may read; publishes refused are never stored', async () => {
  const broker = await startBroker({
    config: {
      users: { writer: await hashPassword('w', TEST_COST) },
      acl: [
        { user: 'writer', filter: 'hidden/#', access: 'write' },
        { filter: 'hidden/#', access: 'deny' },
      ],
    },
  });
  try {
    const sub = await connect(broker.url, { ...v5, clientId: 'wild' });
    const got = collect(sub);
    assert.deepEqual((await sub.subscribeAsync('#', { qos: 1 })).map((g) => g.qos), [1], 'the wildcard is granted: a rule denies only part of it');
    const writer = await connect(broker.url, { ...v5, username: 'writer', password: 'w' });
    await writer.publishAsync('hidden/a', 'secret', { qos: 1 });
    await writer.publishAsync('open/a', 'news', { qos: 1 });
    const [m] = await got.wait(1);
    assert.equal(m!.topic, 'open/a');
    await sleep(200);
    assert.deepEqual(got.messages.map((x) => x.topic), ['open/a'], 'hidden/a was stored but not delivered to a reader it denies');

    // A client not allowed to write hidden/#: MQTT 5 gets 0x87 and nothing is stored; 3.1.1 gets its PUBACK and nothing is stored.
    const before = storedCount(broker);
    const other5 = await connect(broker.url, v5);
    const acks: number[] = [];
    other5.on('packetreceive', (packet) => {
      if (packet.cmd === 'puback' || packet.cmd === 'pubrec') acks.push((packet as { reasonCode?: number }).reasonCode ?? 0);
    });
    await other5.publishAsync('hidden/b', 'x', { qos: 1 }).catch(() => {});
    await other5.publishAsync('hidden/c', 'x', { qos: 2 }).catch(() => {});
    await other5.publishAsync('hidden/d', 'x', { qos: 0 });
    await sleep(100);
    assert.deepEqual(acks, [0x87, 0x87]);
    const other4 = await connect(broker.url, v4);
    await other4.publishAsync('hidden/e', 'x', { qos: 1 });
    await other4.publishAsync('hidden/f', 'x', { qos: 2 }); // PUBREC, PUBREL, PUBCOMP: the flow completes
    await sleep(100);
    assert.equal(storedCount(broker), before, 'no refused publish was stored');
    await Promise.all([endClient(sub), endClient(writer), endClient(other5), endClient(other4)]);
  } finally {
    await broker.close();
  }
});

test('aclDefault deny with %u rules: each user reads and writes its own subtree; retained messages obey the rules too; a will to a refused topic is refused', async () => {
  const users = { alice: await hashPassword('a', TEST_COST), bob: await hashPassword('b', TEST_COST) };
  const broker = await startBroker({
    config: {
      users,
      aclDefault: 'deny',
      acl: [
        { filter: 'sensors/%u/#', access: 'readwrite' },
        { filter: 'public/#', access: 'read' },
        { user: 'bob', filter: 'public/#', access: 'write' },
      ],
    },
  });
  try {
    const alice = await connect(broker.url, { ...v5, username: 'alice', password: 'a' });
    assert.deepEqual(await subackCodes(alice, { 'sensors/alice/#': { qos: 1 }, 'sensors/bob/#': { qos: 1 }, 'public/+': { qos: 1 }, '#': { qos: 1 } }), [1, 0x87, 1, 0x87]);
    const got = collect(alice);
    const bob = await connect(broker.url, { ...v5, username: 'bob', password: 'b' });
    await bob.publishAsync('public/news', 'from bob', { qos: 1, retain: true });
    const refused = await new Promise<number>((resolve) => {
      bob.on('packetreceive', (packet) => packet.cmd === 'puback' && resolve((packet as { reasonCode?: number }).reasonCode ?? 0));
      void bob.publishAsync('sensors/alice/t', 'forged', { qos: 1 }).catch(() => {});
    });
    assert.equal(refused, 0x87, "bob may not write alice's sensors");
    await alice.publishAsync('sensors/alice/t', '21.5', { qos: 1 });
    await got.wait(2);
    assert.deepEqual(got.messages.map((m) => `${m.topic}=${m.payload}`).sort(), ['public/news=from bob', 'sensors/alice/t=21.5']);

    // A retained message is sent on SUBSCRIBE only where the subscriber may read.
    const anonymousRefused = await refusedWith(connect(broker.url, { ...v5, username: 'carol', password: 'c' }));
    assert.equal(anonymousRefused, 0x86);
    const late = await connect(broker.url, { ...v5, username: 'alice', password: 'a' });
    const lateGot = collect(late);
    await late.subscribeAsync('public/#', { qos: 1 });
    const [retained] = await lateGot.wait(1);
    assert.equal((retained!.packet as IPublishPacket).retain, true);

    assert.equal(await refusedWith(connect(broker.url, { ...v5, username: 'alice', password: 'a', will: { topic: 'public/last', payload: Buffer.from('bye'), qos: 1, retain: false } })), 0x87);
    assert.equal(await refusedWith(connect(broker.url, { ...v4, username: 'alice', password: 'a', will: { topic: 'public/last', payload: Buffer.from('bye'), qos: 1, retain: false } })), 5);
    await Promise.all([endClient(alice), endClient(bob), endClient(late)]);
  } finally {
    await broker.close();
  }
});

test('ACL matching: coverage of subscription filters, %u and %c, first deciding rule', () => {
  assert.ok(filterCovers('a/#', 'a/b/+'));
  assert.ok(filterCovers('a/#', 'a'));
  assert.ok(filterCovers('a/+', 'a/+'));
  assert.ok(filterCovers('#', 'x/y/#'));
  assert.ok(!filterCovers('a/b', 'a/+'));
  assert.ok(!filterCovers('a/+', 'a/#'));
  assert.ok(!filterCovers('a/+', 'a/b/c'));
  assert.ok(!filterCovers('#', '$SYS/x'), "wildcards do not cover '$' topics [MQTT-4.7.2-1]");
  const acl = new Acl(
    [
      { filter: 'clients/%c/#', access: 'readwrite' },
      { user: 'ops', filter: 'logs/#', access: 'read' },
      { filter: 'logs/#', access: 'deny' },
      { filter: 'home/%u', access: 'write' },
    ],
    false,
  );
  const alice = { user: 'alice', clientId: 'c1' };
  assert.ok(acl.allows(alice, 'clients/c1/x', 'write'));
  assert.ok(!acl.allows(alice, 'clients/c2/x', 'read'));
  assert.ok(acl.allows({ user: 'ops', clientId: 'o' }, 'logs/app', 'read'));
  assert.ok(!acl.allows({ user: 'ops', clientId: 'o' }, 'logs/app', 'write'), 'the read rule does not decide a write; the deny does');
  assert.ok(acl.allows(alice, 'home/alice', 'write'));
  assert.ok(!acl.allows({ user: null, clientId: 'x' }, 'home/', 'write'), 'a %u rule never matches a client without a user name');
  assert.ok(!acl.allows({ user: 'a/+', clientId: 'x' }, 'home/a/b', 'write'), 'a user name with wildcards or levels does not widen a rule');
  assert.ok(acl.maySubscribe(alice, 'clients/c1/+'));
  assert.ok(!acl.maySubscribe(alice, 'clients/+/x'));
  assert.ok(!acl.maySubscribe({ user: 'ops', clientId: 'o' }, '#'));
  assert.ok(new Acl([], true).allowsEverything);
});

test('config: users, acl and aclDefault are validated with the key named', async () => {
  const good = await hashPassword('x', TEST_COST);
  assert.throws(() => parseMqttConfig({ users: { a: 'plain-text' } }), /users\.a: password hash is not a scrypt line/);
  assert.throws(() => parseMqttConfig({ users: { a: good.replace('$1024$', '$1000$') } }), /users\.a: password hash cost N must be a power of two/);
  assert.throws(() => parseMqttConfig({ acl: [{ filter: 'a/#', access: 'all' }] }), /acl\[0\]\.access must be one of deny, read, write, readwrite/);
  assert.throws(() => parseMqttConfig({ acl: [{ filter: 'a/#/b', access: 'read' }] }), /acl\[0\]\.filter must be an MQTT topic filter/);
  assert.throws(() => parseMqttConfig({ acl: [{ filter: 'a', access: 'read', group: 'x' }] }), /acl\[0\]: unknown key group/);
  assert.throws(() => parseMqttConfig({ aclDefault: 'maybe' }), /aclDefault must be allow or deny/);
  assert.throws(() => parseMqttConfig({ allowAnonymous: 'yes' }), /allowAnonymous must be true or false/);
  const parsed = parseMqttConfig({ users: { a: good }, acl: [{ user: 'a', filter: 'x/%u/#', access: 'readwrite' }], aclDefault: 'deny', allowAnonymous: false });
  assert.equal(parsed.users.size, 1);
  assert.equal(parsed.acl.length, 1);
});

test('password checks: at most N at once in the thread pool, a bounded queue behind, busy past it', async () => {
  const checks = new ConcurrencyLimit(2, 3);
  const stored = parsePasswordHash(await hashPassword('pw', TEST_COST));
  const results = Array.from({ length: 6 }, (_, i) => checks.run(() => passwordMatches(stored, i === 0 ? 'pw' : 'wrong')));
  assert.deepEqual(checks.stats, { running: 2, waiting: 3 });
  const all = await Promise.all(results);
  assert.deepEqual(all, [true, false, false, false, false, 'busy']);
  assert.deepEqual(checks.stats, { running: 0, waiting: 0 });
});

test('certificateUsernameOf: none, the common name (unescaped), or the whole subject', async () => {
  const { certificateUsernameOf } = await import('../src/handlers/connect.js');
  assert.equal(certificateUsernameOf('none', 'CN=alice,O=Example'), null);
  assert.equal(certificateUsernameOf('cn', undefined), null);
  assert.equal(certificateUsernameOf('cn', 'CN=alice,OU=eng,O=Example'), 'alice');
  assert.equal(certificateUsernameOf('cn', 'CN=Smith\\, Jo,O=Example'), 'Smith, Jo');
  assert.equal(certificateUsernameOf('cn', 'O=Example'), null);
  assert.equal(certificateUsernameOf('subject', 'CN=alice,O=Example'), 'CN=alice,O=Example');
});

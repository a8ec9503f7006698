import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { collect, connect, endClient, sleep, startBroker } from './harness.js';
import { sessionKey } from '../src/session-store.js';

test('3.1.1 persistent session: subscriptions and queued QoS 1/2 messages survive a disconnect', async () => {
  const broker = await startBroker();
  try {
    const first = await connect(broker.url, { clientId: 'p1', clean: false, protocolVersion: 4 });
    assert.equal((first as unknown as { connackPacket?: { sessionPresent: boolean } }).connackPacket?.sessionPresent ?? false, false);
    await first.subscribeAsync('q/#', { qos: 2 });
    await endClient(first);
    const pub = await connect(broker.url, { clientId: 'p1-pub' });
    await pub.publishAsync('q/1', 'one', { qos: 1 });
    await pub.publishAsync('q/2', 'two', { qos: 2 });
    await pub.publishAsync('other', 'not mine', { qos: 1 });
    const again = await connect(broker.url, { clientId: 'p1', clean: false, protocolVersion: 4 });
    const got = collect(again);
    const messages = await got.wait(2);
    assert.deepEqual(messages.map((m) => m.payload.toString()), ['one', 'two']);
    assert.deepEqual(messages.map((m) => m.packet.qos), [1, 2]);
    // still subscribed without a new SUBSCRIBE
    await pub.publishAsync('q/3', 'three', { qos: 1 });
    await got.wait(3);
    await endClient(again);
    await endClient(pub);
  } finally {
    await broker.close();
  }
});

test('persistent session survives a server restart (subscriptions in metadata, messages in the core cursor)', async () => {
  let broker = await startBroker();
  const { dataDir } = broker;
  try {
    const c = await connect(broker.url, { clientId: 'restart-me', protocolVersion: 5, clean: false, properties: { sessionExpiryInterval: 3600 } });
    await c.subscribeAsync('r/+', { qos: 1 });
    await endClient(c);
    const pub = await connect(broker.url, { clientId: 'restart-pub' });
    await pub.publishAsync('r/a', 'before restart', { qos: 1 });
    await endClient(pub);
    await broker.stop();

    broker = await startBroker({ dataDir });
    const pub2 = await connect(broker.url, { clientId: 'restart-pub' });
    await pub2.publishAsync('r/b', 'after restart', { qos: 1 });
    const back = await connect(broker.url, { clientId: 'restart-me', protocolVersion: 5, clean: false, properties: { sessionExpiryInterval: 3600 } });
    const present = (back as unknown as { connackPacket?: { sessionPresent: boolean } }).connackPacket?.sessionPresent;
    const got = collect(back);
    const messages = await got.wait(2);
    assert.deepEqual(messages.map((m) => m.payload.toString()), ['before restart', 'after restart']);
    if (present !== undefined) assert.equal(present, true);
    await endClient(back);
    await endClient(pub2);
  } finally {
    await broker.stop();
    await rm(dataDir, { recursive: true, force: true });
  }
});

test('clean session discards the previous persistent session', async () => {
  const broker = await startBroker();
  try {
    const c = await connect(broker.url, { clientId: 'cleanme', clean: false });
    await c.subscribeAsync('cm/x', { qos: 1 });
    await endClient(c);
    const clean = await connect(broker.url, { clientId: 'cleanme', clean: true });
    await endClient(clean);
    const pub = await connect(broker.url, { clientId: 'cleanme-pub' });
    await pub.publishAsync('cm/x', 'lost', { qos: 1 });
    const back = await connect(broker.url, { clientId: 'cleanme', clean: false });
    const got = collect(back);
    await sleep(200);
    assert.equal(got.messages.length, 0);
    await Promise.all([endClient(back), endClient(pub)]);
  } finally {
    await broker.close();
  }
});

test('client id takeover: the old connection is closed (MQTT 5 DISCONNECT 0x8E)', async () => {
  const broker = await startBroker();
  try {
    const old = await connect(broker.url, { clientId: 'dup', protocolVersion: 5 });
    const disconnected = new Promise<number | undefined>((resolve) => old.once('disconnect', (p) => resolve(p.reasonCode)));
    const closed = new Promise<void>((resolve) => old.once('close', () => resolve()));
    const fresh = await connect(broker.url, { clientId: 'dup', protocolVersion: 5 });
    assert.equal(await disconnected, 0x8e);
    await closed;
    const got = collect(fresh);
    await fresh.subscribeAsync('t/o', { qos: 1 });
    await fresh.publishAsync('t/o', 'still works', { qos: 1 });
    await got.wait(1);
    await endClient(fresh);
    old.end(true);
  } finally {
    await broker.close();
  }
});

test('zero-length client ids: 3.1.1 clean=1 accepted; MQTT 5 gets an assigned client id', async () => {
  const broker = await startBroker();
  try {
    const ok = await connect(broker.url, { clientId: '', clean: true, protocolVersion: 4 });
    await endClient(ok);
    const v5 = await connect(broker.url, { clientId: '', protocolVersion: 5 });
    const assigned = (v5 as unknown as { connackPacket?: { properties?: { assignedClientIdentifier?: string } } }).connackPacket?.properties
      ?.assignedClientIdentifier;
    const clientId = assigned ?? (v5 as unknown as { options: { clientId: string } }).options.clientId;
    assert.match(clientId, /^strata-/);
    await endClient(v5);
  } finally {
    await broker.close();
  }
});

test('will message: published on an unclean disconnect, not on DISCONNECT', async () => {
  const broker = await startBroker();
  try {
    const watcher = await connect(broker.url, { clientId: 'watcher' });
    const got = collect(watcher);
    await watcher.subscribeAsync('wills/#', { qos: 1 });
    const graceful = await connect(broker.url, { clientId: 'graceful', will: { topic: 'wills/graceful', payload: Buffer.from('x'), qos: 1, retain: false } });
    await endClient(graceful);
    const dying = await connect(broker.url, { clientId: 'dying', will: { topic: 'wills/dying', payload: Buffer.from('gone'), qos: 1, retain: false } });
    (dying as unknown as { stream: { destroy(): void } }).stream.destroy();
    const messages = await got.wait(1);
    await sleep(100);
    assert.deepEqual(messages.map((m) => `${m.topic}=${m.payload}`), ['wills/dying=gone']);
    dying.end(true);
    await endClient(watcher);
  } finally {
    await broker.close();
  }
});

test('MQTT 5 will delay: a reconnect within the delay cancels the will', async () => {
  const broker = await startBroker();
  try {
    const watcher = await connect(broker.url, { clientId: 'watcher5', protocolVersion: 5 });
    const got = collect(watcher);
    await watcher.subscribeAsync('wd/#', { qos: 1 });
    const options = {
      clientId: 'delayed',
      protocolVersion: 5 as const,
      clean: false,
      properties: { sessionExpiryInterval: 60 },
      will: { topic: 'wd/delayed', payload: Buffer.from('late'), qos: 1 as const, retain: false, properties: { willDelayInterval: 1 } },
    };
    const a = await connect(broker.url, options);
    (a as unknown as { stream: { destroy(): void } }).stream.destroy();
    await sleep(200);
    const b = await connect(broker.url, options); // back within the delay: no will
    await sleep(1300);
    assert.equal(got.messages.length, 0);
    (b as unknown as { stream: { destroy(): void } }).stream.destroy(); // now let it fire
    await got.wait(1, 3000);
    assert.equal(got.messages[0]!.payload.toString(), 'late');
    a.end(true);
    b.end(true);
    await endClient(watcher);
  } finally {
    await broker.close();
  }
});

test('keep-alive: a silent client is disconnected after 1.5 x keep-alive', async () => {
  const broker = await startBroker();
  try {
    const c = await connect(broker.url, { clientId: 'silent', keepalive: 1 });
    // stop mqtt.js from sending PINGREQ
    (c as unknown as { _shiftPingInterval?: () => void }).constructor;
    (c as unknown as { pingTimer?: { clear(): void } }).pingTimer?.clear();
    (c as unknown as { keepaliveManager?: { destroy(): void } }).keepaliveManager?.destroy();
    const started = Date.now();
    await new Promise<void>((resolve) => c.stream.once('close', () => resolve()));
    const elapsed = Date.now() - started;
    assert.ok(elapsed >= 1200 && elapsed < 3500, `closed after ${elapsed} ms`);
    c.end(true);
  } finally {
    await broker.close();
  }
});

test('MQTT 5 session expiry: the session is gone after its expiry interval', async () => {
  const broker = await startBroker();
  try {
    const c = await connect(broker.url, { clientId: 'expiring', protocolVersion: 5, clean: false, properties: { sessionExpiryInterval: 1 } });
    await c.subscribeAsync('exp/x', { qos: 1 });
    await endClient(c);
    await sleep(1300);
    const back = await connect(broker.url, { clientId: 'expiring', protocolVersion: 5, clean: false, properties: { sessionExpiryInterval: 1 } });
    const present = (back as unknown as { connackPacket?: { sessionPresent: boolean } }).connackPacket?.sessionPresent;
    if (present !== undefined) assert.equal(present, false);
    assert.equal(broker.core.subscriptions.list('persistent://public/default/mqtt', 0).includes('mqtt.expiring'), false);
    await endClient(back);
  } finally {
    await broker.close();
  }
});

test('a will of a persistent session survives a server crash and is published at restart', async () => {
  let broker = await startBroker();
  const { dataDir } = broker;
  try {
    const watcher = await connect(broker.url, { clientId: 'crash-watcher', clean: false });
    await watcher.subscribeAsync('wills/#', { qos: 1 });
    await endClient(watcher);
    // What a crash leaves behind: a stored session with a will and no disconnect time.
    await broker.core.metadata.put(
      sessionKey('crashed'),
      Buffer.from(
        JSON.stringify({
          clientId: 'crashed',
          protocolVersion: 4,
          expirySeconds: 0xffffffff,
          disconnectedAtMs: null,
          subscriptions: [],
          will: { topic: 'wills/crashed', payloadBase64: Buffer.from('lost connection').toString('base64'), qos: 1, retain: false, delaySeconds: 0 },
        }),
      ),
    );
    await broker.stop();
    broker = await startBroker({ dataDir });
    const back = await connect(broker.url, { clientId: 'crash-watcher', clean: false });
    const got = collect(back);
    const [m] = await got.wait(1);
    assert.equal(m!.topic, 'wills/crashed');
    assert.equal(m!.payload.toString(), 'lost connection');
    await endClient(back);
  } finally {
    await broker.stop();
    await rm(dataDir, { recursive: true, force: true });
  }
});

test('a shared subscription is deleted from the core when its last member leaves', async () => {
  const broker = await startBroker();
  try {
    const a = await connect(broker.url, { clientId: 'share-a', protocolVersion: 5 });
    const b = await connect(broker.url, { clientId: 'share-b', protocolVersion: 5 });
    await a.subscribeAsync('$share/grp/leave/#', { qos: 1 });
    await b.subscribeAsync('$share/grp/leave/#', { qos: 1 });
    const list = (): string[] => broker.core.subscriptions.list('persistent://public/default/mqtt', 0).filter((n) => n.startsWith('mqtt-share.'));
    assert.equal(list().length, 1);
    await a.unsubscribeAsync('$share/grp/leave/#');
    assert.equal(list().length, 1, 'b still uses it');
    await endClient(b); // a non-persistent session ends with its connection
    const deadline = Date.now() + 2000;
    while (list().length > 0 && Date.now() < deadline) await sleep(20);
    assert.deepEqual(list(), []);
    await endClient(a);
  } finally {
    await broker.close();
  }
});

test('a session that expired while the server was down is deleted at start, with its core cursor', async () => {
  let broker = await startBroker();
  const { dataDir } = broker;
  try {
    const c = await connect(broker.url, { clientId: 'short-lived', protocolVersion: 5, clean: false, properties: { sessionExpiryInterval: 1 } });
    await c.subscribeAsync('sl/#', { qos: 1 });
    await endClient(c);
    const topic = 'persistent://public/default/mqtt';
    assert.ok(broker.core.subscriptions.list(topic, 0).includes('mqtt.short-lived'));
    await broker.stop();
    await sleep(1200);
    broker = await startBroker({ dataDir });
    assert.equal(broker.core.subscriptions.list(topic, 0).includes('mqtt.short-lived'), false);
    assert.equal(await broker.core.metadata.get(sessionKey('short-lived')), null);
  } finally {
    await broker.stop();
    await rm(dataDir, { recursive: true, force: true });
  }
});

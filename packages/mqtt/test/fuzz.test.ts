/**
 * Bad input: thousands of mutated, truncated and oversized packets through the real decoder path
 * (framing + mqtt-packet + handlers) over in-memory streams, then real sockets. The server must
 * survive, and a well-behaved client on another connection must keep working.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough, Duplex } from 'node:stream';
import { seededRandom } from '@strata/core';
import * as mqttPacket from 'mqtt-packet';
import { collect, connect, endClient, startBroker } from './harness.js';
import { connectPacket, rawConnect } from './raw-client.js';
import { FrameReader } from '../src/framing.js';


function seedPackets(version: 3 | 4 | 5): Buffer[] {
  const g = (p: mqttPacket.Packet): Buffer => mqttPacket.generate(p, { protocolVersion: version });
  const props5 = version === 5;
  return [
    g(connectPacket('fuzz', version, { will: { topic: 'w', payload: Buffer.from('x'), qos: 1, retain: false }, ...(props5 ? { properties: { sessionExpiryInterval: 10, receiveMaximum: 5 } } : {}) })),
    g({ cmd: 'publish', topic: 'a/b', payload: Buffer.from('hello'), qos: 1, retain: true, dup: false, messageId: 1, ...(props5 ? { properties: { topicAlias: 1, userProperties: { a: 'b' }, contentType: 't' } } : {}) }),
    g({ cmd: 'publish', topic: 'q', payload: Buffer.from('x'), qos: 2, retain: false, dup: false, messageId: 2 }),
    g({ cmd: 'subscribe', messageId: 3, subscriptions: [{ topic: 'a/+', qos: 1 }, { topic: '$share/g/#', qos: 2 }], ...(props5 ? { properties: { subscriptionIdentifier: 4 } } : {}) }),
    g({ cmd: 'unsubscribe', messageId: 4, unsubscriptions: ['a/+'] }),
    g({ cmd: 'pubrel', messageId: 2 }),
    g({ cmd: 'puback', messageId: 1 }),
    g({ cmd: 'pingreq' }),
    g({ cmd: 'disconnect' }),
  ];
}

function mutate(random: () => number, packets: Buffer[]): Buffer {
  const pick = packets[Math.floor(random() * packets.length)]!;
  const bytes = Buffer.from(pick);
  const kind = random();
  if (kind < 0.4) {
    const flips = 1 + Math.floor(random() * 4);
    for (let i = 0; i < flips; i++) bytes[Math.floor(random() * bytes.length)] = Math.floor(random() * 256);
    return bytes;
  }
  if (kind < 0.6) return bytes.subarray(0, Math.floor(random() * bytes.length));
  if (kind < 0.8) {
    const junk = Buffer.alloc(Math.floor(random() * 64));
    for (let i = 0; i < junk.length; i++) junk[i] = Math.floor(random() * 256);
    return Buffer.concat([bytes, junk]);
  }
  // a lying remaining length
  if (bytes.length > 1) bytes[1] = Math.floor(random() * 256);
  return bytes;
}

/** An in-memory duplex: what the test writes goes to the server side. */
function pair(): { server: Duplex; toServer: PassThrough; fromServer: PassThrough } {
  const toServer = new PassThrough();
  const fromServer = new PassThrough();
  const server = Duplex.from({ readable: toServer, writable: fromServer });
  fromServer.resume();
  return { server, toServer, fromServer };
}

test('frame reader: remaining length of more than 4 bytes is malformed; too-large refused from the header', () => {
  const reader = new FrameReader(100);
  assert.equal(reader.push(Buffer.from([0x30, 0xff, 0xff, 0xff, 0xff, 0x01]), () => true), 'malformed');
  assert.equal(new FrameReader(100).push(Buffer.from([0x30, 0xc8, 0x01]), () => true), 'too-large');
  const frames: number[] = [];
  const ok = new FrameReader(100);
  assert.equal(ok.push(Buffer.from([0xc0, 0x00, 0xc0]), (f) => (frames.push(f.length), true)), null);
  assert.equal(ok.push(Buffer.from([0x00]), (f) => (frames.push(f.length), true)), null);
  assert.deepEqual(frames, [2, 2]);
});

test('fuzz: 5,000 mutated packet streams over in-memory connections; the server survives and serves others', async () => {
  const broker = await startBroker({ config: { connectTimeoutMs: 200 } });
  try {
    const healthy = await connect(broker.url, { clientId: 'healthy', protocolVersion: 5 });
    const got = collect(healthy);
    await healthy.subscribeAsync('health/#', { qos: 1 });
    const random = seededRandom(0x5eed);
    const seeds = { 3: seedPackets(3), 4: seedPackets(4), 5: seedPackets(5) } as const;
    const info = { listenerId: 'mqtt', remoteAddress: 'fuzz', remotePort: 0, localAddress: '', localPort: 0, tls: false };
    const rounds = 5000;
    for (let round = 0; round < rounds; round++) {
      const version = ([3, 4, 5] as const)[round % 3]!;
      const { server, toServer } = pair();
      broker.handler.handleConnection(server, info);
      // usually a valid CONNECT first so mutations reach the post-CONNECT handlers
      if (random() < 0.7) toServer.write(seeds[version][0]!);
      const count = 1 + Math.floor(random() * 4);
      for (let i = 0; i < count; i++) toServer.write(mutate(random, seeds[version]));
      if (round % 100 === 0) {
        await new Promise((resolve) => setImmediate(resolve));
        await healthy.publishAsync(`health/${round}`, 'ok', { qos: 1 });
      }
      toServer.end();
      server.destroy();
    }
    await got.wait(rounds / 100, 10_000);
    assert.equal(got.messages.length, rounds / 100);
    await endClient(healthy);
  } finally {
    await broker.close();
  }
});

test('fuzz over TCP: garbage and oversized frames close only their own connection', async () => {
  const broker = await startBroker({ config: { packetBytesMax: 4096 } });
  try {
    const healthy = await connect(broker.url, { clientId: 'healthy-tcp' });
    const got = collect(healthy);
    await healthy.subscribeAsync('ok', { qos: 1 });
    const random = seededRandom(42);
    for (let i = 0; i < 50; i++) {
      const c = await rawConnect(broker.port, 4);
      c.send(connectPacket(`bad-${i}`));
      await c.next('connack');
      const junk = Buffer.alloc(16 + Math.floor(random() * 200));
      for (let j = 0; j < junk.length; j++) junk[j] = Math.floor(random() * 256);
      if (i % 5 === 0) junk.set([0x30, 0xff, 0xff, 0x7f], 0); // claims ~2 MiB
      c.write(junk);
      await Promise.race([c.closed, new Promise((r) => setTimeout(r, 300))]);
      c.end();
    }
    await healthy.publishAsync('ok', 'still here', { qos: 1 });
    await got.wait(1);
    await endClient(healthy);
  } finally {
    await broker.close();
  }
});

test('fuzz with logins and ACLs: 2,000 mutated streams whose CONNECTs carry user names and passwords; the server survives and serves a logged-in client', async () => {
  const { hashPassword } = await import('../src/auth/password-hash.js');
  const broker = await startBroker({
    config: {
      connectTimeoutMs: 200,
      allowAnonymous: false,
      users: { u: await hashPassword('p', 1024) },
      acl: [{ filter: 'a/#', access: 'deny' }, { filter: 'health/%u', access: 'readwrite' }],
      aclDefault: 'deny',
    },
  });
  try {
    const healthy = await connect(broker.url, { clientId: 'healthy', protocolVersion: 5, username: 'u', password: 'p' });
    const got = collect(healthy);
    await healthy.subscribeAsync('health/u', { qos: 1 });
    const random = seededRandom(0xac1);
    const info = { listenerId: 'mqtt', remoteAddress: 'fuzz', remotePort: 0, localAddress: '', localPort: 0, tls: false };
    const seeds = ([3, 4, 5] as const).map((version) => {
      const packets = seedPackets(version);
      const login = mqttPacket.generate(connectPacket('fuzz-login', version, { username: 'u', password: Buffer.from(random() < 0.5 ? 'p' : 'wrong') }), { protocolVersion: version });
      return [login, ...packets.slice(1)];
    });
    const rounds = 2000;
    let published = 0;
    for (let round = 0; round < rounds; round++) {
      const version = round % 3;
      const { server, toServer } = pair();
      broker.handler.handleConnection(server, info);
      if (random() < 0.7) toServer.write(seeds[version]![0]!);
      const count = 1 + Math.floor(random() * 4);
      for (let i = 0; i < count; i++) toServer.write(mutate(random, seeds[version]!));
      if (round % 100 === 0) {
        await new Promise((resolve) => setImmediate(resolve));
        await healthy.publishAsync('health/u', `ok ${round}`, { qos: 1 });
        published++;
      }
      toServer.end();
      server.destroy();
    }
    await got.wait(published, 10_000);
    assert.equal(got.messages.length, published);
    await endClient(healthy);
  } finally {
    await broker.close();
  }
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { IConnackPacket, IDisconnectPacket, IPubackPacket, ISubackPacket } from 'mqtt-packet';
import { decodeRecordBatch, HEADER } from '@strata/core';
import { collect, connect, endClient, sleep, startBroker } from './harness.js';
import { connectPacket, rawConnect } from './raw-client.js';

test('3.1.1 zero-length client id with cleanSession=0 gets CONNACK 0x02 [MQTT-3.1.3-8]', async () => {
  const broker = await startBroker();
  try {
    const c = await rawConnect(broker.port);
    // mqtt-packet will not encode this, so by hand: "MQTT" level 4, flags 0 (cleanSession=0), keep-alive 0, client id ""
    c.write(Buffer.from([0x10, 0x0c, 0x00, 0x04, 0x4d, 0x51, 0x54, 0x54, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00]));
    const connack = (await c.next('connack')) as IConnackPacket;
    assert.equal(connack.returnCode, 2);
    await c.closed;
  } finally {
    await broker.close();
  }
});

test('MQTT 3.1 client id longer than 23 characters is rejected with 0x02', async () => {
  const broker = await startBroker();
  try {
    const c = await rawConnect(broker.port, 3);
    c.send(connectPacket('x'.repeat(24), 3));
    assert.equal(((await c.next('connack')) as IConnackPacket).returnCode, 2);
  } finally {
    await broker.close();
  }
});

test('unsupported protocol level gets CONNACK 0x01 and a close [MQTT-3.1.2-2]', async () => {
  const broker = await startBroker();
  try {
    const c = await rawConnect(broker.port);
    // CONNECT, protocol "MQTT" level 6
    c.write(Buffer.from([0x10, 0x0d, 0x00, 0x04, 0x4d, 0x51, 0x54, 0x54, 0x06, 0x02, 0x00, 0x00, 0x00, 0x01, 0x61]));
    const connack = (await c.next('connack')) as IConnackPacket;
    assert.equal(connack.returnCode, 1);
    await c.closed;
  } finally {
    await broker.close();
  }
});

test('a first packet other than CONNECT closes the connection [MQTT-3.1.0-1]', async () => {
  const broker = await startBroker();
  try {
    const c = await rawConnect(broker.port);
    c.send({ cmd: 'pingreq' });
    await c.closed;
    assert.equal(c.packets.length, 0);
  } finally {
    await broker.close();
  }
});

test('a second CONNECT is a protocol violation [MQTT-3.1.0-2]', async () => {
  const broker = await startBroker();
  try {
    const c = await rawConnect(broker.port);
    c.send(connectPacket('twice'));
    await c.next('connack');
    c.send(connectPacket('twice'));
    await c.closed;
  } finally {
    await broker.close();
  }
});

test('QoS 2 inbound: a re-sent PUBLISH with the same id is stored once; PUBREL → PUBCOMP', async () => {
  const broker = await startBroker();
  try {
    const sub = await connect(broker.url, { clientId: 'q2-sub' });
    const got = collect(sub);
    await sub.subscribeAsync('q2/t', { qos: 2 });
    const c = await rawConnect(broker.port);
    c.send(connectPacket('q2-raw'));
    await c.next('connack');
    const publish = { cmd: 'publish' as const, topic: 'q2/t', payload: Buffer.from('once'), qos: 2 as const, retain: false, dup: false, messageId: 9 };
    c.send(publish);
    await c.next('pubrec');
    c.send({ ...publish, dup: true });
    await c.next('pubrec');
    c.send({ cmd: 'pubrel', messageId: 9 });
    await c.next('pubcomp');
    await got.wait(1);
    await sleep(150);
    assert.equal(got.messages.length, 1);
    c.end();
    await endClient(sub);
  } finally {
    await broker.close();
  }
});

test('MQTT 5: a packet above the maximum packet size gets DISCONNECT 0x95', async () => {
  const broker = await startBroker({ config: { packetBytesMax: 1024 } });
  try {
    const c = await rawConnect(broker.port, 5);
    c.send(connectPacket('big', 5));
    await c.next('connack');
    c.send({ cmd: 'publish', topic: 'x', payload: Buffer.alloc(2000), qos: 0, retain: false, dup: false });
    const d = (await c.next('disconnect')) as IDisconnectPacket;
    assert.equal(d.reasonCode, 0x95);
    await c.closed;
  } finally {
    await broker.close();
  }
});

test('MQTT 5: receive maximum exceeded gets DISCONNECT 0x93', async () => {
  const broker = await startBroker({ config: { inflightMax: 2 } });
  try {
    const c = await rawConnect(broker.port, 5);
    c.send(connectPacket('flow', 5));
    await c.next('connack');
    // three QoS 2 publishes without PUBREL: the third exceeds Receive Maximum 2
    for (let id = 1; id <= 3; id++) {
      c.send({ cmd: 'publish', topic: 'f', payload: Buffer.from('x'), qos: 2, retain: false, dup: false, messageId: id });
    }
    const d = (await c.next('disconnect')) as IDisconnectPacket;
    assert.equal(d.reasonCode, 0x93);
  } finally {
    await broker.close();
  }
});

test('MQTT 5: invalid topic alias gets DISCONNECT 0x94; wildcard in a topic name gets 0x90', async () => {
  const broker = await startBroker({ config: { topicAliasMax: 4 } });
  try {
    const c = await rawConnect(broker.port, 5);
    c.send(connectPacket('alias', 5));
    await c.next('connack');
    c.send({ cmd: 'publish', topic: 'a', payload: Buffer.from('x'), qos: 0, retain: false, dup: false, properties: { topicAlias: 5 } });
    assert.equal(((await c.next('disconnect')) as IDisconnectPacket).reasonCode, 0x94);
    const d = await rawConnect(broker.port, 5);
    d.send(connectPacket('wild', 5));
    await d.next('connack');
    d.send({ cmd: 'publish', topic: 'a/+', payload: Buffer.from('x'), qos: 0, retain: false, dup: false });
    assert.equal(((await d.next('disconnect')) as IDisconnectPacket).reasonCode, 0x90);
  } finally {
    await broker.close();
  }
});

test('SUBSCRIBE with invalid filters: 0x80 (3.1.1) / 0x8F (MQTT 5) per filter, valid ones granted', async () => {
  const broker = await startBroker({ config: { topicLevelsMax: 4 } });
  try {
    const c = await rawConnect(broker.port, 4);
    c.send(connectPacket('badsub'));
    await c.next('connack');
    c.send({
      cmd: 'subscribe',
      messageId: 1,
      subscriptions: [
        { topic: 'ok/+', qos: 1 },
        { topic: 'a/#/b', qos: 1 },
        { topic: 'a+', qos: 0 },
        { topic: 'a/b/c/d/e', qos: 0 },
      ],
    });
    assert.deepEqual(((await c.next('suback')) as ISubackPacket).granted, [1, 0x80, 0x80, 0x80]);
    const v = await rawConnect(broker.port, 5);
    v.send(connectPacket('badsub5', 5));
    await v.next('connack');
    v.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: '$share/g', qos: 1 }, { topic: 'fine', qos: 2 }] });
    assert.deepEqual(((await v.next('suback')) as ISubackPacket).granted, [0x8f, 2]);
  } finally {
    await broker.close();
  }
});

test('limits: connectionsMax refuses with 0x97 (MQTT 5) / 0x03 (3.1.1); subscriptionsMax with 0x97', async () => {
  const broker = await startBroker({ config: { connectionsMax: 2, subscriptionsMax: 1 } });
  try {
    const a = await connect(broker.url, { clientId: 'a' });
    const b = await connect(broker.url, { clientId: 'b', protocolVersion: 5 });
    const c = await rawConnect(broker.port, 5);
    c.send(connectPacket('c', 5));
    assert.equal(((await c.next('connack')) as IConnackPacket).reasonCode, 0x97);
    const d = await rawConnect(broker.port, 4);
    d.send(connectPacket('d', 4));
    assert.equal(((await d.next('connack')) as IConnackPacket).returnCode, 3);
    await endClient(b);
    const e = await rawConnect(broker.port, 5);
    e.send(connectPacket('e', 5));
    await e.next('connack');
    e.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'one', qos: 1 }, { topic: 'two', qos: 1 }] });
    assert.deepEqual(((await e.next('suback')) as ISubackPacket).granted, [1, 0x97]);
    e.end();
    await endClient(a);
  } finally {
    await broker.close();
  }
});

test('PUBACK only after the message is durable in the core, readable there as a record batch with headers', async () => {
  const broker = await startBroker();
  try {
    const c = await rawConnect(broker.port, 5);
    c.send(connectPacket('durable', 5));
    await c.next('connack');
    c.send({ cmd: 'publish', topic: 'd/x', payload: Buffer.from('kept'), qos: 1, retain: false, dup: false, messageId: 3, properties: { userProperties: { k: 'v' } } });
    const ack = (await c.next('puback')) as IPubackPacket;
    assert.equal(ack.messageId, 3);
    const topic = 'persistent://public/default/mqtt';
    const { highWatermark } = broker.core.offsets(topic, 0);
    assert.equal(highWatermark, 1);
    const read = await broker.core.read(topic, 0, { offset: 0, maxBytes: 1 << 20 });
    const { messages } = decodeRecordBatch(read.entries[0]!.bytes);
    const m = messages[0]!;
    assert.equal(m.value!.toString(), 'kept');
    assert.equal(m.key!.toString(), 'd/x');
    const headers = Object.fromEntries(m.headers.map((h) => [h.key, h.value!.toString()]));
    assert.equal(headers[HEADER.mqttTopic], 'd/x');
    assert.equal(headers[HEADER.mqttQos], '1');
    assert.equal(headers['k'], 'v');
    c.end();
  } finally {
    await broker.close();
  }
});

test('two CONNECTs with one persistent client id at once: the later one owns the session and gets its messages', async () => {
  const broker = await startBroker();
  try {
    const setup = await connect(broker.url, { clientId: 'racer', clean: false });
    await setup.subscribeAsync('race/#', { qos: 1 });
    await endClient(setup);
    const a = await rawConnect(broker.port);
    const b = await rawConnect(broker.port);
    a.send(connectPacket('racer', 4, { clean: false }));
    b.send(connectPacket('racer', 4, { clean: false }));
    await Promise.race([a.closed, b.closed]);
    const survivor = a.socket.destroyed || a.socket.readableEnded ? b : a;
    await survivor.next('connack');
    const pub = await connect(broker.url, { clientId: 'race-pub' });
    await pub.publishAsync('race/1', 'won', { qos: 1 });
    const delivered = await survivor.next('publish');
    assert.equal((delivered as { topic: string }).topic, 'race/1');
    a.end();
    b.end();
    await endClient(pub);
  } finally {
    await broker.close();
  }
});

test('outbound QoS 2 across a reconnect: PUBREL is re-sent, the message is not delivered twice [MQTT-4.4.0-1]', async () => {
  const broker = await startBroker();
  try {
    const first = await rawConnect(broker.port, 4, { autoAck: false });
    first.send(connectPacket('q2-out', 4, { clean: false }));
    await first.next('connack');
    first.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'q2o/#', qos: 2 }] });
    await first.next('suback');
    const pub = await connect(broker.url, { clientId: 'q2o-pub' });
    await pub.publishAsync('q2o/x', 'exactly once', { qos: 2 });
    const publish = (await first.next('publish')) as { messageId: number };
    first.send({ cmd: 'pubrec', messageId: publish.messageId });
    await first.next('pubrel');
    first.end(); // gone before PUBCOMP
    await first.closed;
    const second = await rawConnect(broker.port, 4, { autoAck: false });
    second.send(connectPacket('q2-out', 4, { clean: false }));
    assert.equal(((await second.next('connack')) as IConnackPacket).sessionPresent, true);
    const pubrel = (await second.next('pubrel')) as { messageId: number };
    assert.equal(pubrel.messageId, publish.messageId);
    second.send({ cmd: 'pubcomp', messageId: pubrel.messageId });
    await sleep(300);
    assert.equal(second.packets.filter((p) => p.cmd === 'publish').length, 0, 'no second PUBLISH');
    second.end();
    await endClient(pub);
  } finally {
    await broker.close();
  }
});

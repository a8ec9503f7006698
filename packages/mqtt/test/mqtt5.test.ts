import { test } from 'node:test';
import assert from 'node:assert/strict';
import { collect, connect, endClient, sleep, startBroker } from './harness.js';

const v5 = { protocolVersion: 5 as const };

test('MQTT 5 properties travel end to end: user properties, content type, response topic, correlation data, payload format', async () => {
  const broker = await startBroker();
  try {
    const sub = await connect(broker.url, { ...v5, clientId: 'props-sub' });
    const got = collect(sub);
    await sub.subscribeAsync('req/+', { qos: 1 });
    const pub = await connect(broker.url, { ...v5, clientId: 'props-pub' });
    await pub.publishAsync('req/1', 'ping', {
      qos: 1,
      properties: {
        userProperties: { a: '1', b: ['x', 'y'] },
        contentType: 'text/plain',
        responseTopic: 'resp/1',
        correlationData: Buffer.from([1, 2, 3]),
        payloadFormatIndicator: true,
        messageExpiryInterval: 60,
      },
    });
    const [m] = await got.wait(1);
    const p = m!.packet.properties!;
    assert.deepEqual({ ...p.userProperties }, { a: '1', b: ['x', 'y'] });
    assert.equal(p.contentType, 'text/plain');
    assert.equal(p.responseTopic, 'resp/1');
    assert.deepEqual(p.correlationData, Buffer.from([1, 2, 3]));
    assert.equal(p.payloadFormatIndicator, true);
    assert.ok(p.messageExpiryInterval! > 0 && p.messageExpiryInterval! <= 60);
    await Promise.all([endClient(sub), endClient(pub)]);
  } finally {
    await broker.close();
  }
});

test('MQTT 5 message expiry: an expired message is not delivered to a session that reconnects late', async () => {
  const broker = await startBroker();
  try {
    const opts = { ...v5, clientId: 'late', clean: false, properties: { sessionExpiryInterval: 60 } };
    const c = await connect(broker.url, opts);
    await c.subscribeAsync('exp/#', { qos: 1 });
    await endClient(c);
    const pub = await connect(broker.url, { ...v5, clientId: 'exp-pub' });
    await pub.publishAsync('exp/short', 'short', { qos: 1, properties: { messageExpiryInterval: 1 } });
    await pub.publishAsync('exp/long', 'long', { qos: 1, properties: { messageExpiryInterval: 100 } });
    await sleep(1200);
    const back = await connect(broker.url, opts);
    const got = collect(back);
    await got.wait(1);
    await sleep(100);
    assert.deepEqual(got.messages.map((m) => m.payload.toString()), ['long']);
    await Promise.all([endClient(back), endClient(pub)]);
  } finally {
    await broker.close();
  }
});

test('MQTT 5 subscription options: no-local, retain-as-published, retain handling 1 and 2; subscription identifiers', async () => {
  const broker = await startBroker();
  try {
    const c = await connect(broker.url, { ...v5, clientId: 'opts' });
    const got = collect(c);
    await c.subscribeAsync('nl/x', { qos: 1, nl: true });
    await c.publishAsync('nl/x', 'own', { qos: 1 });
    await c.publishAsync('rap/x', 'kept', { qos: 1, retain: true });
    await c.subscribeAsync('rap/x', { qos: 1, rap: true, rh: 2, properties: { subscriptionIdentifier: 7 } });
    await c.publishAsync('rap/x', 'live', { qos: 1, retain: true });
    await got.wait(1);
    await sleep(150);
    // no own message (no-local); no retained at subscribe (rh=2); the live one keeps RETAIN (rap) and carries id 7
    assert.deepEqual(got.messages.map((m) => m.payload.toString()), ['live']);
    assert.equal(got.messages[0]!.packet.retain, true);
    assert.equal(got.messages[0]!.packet.properties?.subscriptionIdentifier, 7);
    // rh=1: retained only for a new subscription
    await c.subscribeAsync('rap/x', { qos: 1, rh: 1 });
    await sleep(150);
    assert.equal(got.messages.length, 1);
    await c.subscribeAsync('rap/+', { qos: 1, rh: 1 });
    await got.wait(2);
    assert.equal(got.messages[1]!.payload.toString(), 'live');
    await endClient(c);
  } finally {
    await broker.close();
  }
});

test('MQTT 5 topic aliases both ways', async () => {
  const broker = await startBroker();
  try {
    const sub = await connect(broker.url, { ...v5, clientId: 'alias-sub', properties: { topicAliasMaximum: 5 } });
    const aliases: (number | undefined)[] = [];
    const topics: string[] = [];
    sub.on('packetreceive', (p) => {
      if (p.cmd === 'publish') {
        aliases.push(p.properties?.topicAlias);
        topics.push(p.topic);
      }
    });
    const got = collect(sub);
    await sub.subscribeAsync('al/#', { qos: 1 });
    const pub = await connect(broker.url, { ...v5, clientId: 'alias-pub' });
    await pub.publishAsync('al/one', 'a', { qos: 1, properties: { topicAlias: 1 } });
    await pub.publishAsync('', 'b', { qos: 1, properties: { topicAlias: 1 } });
    const messages = await got.wait(2);
    assert.deepEqual(messages.map((m) => m.topic), ['al/one', 'al/one']);
    // the server aliased its second delivery: empty topic on the wire, alias 1
    assert.deepEqual(aliases, [1, 1]);
    assert.deepEqual(topics, ['al/one', '']);
    await Promise.all([endClient(sub), endClient(pub)]);
  } finally {
    await broker.close();
  }
});

test('MQTT 5 maximum packet size: messages larger than the client allows are not sent to it', async () => {
  const broker = await startBroker();
  try {
    const small = await connect(broker.url, { ...v5, clientId: 'small', properties: { maximumPacketSize: 200 } });
    const got = collect(small);
    await small.subscribeAsync('big/#', { qos: 1 });
    const pub = await connect(broker.url, { ...v5, clientId: 'big-pub' });
    await pub.publishAsync('big/1', Buffer.alloc(1000), { qos: 1 });
    await pub.publishAsync('big/2', 'small', { qos: 1 });
    await got.wait(1);
    await sleep(100);
    assert.deepEqual(got.messages.map((m) => m.topic), ['big/2']);
    await Promise.all([endClient(small), endClient(pub)]);
  } finally {
    await broker.close();
  }
});

test('MQTT 5 CONNACK advertises limits and features; server keep-alive overrides', async () => {
  const broker = await startBroker({ config: { keepAliveSecondsMax: 30, inflightMax: 10 } });
  try {
    const c = await connect(broker.url, { ...v5, clientId: 'caps', keepalive: 0 });
    const props = (c as unknown as { connackPacket: { properties: Record<string, unknown> } }).connackPacket.properties;
    assert.equal(props['receiveMaximum'], 10);
    assert.equal(props['sharedSubscriptionAvailable'], true);
    assert.equal(props['serverKeepAlive'], 30);
    assert.equal(props['maximumPacketSize'], 1024 * 1024);
    await endClient(c);
  } finally {
    await broker.close();
  }
});

test('MQTT 5 UNSUBACK reason codes: 0x11 when no subscription existed', async () => {
  const broker = await startBroker();
  try {
    const c = await connect(broker.url, { ...v5, clientId: 'unsuback' });
    await c.subscribeAsync('exists', { qos: 0 });
    const codes = await new Promise<number[]>((resolve) => {
      c.on('packetreceive', (p) => {
        if (p.cmd === 'unsuback') resolve((p as unknown as { granted?: number[]; reasonCode?: number[] }).granted ?? []);
      });
      c.unsubscribe(['exists', 'missing']);
    });
    assert.deepEqual(codes, [0x00, 0x11]);
    await endClient(c);
  } finally {
    await broker.close();
  }
});

test('shared subscriptions: each message goes to one member of the group; other groups and plain subscribers get all', async () => {
  const broker = await startBroker();
  try {
    const members = await Promise.all([0, 1].map((i) => connect(broker.url, { ...v5, clientId: `member-${i}` })));
    const plain = await connect(broker.url, { ...v5, clientId: 'plain' });
    const got = members.map((m) => collect(m));
    const gotPlain = collect(plain);
    for (const m of members) await m.subscribeAsync('$share/g/jobs/+', { qos: 1 });
    await plain.subscribeAsync('jobs/+', { qos: 1 });
    const pub = await connect(broker.url, { ...v5, clientId: 'jobs-pub' });
    const total = 40;
    for (let i = 0; i < total; i++) await pub.publishAsync(`jobs/${i % 3}`, String(i), { qos: 1 });
    await gotPlain.wait(total);
    const deadline = Date.now() + 5000;
    while (got[0]!.messages.length + got[1]!.messages.length < total && Date.now() < deadline) await sleep(20);
    const shared = [...got[0]!.messages, ...got[1]!.messages].map((m) => Number(m.payload.toString())).sort((a, b) => a - b);
    assert.deepEqual(shared, Array.from({ length: total }, (_, i) => i));
    assert.ok(got[0]!.messages.length > 0 && got[1]!.messages.length > 0, 'both members got some');
    await Promise.all([...members.map((m) => endClient(m)), endClient(plain), endClient(pub)]);
  } finally {
    await broker.close();
  }
});

test('shared subscriptions work for 3.1.1 clients too', async () => {
  const broker = await startBroker();
  try {
    const member = await connect(broker.url, { clientId: 'm311' });
    const got = collect(member);
    await member.subscribeAsync('$share/grp/s/#', { qos: 1 });
    await member.publishAsync('s/1', 'x', { qos: 1 });
    const [m] = await got.wait(1);
    assert.equal(m!.topic, 's/1');
    await endClient(member);
  } finally {
    await broker.close();
  }
});

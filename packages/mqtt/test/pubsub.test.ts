import { test } from 'node:test';
import assert from 'node:assert/strict';
import { collect, connect, endClient, sleep, startBroker } from './harness.js';

for (const protocolVersion of [3, 4, 5] as const) {
  test(`MQTT level ${protocolVersion}: QoS 0, 1, 2 publish and subscribe both ways`, async () => {
    const broker = await startBroker();
    try {
      const sub = await connect(broker.url, { protocolVersion, clientId: `sub-${protocolVersion}` });
      const pub = await connect(broker.url, { protocolVersion, clientId: `pub-${protocolVersion}` });
      const got = collect(sub);
      await sub.subscribeAsync('a/+/c', { qos: 2 });
      for (const qos of [0, 1, 2] as const) await pub.publishAsync('a/b/c', `m${qos}`, { qos });
      const messages = await got.wait(3);
      assert.deepEqual(
        messages.map((m) => [m.topic, m.payload.toString(), m.packet.qos]),
        [
          ['a/b/c', 'm0', 0],
          ['a/b/c', 'm1', 1],
          ['a/b/c', 'm2', 2],
        ],
      );
      await endClient(sub);
      await endClient(pub);
    } finally {
      await broker.close();
    }
  });
}

test('granted QoS caps the delivery QoS; overlapping subscriptions give one copy at the highest QoS', async () => {
  const broker = await startBroker();
  try {
    const sub = await connect(broker.url, { clientId: 'overlap' });
    const got = collect(sub);
    await sub.subscribeAsync({ 'x/#': { qos: 1 }, 'x/y': { qos: 0 } });
    const pub = await connect(broker.url, { clientId: 'overlap-pub' });
    await pub.publishAsync('x/y', 'hello', { qos: 2 });
    await got.wait(1);
    await sleep(100);
    assert.equal(got.messages.length, 1);
    assert.equal(got.messages[0]!.packet.qos, 1);
    await endClient(sub);
    await endClient(pub);
  } finally {
    await broker.close();
  }
});

test('wildcards: + and #, # matches the parent, $-topics are not matched by first-level wildcards', async () => {
  const broker = await startBroker();
  try {
    const all = await connect(broker.url, { clientId: 'all' });
    const sys = await connect(broker.url, { clientId: 'sys' });
    const gotAll = collect(all);
    const gotSys = collect(sys);
    await all.subscribeAsync(['#', '+/x'], { qos: 1 });
    await sys.subscribeAsync('$SYS/#', { qos: 1 });
    const pub = await connect(broker.url, { clientId: 'wpub' });
    await pub.publishAsync('$SYS/info', 'sys', { qos: 1 });
    await pub.publishAsync('sport', 'parent', { qos: 1 });
    await pub.publishAsync('sport/tennis', 'child', { qos: 1 });
    await gotAll.wait(2);
    await gotSys.wait(1);
    await sleep(100);
    assert.deepEqual(gotAll.messages.map((m) => m.payload.toString()), ['parent', 'child']);
    assert.deepEqual(gotSys.messages.map((m) => m.topic), ['$SYS/info']);
    await Promise.all([endClient(all), endClient(sys), endClient(pub)]);
  } finally {
    await broker.close();
  }
});

test('retained messages: delivered on (wildcard) subscribe with RETAIN set, replaced, cleared by empty payload', async () => {
  const broker = await startBroker();
  try {
    const pub = await connect(broker.url, { clientId: 'rpub' });
    await pub.publishAsync('home/kitchen/temp', '20', { qos: 1, retain: true });
    await pub.publishAsync('home/kitchen/temp', '21', { qos: 1, retain: true });
    await pub.publishAsync('home/hall/temp', '18', { qos: 1, retain: true });
    await pub.publishAsync('home/hall/light', 'on', { qos: 0, retain: true });
    await sleep(50);
    const sub = await connect(broker.url, { clientId: 'rsub' });
    const got = collect(sub);
    await sub.subscribeAsync('home/+/temp', { qos: 1 });
    const messages = await got.wait(2);
    assert.deepEqual(messages.map((m) => `${m.topic}=${m.payload}`).sort(), ['home/hall/temp=18', 'home/kitchen/temp=21']);
    assert.ok(messages.every((m) => m.packet.retain));
    // a live publish to a subscriber is not flagged retained [MQTT-3.3.1-9]
    await pub.publishAsync('home/kitchen/temp', '22', { qos: 1, retain: true });
    const live = await got.wait(3);
    assert.equal(live[2]!.packet.retain, false);
    // clear
    await pub.publishAsync('home/kitchen/temp', '', { qos: 1, retain: true });
    await got.wait(4);
    const late = await connect(broker.url, { clientId: 'rsub2' });
    const got2 = collect(late);
    await late.subscribeAsync('home/#', { qos: 1 });
    await got2.wait(2);
    await sleep(100);
    assert.deepEqual(got2.messages.map((m) => m.topic).sort(), ['home/hall/light', 'home/hall/temp']);
    await Promise.all([endClient(pub), endClient(sub), endClient(late)]);
  } finally {
    await broker.close();
  }
});

test('unsubscribe stops delivery', async () => {
  const broker = await startBroker();
  try {
    const c = await connect(broker.url, { clientId: 'unsub', protocolVersion: 5 });
    const got = collect(c);
    await c.subscribeAsync('u/1', { qos: 1 });
    await c.publishAsync('u/1', 'one', { qos: 1 });
    await got.wait(1);
    await c.unsubscribeAsync('u/1');
    await c.publishAsync('u/1', 'two', { qos: 1 });
    await sleep(150);
    assert.equal(got.messages.length, 1);
    await endClient(c);
  } finally {
    await broker.close();
  }
});

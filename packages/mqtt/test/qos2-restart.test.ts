import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import type * as mqttPacket from 'mqtt-packet';
import { decodeRecordBatch, type Core } from '@strata/core';
import { collect, connect, endClient, sleep, startBroker } from './harness.js';
import { connectPacket, rawConnect, type RawClient } from './raw-client.js';
import { packetIdsKey } from '../src/session-store.js';

const mqttTopic = 'persistent://public/default/mqtt';

/** Payloads stored in the catch-all core topic, in log order. */
async function storedPayloads(core: Core): Promise<string[]> {
  const out: string[] = [];
  const read = await core.read(mqttTopic, 0, { offset: 0, maxBytes: 1 << 20 });
  for (const entry of read.entries) for (const m of decodeRecordBatch(entry.bytes).messages) out.push(m.value?.toString() ?? '');
  return out;
}

async function rawSession(port: number, clientId: string, protocolVersion: 4 | 5, autoAck = true): Promise<{ client: RawClient; sessionPresent: boolean }> {
  const client = await rawConnect(port, protocolVersion, { autoAck });
  const extra: Partial<mqttPacket.IConnectPacket> = { clean: false };
  if (protocolVersion === 5) extra.properties = { sessionExpiryInterval: 3600 };
  client.send(connectPacket(clientId, protocolVersion, extra));
  const connack = (await client.next('connack')) as mqttPacket.IConnackPacket;
  assert.equal(connack.returnCode ?? connack.reasonCode ?? 0, 0);
  return { client, sessionPresent: connack.sessionPresent };
}

function publish(messageId: number, payload: string, dup = false): mqttPacket.IPublishPacket {
  return { cmd: 'publish', topic: 'q2/x', payload: Buffer.from(payload), qos: 2, retain: false, dup, messageId };
}

for (const protocolVersion of [4, 5] as const) {
  test(`QoS 2 exactly once across a server restart before PUBREL (MQTT ${protocolVersion === 4 ? '3.1.1' : '5'}, [MQTT-4.3.3-2])`, async () => {
    let broker = await startBroker();
    const { dataDir } = broker;
    try {
      const watcher = await connect(broker.url, { clientId: 'q2-watcher', clean: false, protocolVersion: 4 });
      await watcher.subscribeAsync('q2/#', { qos: 2 });
      await endClient(watcher);

      const first = await rawSession(broker.port, 'q2-pub', protocolVersion);
      first.client.send(publish(7, 'once'));
      assert.equal(((await first.client.next('pubrec')) as mqttPacket.IPubrecPacket).messageId, 7);
      assert.ok((await broker.core.metadata.get(packetIdsKey('q2-pub'))) !== null, 'the id is durable when PUBREC is sent');
      first.client.end(); // no PUBREL: the flow is cut here
      await broker.stop();

      broker = await startBroker({ dataDir });
      const again = await rawSession(broker.port, 'q2-pub', protocolVersion);
      assert.equal(again.sessionPresent, true);
      // The client did not see PUBCOMP, so it re-sends the PUBLISH with DUP set, then PUBREL.
      again.client.send(publish(7, 'once', true));
      assert.equal(((await again.client.next('pubrec')) as mqttPacket.IPubrecPacket).messageId, 7);
      again.client.send({ cmd: 'pubrel', messageId: 7 });
      const pubcomp = (await again.client.next('pubcomp')) as mqttPacket.IPubcompPacket;
      assert.equal(pubcomp.messageId, 7);
      assert.equal(pubcomp.reasonCode ?? 0, 0, 'the id was known');
      assert.equal(await broker.core.metadata.get(packetIdsKey('q2-pub')), null, 'released before PUBCOMP');
      // The id is free again: a new message with it is stored.
      again.client.send(publish(7, 'second'));
      await again.client.next('pubrec');
      again.client.send({ cmd: 'pubrel', messageId: 7 });
      await again.client.next('pubcomp');
      again.client.end();

      assert.deepEqual(await storedPayloads(broker.core), ['once', 'second'], 'stored exactly once');
      const back = await connect(broker.url, { clientId: 'q2-watcher', clean: false, protocolVersion: 4 });
      const got = collect(back);
      await got.wait(2);
      await sleep(200); // a duplicate would follow within this
      assert.deepEqual(got.messages.map((m) => m.payload.toString()), ['once', 'second'], 'delivered exactly once');
      await endClient(back);
    } finally {
      await broker.stop();
      await rm(dataDir, { recursive: true, force: true });
    }
  });
}

test('outbound QoS 2: PUBREL is re-sent after a server restart for a delivery the client PUBREC-ed [MQTT-4.4.0-1]', async () => {
  let broker = await startBroker();
  const { dataDir } = broker;
  try {
    const sub = await rawSession(broker.port, 'q2-out', 4, false);
    sub.client.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'q2/#', qos: 2 }] });
    await sub.client.next('suback');
    const pub = await connect(broker.url, { clientId: 'q2-out-pub' });
    await pub.publishAsync('q2/x', 'deliver once', { qos: 2 });
    await endClient(pub);
    const delivered = (await sub.client.next('publish')) as mqttPacket.IPublishPacket;
    sub.client.send({ cmd: 'pubrec', messageId: delivered.messageId! });
    assert.equal(((await sub.client.next('pubrel')) as mqttPacket.IPubrelPacket).messageId, delivered.messageId);
    // No PUBCOMP: wait (bounded) until the id is stored, then restart.
    for (let i = 0; i < 100 && (await broker.core.metadata.get(packetIdsKey('q2-out'))) === null; i++) await sleep(10);
    sub.client.end();
    await broker.stop();

    broker = await startBroker({ dataDir });
    const again = await rawSession(broker.port, 'q2-out', 4, false);
    assert.equal(again.sessionPresent, true);
    assert.equal(((await again.client.next('pubrel')) as mqttPacket.IPubrelPacket).messageId, delivered.messageId);
    again.client.send({ cmd: 'pubcomp', messageId: delivered.messageId! });
    await sleep(200);
    assert.equal(again.client.packets.filter((p) => p.cmd === 'publish').length, 0, 'the message is not delivered again');
    for (let i = 0; i < 100 && (await broker.core.metadata.get(packetIdsKey('q2-out'))) !== null; i++) await sleep(10);
    assert.equal(await broker.core.metadata.get(packetIdsKey('q2-out')), null, 'forgotten after PUBCOMP');
    again.client.end();
  } finally {
    await broker.stop();
    await rm(dataDir, { recursive: true, force: true });
  }
});

test('a clean start deletes the stored packet ids with the session', async () => {
  const broker = await startBroker();
  try {
    const first = await rawSession(broker.port, 'q2-clean', 4);
    first.client.send(publish(9, 'x'));
    await first.client.next('pubrec');
    assert.ok((await broker.core.metadata.get(packetIdsKey('q2-clean'))) !== null);
    first.client.end();
    await first.client.closed;
    const clean = await connect(broker.url, { clientId: 'q2-clean', clean: true });
    assert.equal(await broker.core.metadata.get(packetIdsKey('q2-clean')), null);
    await endClient(clean);
  } finally {
    await broker.close();
  }
});

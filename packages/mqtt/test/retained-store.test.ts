import { test } from 'node:test';
import assert from 'node:assert/strict';
import { silentLogger, type Message } from '@strata/core';
import { makeTempDir } from '@strata/testing';
import { RetainedStore } from '../src/retained-store.js';
import { openTestCore } from './test-core.js';

const coreTopic = 'persistent://public/default/mqtt-retained';
const payloadBytes = 100;
const messageCount = 200;

function payloadOf(i: number): Buffer {
  return Buffer.alloc(payloadBytes, i % 251);
}

/** A kept message must own its memory: an exact-size buffer, not a view of a read or socket chunk. */
function assertCompact(message: Message, label: string): void {
  const owned = (message.key?.length ?? 0) + (message.value?.length ?? 0) + message.headers.reduce((n, h) => n + (h.value?.length ?? 0), 0);
  for (const part of [message.key, message.value, ...message.headers.map((h) => h.value)]) {
    if (part === null) continue;
    assert.ok(part.buffer.byteLength <= owned, `${label}: underlying buffer ${part.buffer.byteLength} bytes for ${owned} bytes of message`);
  }
}

test('a retained message is kept as its own compact copy, not a view of the buffer it arrived in', async (t) => {
  const dir = await makeTempDir();
  const core = await openTestCore(dir.path);
  t.after(async () => {
    await core.close();
    await dir.remove();
  });
  const store = new RetainedStore(core, coreTopic, 1000, silentLogger);
  await store.load();
  // As a socket chunk: many publishes in one big buffer, each payload a view into it.
  const chunk = Buffer.alloc(1024 * 1024, 7);
  const payload = chunk.subarray(5000, 5000 + payloadBytes);
  const header = chunk.subarray(100, 108);
  await store.put('a/b', { key: Buffer.from('a/b'), value: payload, headers: [{ key: 'x', value: header }, { key: 'mqtt.retain', value: Buffer.from('1') }], timestamp: 1 });
  chunk.fill(9); // the sender's buffer is reused for the next chunk
  const [kept] = store.match('a/b');
  assert.ok(kept !== undefined);
  assertCompact(kept, 'put');
  assert.deepEqual(kept.value, Buffer.alloc(payloadBytes, 7), 'the copy does not change with the chunk');
  assert.deepEqual(kept.headers, [{ key: 'x', value: Buffer.alloc(8, 7) }], 'mqtt.retain is not stored');
  assert.equal(kept.key?.toString(), 'a/b');
});

test('retained messages loaded at start from one large record batch do not keep the read chunk alive', async (t) => {
  const dir = await makeTempDir();
  let core = await openTestCore(dir.path);
  t.after(async () => {
    await core.close();
    await dir.remove();
  });
  await new RetainedStore(core, coreTopic, 1000, silentLogger).load(); // creates the compacted topic
  // One entry of 200 messages (~25 KiB), as a Kafka producer or a compaction would write it.
  const messages: Message[] = [];
  for (let i = 0; i < messageCount; i++) {
    messages.push({ key: Buffer.from(`t/${i}`), value: payloadOf(i), headers: [{ key: 'mqtt.qos', value: Buffer.from('1') }], timestamp: 1 });
  }
  messages.push({ key: Buffer.from('t/0'), value: null, headers: [], timestamp: 2 }); // a tombstone clears t/0
  await core.append(coreTopic, 0, { kind: 'messages', messages });
  await core.close();
  core = await openTestCore(dir.path);
  const store = new RetainedStore(core, coreTopic, 1000, silentLogger);
  await store.load();
  assert.equal(store.size, messageCount - 1);
  const kept = store.match('t/+');
  assert.equal(kept.length, messageCount - 1);
  for (const m of kept) {
    const i = Number(m.key!.toString().slice(2));
    assert.deepEqual(m.value, payloadOf(i));
    assert.deepEqual(m.headers, [{ key: 'mqtt.qos', value: Buffer.from('1') }]);
    assertCompact(m, `t/${i}`);
  }
});

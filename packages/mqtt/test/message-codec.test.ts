import assert from 'node:assert/strict';
import { test } from 'node:test';
import { HEADER, type Message } from '@strata/core';
import { messageToView, publishToMessage, TextReuse } from '../src/message-codec.js';

test('TextReuse returns the text of the bytes it is given, whatever came before', () => {
  const reuse = new TextReuse();
  const cases = ['a/b', 'a/b', 'a/c', 'a/c', '', '', 'ü/ñ', 'x'.repeat(300), 'x'.repeat(300), 'a/c'];
  for (const text of cases) assert.equal(reuse.text(Buffer.from(text)), text);
  // The bytes it remembered may be overwritten by their owner (a reused read buffer): not trusted.
  const shared = Buffer.from('t/1');
  assert.equal(reuse.text(shared), 't/1');
  shared.write('t/2');
  assert.equal(reuse.text(shared), 't/2');
});

test('a batch sharing one topic buffer and views decoded with reuse keep every message its own topic', () => {
  const publisher = Buffer.from('client-1');
  const topicBytes = Buffer.from('s/1');
  const messages: Message[] = [
    publishToMessage({ cmd: 'publish', topic: 's/1', payload: Buffer.from('p1'), qos: 1, dup: false, retain: false }, publisher, 1, topicBytes),
    publishToMessage({ cmd: 'publish', topic: 's/1', payload: Buffer.from('p2'), qos: 0, dup: false, retain: true }, publisher, 2, topicBytes),
    publishToMessage({ cmd: 'publish', topic: 's/2', payload: Buffer.from('p3'), qos: 2, dup: false, retain: false }, publisher, 3),
  ];
  assert.deepEqual(messages.map((m) => m.headers.find((h) => h.key === HEADER.mqttTopic)!.value!.toString()), ['s/1', 's/1', 's/2']);
  const topics = new TextReuse();
  const publishers = new TextReuse();
  const views = messages.map((m) => messageToView(m, 'fallback', 0, topics, publishers));
  assert.deepEqual(
    views.map((v) => [v.topic, v.payload.toString(), v.qos, v.retain, v.publisher]),
    [
      ['s/1', 'p1', 1, false, 'client-1'],
      ['s/1', 'p2', 0, true, 'client-1'],
      ['s/2', 'p3', 2, false, 'client-1'],
    ],
  );
});

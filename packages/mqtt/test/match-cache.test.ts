import { test } from 'node:test';
import assert from 'node:assert/strict';
import { collect, connect, endClient, sleep, startBroker } from './harness.js';

// The live fan-out remembers the subscribers of the last topic it matched; a subscribe or unsubscribe
// in between must be seen by the very next message of that topic.
test('the fan-out sees a subscribe and an unsubscribe between two messages of one topic', async () => {
  const broker = await startBroker();
  try {
    const first = await connect(broker.url, { clientId: 'cache-a' });
    await first.subscribeAsync('cache/t', { qos: 1 });
    const pub = await connect(broker.url, { clientId: 'cache-pub' });
    const gotFirst = collect(first);
    await pub.publishAsync('cache/t', 'm1', { qos: 1 });
    await gotFirst.wait(1);

    const second = await connect(broker.url, { clientId: 'cache-b' });
    await second.subscribeAsync('cache/+', { qos: 1 });
    const gotSecond = collect(second);
    await pub.publishAsync('cache/t', 'm2', { qos: 1 });
    await gotFirst.wait(2);
    await gotSecond.wait(1);

    await first.unsubscribeAsync('cache/t');
    await pub.publishAsync('cache/t', 'm3', { qos: 1 });
    await gotSecond.wait(2);
    await sleep(100);
    assert.deepEqual(gotFirst.messages.map((m) => m.payload.toString()), ['m1', 'm2']);
    assert.deepEqual(gotSecond.messages.map((m) => m.payload.toString()), ['m2', 'm3']);
    await Promise.all([endClient(first), endClient(second), endClient(pub)]);
  } finally {
    await broker.close();
  }
});

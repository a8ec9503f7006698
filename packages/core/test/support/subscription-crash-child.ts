/**
 * Child process of subscriptions-crash.test.ts: consumes a topic through a durable Shared
 * subscription and acks every message except offsets divisible by 7, printing "ack <offset>"
 * synchronously BEFORE each ack (so the parent's list is a superset of what can be persisted).
 * It runs until the parent SIGKILLs it.
 */
import fs from 'node:fs';
import { openCore } from '../../src/open-core.js';

const TOPIC = 'persistent://public/default/sub-crash';
const MESSAGES = 3000;

const core = await openCore({ dataDir: process.argv[2]! });
if (!core.topics.exists(TOPIC)) await core.topics.create(TOPIC);
for (let offset = core.offsets(TOPIC, 0).highWatermark; offset < MESSAGES; offset += 50) {
  const messages = Array.from({ length: 50 }, (_, i) => ({ key: null, value: Buffer.from(`m${offset + i}`), headers: [], timestamp: Date.now() }));
  await core.append(TOPIC, 0, { kind: 'messages', messages });
}
const subscription = await core.subscriptions.open(TOPIC, 0, 'crash', { type: 'Shared', initialPosition: 'earliest' });
fs.writeSync(1, 'ready\n');
const consumer = subscription.attach({
  name: 'child',
  onDelivery: (deliveries) => {
    for (const delivery of deliveries) {
      const offset = delivery.message.offset;
      if (offset % 7 === 0) continue;
      fs.writeSync(1, `ack ${offset}\n`);
      consumer.ack([offset]);
    }
    // Slow enough that a kill lands mid-stream.
    setTimeout(() => consumer.flow(deliveries.length), 1);
  },
});
consumer.flow(20);
setInterval(() => {}, 1000); // stay alive until killed, even once everything is consumed

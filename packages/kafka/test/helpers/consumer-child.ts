/**
 * A kafkajs group consumer in its own process, so a test can kill it (-9: no LeaveGroup) and
 * watch the group notice through the session timeout. argv: bootstrap groupId topic.
 * Prints one JSON line per assignment change and per message.
 */
import kafkajs from 'kafkajs';

const [bootstrap, groupId, topic] = process.argv.slice(2) as [string, string, string];
const kafka = new kafkajs.Kafka({ clientId: 'child', brokers: [bootstrap], logLevel: kafkajs.logLevel.NOTHING });
const consumer = kafka.consumer({ groupId, sessionTimeout: 3_000, heartbeatInterval: 300, rebalanceTimeout: 5_000, maxWaitTimeInMs: 200 });
consumer.on(consumer.events.GROUP_JOIN, (event) => {
  process.stdout.write(JSON.stringify({ type: 'join', memberId: event.payload.memberId, assignment: event.payload.memberAssignment }) + '\n');
});
await consumer.connect();
await consumer.subscribe({ topic, fromBeginning: true });
await consumer.run({
  eachMessage: async ({ partition, message }) => {
    process.stdout.write(JSON.stringify({ type: 'message', partition, offset: message.offset }) + '\n');
  },
});

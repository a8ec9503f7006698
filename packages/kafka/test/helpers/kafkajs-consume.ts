/** Reading a topic with a kafkajs consumer in tests, bounded in time. */
import type kafkajs from 'kafkajs';
import { withTimeout } from './wait.js';

/**
 * Runs `consumer` (connected here, disconnected before returning) on `topic` from the beginning
 * until `done` holds for a message; returns the messages seen, in order. Throws after `ms`.
 */
export async function consumeUntil(
  consumer: kafkajs.Consumer,
  topic: string,
  done: (message: kafkajs.KafkaMessage) => boolean,
  ms = 15_000,
): Promise<kafkajs.KafkaMessage[]> {
  const seen: kafkajs.KafkaMessage[] = [];
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await withTimeout(
      new Promise<void>((resolve) => {
        void consumer.run({
          eachMessage: async ({ message }) => {
            seen.push(message);
            if (done(message)) resolve();
          },
        });
      }),
      ms,
      () => `reading ${topic}: ${seen.map((m) => `${m.offset}:${m.value?.toString().slice(0, 20) ?? 'null'}`).join(',')}`,
    );
  } finally {
    await consumer.disconnect();
  }
  return seen;
}

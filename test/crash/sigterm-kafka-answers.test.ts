/**
 * Graceful shutdown answers what it stored: Kafka producers (acks=all, several requests in flight
 * over one connection each) append through `strata serve`, the process gets SIGTERM, and the store
 * is then opened in this process. Every stored message must have been acknowledged to its producer —
 * a batch stored without its response is a write the client saw fail — and every acknowledged one
 * must be stored. (kill-9.test.ts checks only the second half, which is all a SIGKILL can promise.)
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Kafka, logLevel, type Producer } from 'kafkajs';
import { decodeRecordBatch, openCore, silentLogger } from '@strata/core';
import { makeTempDir, spawnServer, waitFor } from '@strata/testing';

const PRODUCERS = 4;
/** Sends in flight per producer (kafkajs pipelines them on its one connection). */
const SENDS_IN_FLIGHT = 4;
const TOPIC = 'sigterm-answers';
const CORE_TOPIC = `persistent://public/default/${TOPIC}`;
const ackedBeforeTermMin = 50;

/** One sender: small batches in a loop until stopped or refused; records what was acknowledged. */
async function produceUntil(producer: Producer, name: string, stop: { stopped: boolean }, acked: Set<string>): Promise<void> {
  for (let sequence = 0; !stop.stopped; sequence++) {
    const values = Array.from({ length: 1 + (sequence % 4) }, (_, index) => `${name}-${sequence}-${index}`);
    try {
      await producer.send({ topic: TOPIC, acks: -1, messages: values.map((value) => ({ value })) });
    } catch {
      return; // refused or cut off by the shutdown: not stored, if the server kept its promise
    }
    for (const value of values) acked.add(value);
  }
}

async function storedValues(dataDir: string): Promise<string[]> {
  const core = await openCore({ dataDir, logger: silentLogger });
  try {
    const values: string[] = [];
    const { highWatermark } = core.offsets(CORE_TOPIC, 0);
    for (let next = 0, reads = 0; next < highWatermark; reads++) {
      assert.ok(reads < 100_000, 'reading the partition terminates');
      const result = await core.read(CORE_TOPIC, 0, { offset: next, maxBytes: 1 << 20 });
      assert.ok(result.entries.length > 0, `data at ${next} below ${highWatermark}`);
      for (const entry of result.entries) {
        for (const message of decodeRecordBatch(entry.bytes).messages) values.push(message.value?.toString('utf8') ?? '');
        next = entry.lastOffset + 1;
      }
    }
    return values;
  } finally {
    await core.close();
  }
}

test('SIGTERM under Kafka produce load: every stored message was acknowledged, every acknowledged one is stored', async (t) => {
  const dir = await makeTempDir('strata-sigterm-answers-');
  const server = await spawnServer({ dataDir: dir.path, args: ['--log-level', 'warn'] });
  t.after(async () => {
    server.kill('SIGKILL');
    await server.waitExit().catch(() => undefined);
    await dir.remove();
  });
  const { host, port } = server.address('kafka');
  const kafka = new Kafka({
    clientId: 'sigterm-answers',
    brokers: [`${host}:${port}`],
    logLevel: logLevel.NOTHING,
    // No retries: a retry could store a batch twice, or store it after a lost answer, and blur the count.
    retry: { retries: 0 },
    connectionTimeout: 2_000,
    requestTimeout: 10_000,
  });
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: TOPIC, numPartitions: 1 }] });
  await admin.disconnect();
  const producers = Array.from({ length: PRODUCERS }, () => kafka.producer({ allowAutoTopicCreation: false, retry: { retries: 0 } }));
  await Promise.all(producers.map((producer) => producer.connect()));

  const acked = new Set<string>();
  const stop = { stopped: false };
  const running = producers.flatMap((producer, p) =>
    Array.from({ length: SENDS_IN_FLIGHT }, (_, s) => produceUntil(producer, `p${p}s${s}`, stop, acked)),
  );
  await waitFor(() => acked.size >= ackedBeforeTermMin, 15_000, { message: 'first acknowledgements' });
  server.kill('SIGTERM');
  assert.deepEqual(await server.waitExit(20_000), { code: 0, signal: null }, 'a graceful shutdown under load exits 0');
  stop.stopped = true;
  await Promise.all(running);
  await Promise.all(producers.map((producer) => producer.disconnect().catch(() => undefined)));

  const stored = await storedValues(dir.path);
  const unanswered = stored.filter((value) => !acked.has(value));
  const storedSet = new Set(stored);
  assert.equal(storedSet.size, stored.length, 'nothing stored twice');
  const lost = [...acked].filter((value) => !storedSet.has(value));
  t.diagnostic(`${acked.size} acknowledged, ${stored.length} stored`);
  assert.deepEqual(unanswered, [], 'every stored message was acknowledged to its producer');
  assert.deepEqual(lost, [], 'every acknowledged message is stored');
});

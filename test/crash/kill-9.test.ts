/**
 * Durability of the real server process (issue 2, "Proof"): Kafka producers append with acks=all
 * through `strata serve` (fsync always), the process is killed with SIGKILL at an arbitrary moment,
 * and the store is then opened in this process and checked: every acknowledged message is there with
 * identical bytes, offsets are dense with no gaps, nothing is stored twice, and a torn tail is never
 * served. Then the server is started again on the same data dir for the next round.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Kafka, logLevel, type Producer } from 'kafkajs';
import { decodeRecordBatch, openCore, silentLogger } from '@strata/core';
import { waitFor, type SpawnedServer } from '@strata/testing';
import { crashDirectory } from './crash-directory.js';

const ROUNDS = 6;
const PRODUCERS = 4;
const PARTITIONS = 3;
const TOPIC = 'crash-test';
const CORE_TOPIC = `persistent://public/default/${TOPIC}`;
/** Acknowledgements to see in a round before the kill is armed (a loaded machine may be slow to start). */
const ackedBeforeKillMin = 20;
/** Then producers run this much longer, varied per round so the kill lands at different points. */
const produceMsSpread = 400;
const roundMsMax = 20_000;

interface Acked {
  readonly partition: number;
  readonly offset: number;
  readonly value: string;
}

function kafkaClient(server: SpawnedServer): Kafka {
  const { host, port } = server.address('kafka');
  return new Kafka({
    clientId: 'crash-test',
    brokers: [`${host}:${port}`],
    logLevel: logLevel.NOTHING,
    // No retries: a retried request could land twice after the restart and blur what was acknowledged.
    retry: { retries: 0 },
    connectionTimeout: 2_000,
    requestTimeout: 5_000,
  });
}

/** One producer: sends small batches in a loop until stopped; records what was acknowledged. */
async function produceUntil(producer: Producer, name: string, stop: { stopped: boolean }, acked: Acked[]): Promise<void> {
  let sequence = 0;
  while (!stop.stopped) {
    const partition = sequence % PARTITIONS;
    const values = Array.from({ length: 1 + (sequence % 5) }, (_, index) => `${name}-${sequence}-${index}-${'x'.repeat((sequence * 37) % 300)}`);
    sequence++;
    try {
      const [result] = await producer.send({ topic: TOPIC, acks: -1, messages: values.map((value) => ({ value, partition })) });
      assert.ok(result, 'a produce response for the topic');
      const baseOffset = Number(result.baseOffset);
      values.forEach((value, index) => acked.push({ partition, offset: baseOffset + index, value }));
    } catch {
      return; // the server died under this request: not acknowledged, so not expected
    }
  }
}

/** Opens the store in this process and checks every partition against what was acknowledged. */
async function verifyStore(dataDir: string, acked: readonly Acked[]): Promise<number> {
  const core = await openCore({ dataDir, logger: silentLogger });
  try {
    let stored = 0;
    for (let partition = 0; partition < PARTITIONS; partition++) {
      const byOffset = new Map<number, string>();
      const { logStartOffset, highWatermark } = core.offsets(CORE_TOPIC, partition);
      assert.equal(logStartOffset, 0);
      let next = 0;
      for (let reads = 0; next < highWatermark; reads++) {
        assert.ok(reads < 100_000, 'reading the partition terminates');
        const result = await core.read(CORE_TOPIC, partition, { offset: next, maxBytes: 1 << 20 });
        assert.ok(result.entries.length > 0, `partition ${partition} has data at ${next} below ${highWatermark}`);
        for (const entry of result.entries) {
          assert.equal(entry.baseOffset, next, `partition ${partition}: dense offsets, no gap at ${next}`);
          const decoded = decodeRecordBatch(entry.bytes); // verifies the batch decodes: no torn tail served
          decoded.messages.forEach((message, index) => byOffset.set(entry.baseOffset + index, message.value?.toString('utf8') ?? ''));
          next = entry.lastOffset + 1;
        }
      }
      const values = new Set(byOffset.values());
      assert.equal(values.size, byOffset.size, `partition ${partition}: no message stored twice`);
      stored += byOffset.size;
      for (const message of acked) {
        if (message.partition !== partition) continue;
        assert.equal(byOffset.get(message.offset), message.value, `acknowledged message at ${partition}/${message.offset} survived intact`);
      }
    }
    return stored;
  } finally {
    await core.close();
  }
}

test('SIGKILL while producers append: every acknowledged message survives, many rounds', async (t) => {
  const dir = await crashDirectory(t, 'strata-crash-');
  const acked: Acked[] = [];
  let previouslyStored = 0;
  for (let round = 0; round < ROUNDS; round++) {
    const roundStartedMs = Date.now();
    const server = await dir.spawn();
    const kafka = kafkaClient(server);
    if (round === 0) {
      const admin = kafka.admin();
      await admin.connect();
      await admin.createTopics({ topics: [{ topic: TOPIC, numPartitions: PARTITIONS }] });
      await admin.disconnect();
    }
    const producers = Array.from({ length: PRODUCERS }, () => kafka.producer({ allowAutoTopicCreation: false, retry: { retries: 0 } }));
    await Promise.all(producers.map((producer) => producer.connect()));
    const stop = { stopped: false };
    const ackedBefore = acked.length;
    const running = producers.map((producer, index) => produceUntil(producer, `r${round}p${index}`, stop, acked));

    await waitFor(() => acked.length >= ackedBefore + ackedBeforeKillMin, 10_000, { message: `round ${round}: first acknowledgements` });
    await new Promise((resolve) => setTimeout(resolve, (round * 7919) % produceMsSpread));
    server.kill('SIGKILL');
    const status = await server.waitExit(10_000);
    assert.equal(status.signal, 'SIGKILL');
    stop.stopped = true;
    await Promise.all(running);
    await Promise.all(producers.map((producer) => producer.disconnect().catch(() => undefined)));
    assert.ok(acked.length > ackedBefore, `round ${round}: some appends were acknowledged before the kill`);

    const stored = await verifyStore(dir.path, acked);
    assert.ok(stored >= acked.length, 'at least every acknowledged message is stored');
    assert.ok(stored >= previouslyStored, 'nothing stored in an earlier round disappeared');
    previouslyStored = stored;
    t.diagnostic(`round ${round}: ${acked.length - ackedBefore} acknowledged, ${stored} stored in total`);
    assert.ok(Date.now() - roundStartedMs < roundMsMax, `round ${round} finished within ${roundMsMax} ms`);
  }
});

test('SIGTERM while producers append: exit 0, and every acknowledged message is there', async (t) => {
  const dir = await crashDirectory(t, 'strata-sigterm-');
  const server = await dir.spawn();
  const kafka = kafkaClient(server);
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: TOPIC, numPartitions: PARTITIONS }] });
  await admin.disconnect();
  const producers = Array.from({ length: PRODUCERS }, () => kafka.producer({ allowAutoTopicCreation: false, retry: { retries: 0 } }));
  await Promise.all(producers.map((producer) => producer.connect()));
  const acked: Acked[] = [];
  const stop = { stopped: false };
  const running = producers.map((producer, index) => produceUntil(producer, `term-p${index}`, stop, acked));
  await waitFor(() => acked.length >= ackedBeforeKillMin, 10_000, { message: 'first acknowledgements' });

  server.kill('SIGTERM');
  assert.deepEqual(await server.waitExit(20_000), { code: 0, signal: null }, 'a graceful shutdown under load exits 0');
  stop.stopped = true;
  await Promise.all(running);
  await Promise.all(producers.map((producer) => producer.disconnect().catch(() => undefined)));
  const stored = await verifyStore(dir.path, acked);
  t.diagnostic(`${acked.length} acknowledged, ${stored} stored`);
});

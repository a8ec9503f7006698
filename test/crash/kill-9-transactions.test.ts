/**
 * Kafka transactions under SIGKILL (issue 3 with issue 2's durability proof): transactional
 * producers (kafkajs) commit and abort transactions spanning two partitions through `strata serve`,
 * the process is killed at an arbitrary moment, and restarted for the next round, where the same
 * transactional ids start again (InitProducerId aborts what a dead round left open). At the end the
 * store is opened in this process and read as a read_committed consumer sees it (the core's
 * aborted-transaction list, markers skipped):
 *  - every value of an acknowledged commit is visible, exactly once;
 *  - no value of an acknowledged abort is visible;
 *  - a transaction cut off by the kill is visible whole or not at all;
 *  - nothing is left open: the last stable offset is the high watermark.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Kafka, logLevel, type Producer } from 'kafkajs';
import { decodeRecordBatch, isAbortedBatch, openCore, silentLogger } from '@strata/core';
import { waitFor, type SpawnedServer } from '@strata/testing';
import { crashDirectory } from './crash-directory.js';

const ROUNDS = 6;
const PRODUCERS = 3;
const PARTITIONS = 2;
const TOPIC = 'txn-crash';
const CORE_TOPIC = `persistent://public/default/${TOPIC}`;
const committedBeforeKillMin = 6;
const produceMsSpread = 300;
const roundMsMax = 30_000;

interface Outcomes {
  readonly committed: string[][];
  readonly aborted: string[][];
  /** Transactions whose end the kill cut off: commit or abort requested, no answer. */
  readonly uncertain: string[][];
}

function kafkaClient(server: SpawnedServer): Kafka {
  const { host, port } = server.address('kafka');
  return new Kafka({ clientId: 'txn-crash', brokers: [`${host}:${port}`], logLevel: logLevel.NOTHING, retry: { retries: 1, initialRetryTime: 50 }, connectionTimeout: 2_000, requestTimeout: 5_000 });
}

function transactionalProducer(kafka: Kafka, index: number): Producer {
  return kafka.producer({ transactionalId: `txn-crash-${index}`, idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false, retry: { retries: 1, initialRetryTime: 50 } });
}

/** Transactions in a loop: 1-3 values on each partition, every fourth aborted, until stopped or cut off. */
async function transactUntil(producer: Producer, name: string, stop: { stopped: boolean }, outcomes: Outcomes): Promise<void> {
  for (let sequence = 0; !stop.stopped; sequence++) {
    const values = Array.from({ length: 2 + (sequence % 5) }, (_, index) => `${name}-${sequence}-${index}`);
    const abort = sequence % 4 === 3;
    let ending = false;
    try {
      const transaction = await producer.transaction();
      await transaction.send({ topic: TOPIC, acks: -1, messages: values.map((value, index) => ({ value, partition: index % PARTITIONS })) });
      ending = true;
      if (abort) await transaction.abort();
      else await transaction.commit();
      (abort ? outcomes.aborted : outcomes.committed).push(values);
    } catch {
      // Cut off by the kill. Before EndTxn was sent the transaction is open (the next round's
      // InitProducerId aborts it); after, its outcome is unknown, but it must be atomic.
      (ending && !abort ? outcomes.uncertain : outcomes.aborted).push(values);
      return;
    }
  }
}

/** The partitions as a read_committed consumer sees them: values of committed transactions only. */
async function readCommitted(dataDir: string): Promise<string[]> {
  const core = await openCore({ dataDir, logger: silentLogger });
  try {
    const visible: string[] = [];
    for (let partition = 0; partition < PARTITIONS; partition++) {
      const { highWatermark, lastStableOffset } = core.offsets(CORE_TOPIC, partition);
      assert.equal(lastStableOffset, highWatermark, `partition ${partition}: no transaction left open`);
      const aborted = core.abortedTransactions(CORE_TOPIC, partition, 0, highWatermark);
      for (let next = 0, reads = 0; next < highWatermark; reads++) {
        assert.ok(reads < 100_000, 'reading the partition terminates');
        const result = await core.read(CORE_TOPIC, partition, { offset: next, maxBytes: 1 << 20 });
        assert.ok(result.entries.length > 0, `partition ${partition} has data at ${next}`);
        for (const entry of result.entries) {
          assert.equal(entry.baseOffset, next, `partition ${partition}: dense offsets at ${next}`);
          const { header, messages } = decodeRecordBatch(entry.bytes);
          next = entry.lastOffset + 1;
          if (header.isControl) continue;
          assert.ok(header.isTransactional, 'only transactional batches in this topic');
          if (isAbortedBatch(aborted, header.producerId, entry.baseOffset)) continue;
          for (const message of messages) visible.push(message.value?.toString('utf8') ?? '');
        }
      }
    }
    return visible;
  } finally {
    await core.close();
  }
}

test('SIGKILL while transactions commit and abort: committed ones whole, aborted ones gone, cut-off ones atomic', async (t) => {
  const dir = await crashDirectory(t, 'strata-txn-crash-');
  const outcomes: Outcomes = { committed: [], aborted: [], uncertain: [] };
  for (let round = 0; round <= ROUNDS; round++) {
    const last = round === ROUNDS;
    const roundStartedMs = Date.now();
    const server = await dir.spawn();
    const kafka = kafkaClient(server);
    if (round === 0) {
      const admin = kafka.admin();
      await admin.connect();
      await admin.createTopics({ topics: [{ topic: TOPIC, numPartitions: PARTITIONS }] });
      await admin.disconnect();
    }
    const producers = Array.from({ length: PRODUCERS }, (_, index) => transactionalProducer(kafka, index));
    await Promise.all(producers.map((producer) => producer.connect()));
    if (last) {
      // Every id starts once more (aborting what the last kill left open), then a clean stop.
      for (const producer of producers) await (await producer.transaction()).abort();
      await Promise.all(producers.map((producer) => producer.disconnect()));
      server.kill('SIGTERM');
      assert.deepEqual(await server.waitExit(20_000), { code: 0, signal: null });
      break;
    }
    const stop = { stopped: false };
    const committedBefore = outcomes.committed.length;
    const running = producers.map((producer, index) => transactUntil(producer, `r${round}p${index}`, stop, outcomes));
    await waitFor(() => outcomes.committed.length >= committedBefore + committedBeforeKillMin, 15_000, { message: `round ${round}: first commits` });
    await new Promise((resolve) => setTimeout(resolve, (round * 7919) % produceMsSpread));
    server.kill('SIGKILL');
    assert.equal((await server.waitExit(10_000)).signal, 'SIGKILL');
    stop.stopped = true;
    await Promise.all(running);
    await Promise.all(producers.map((producer) => producer.disconnect().catch(() => undefined)));
    t.diagnostic(`round ${round}: ${outcomes.committed.length - committedBefore} commits acknowledged`);
    assert.ok(Date.now() - roundStartedMs < roundMsMax, `round ${round} finished within ${roundMsMax} ms`);
  }

  const visible = await readCommitted(dir.path);
  const seen = new Set(visible);
  assert.equal(seen.size, visible.length, 'no value visible twice');
  for (const values of outcomes.committed) for (const value of values) assert.ok(seen.has(value), `committed ${value} is visible`);
  for (const values of outcomes.aborted) for (const value of values) assert.ok(!seen.has(value), `aborted ${value} is not visible`);
  for (const values of outcomes.uncertain) {
    const shown = values.filter((value) => seen.has(value)).length;
    assert.ok(shown === 0 || shown === values.length, `a transaction cut off at its end is all or nothing (${shown} of ${values.length})`);
  }
  const known = new Set([...outcomes.committed, ...outcomes.uncertain].flat());
  for (const value of visible) assert.ok(known.has(value), `${value} was sent in a committed or cut-off transaction`);
  t.diagnostic(`${outcomes.committed.length} committed, ${outcomes.aborted.length} aborted, ${outcomes.uncertain.length} cut off at their end; ${visible.length} values visible`);
});

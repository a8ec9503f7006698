/**
 * Subscription dispatch and metadata store micro-benchmark (short; numbers for docs by hand).
 * Run: npx tsc -b packages/core && node packages/core/dist/bench/subscription-bench.js
 *
 *   dispatch: 100,000 messages of 100 bytes (batches of 100) already in the log, read back through a
 *             Shared subscription by one consumer that acks every delivery and re-grants permits.
 *   metadata: puts/s of the embedded store, 1 writer awaiting each put vs 100 concurrent writers
 *             (group commit), fsync on every commit.
 */
// First: UV_THREADPOOL_SIZE as strata serve sets it (the script runs again with it when unset).
import './server-thread-pool.js';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openEmbeddedMetadataStore } from '../src/metadata/embedded-metadata-store.js';
import { openCore } from '../src/open-core.js';

const MESSAGES = 100_000;
const BATCH = 100;
const TOPIC = 'persistent://public/default/bench';

async function dispatchBench(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'strata-sub-bench-'));
  const core = await openCore({ dataDir: dir, fsync: { kind: 'interval', intervalMs: 50 } });
  try {
    await core.topics.create(TOPIC);
    const value = Buffer.alloc(100, 120);
    for (let i = 0; i < MESSAGES; i += BATCH) {
      const messages = Array.from({ length: BATCH }, (_, j) => ({ key: Buffer.from(`k${(i + j) % 64}`), value, headers: [], timestamp: Date.now() }));
      await core.append(TOPIC, 0, { kind: 'messages', messages });
    }
    const subscription = await core.subscriptions.open(TOPIC, 0, 'bench', { type: 'Shared', initialPosition: 'earliest' });
    const start = process.hrtime.bigint();
    let received = 0;
    await new Promise<void>((resolve) => {
      const consumer = subscription.attach({
        name: 'c',
        onDelivery: (deliveries) => {
          received += deliveries.length;
          consumer.ack(deliveries.map((d) => d.message.offset));
          consumer.flow(deliveries.length);
          if (received >= MESSAGES) resolve();
        },
      });
      consumer.flow(1000);
    });
    const seconds = Number(process.hrtime.bigint() - start) / 1e9;
    console.log(`dispatch (Shared, 1 consumer, ack each): ${(received / seconds).toFixed(0)} msgs/s, mark-delete ${subscription.state().markDeleteOffset}`);
  } finally {
    await core.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

async function metadataBench(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'strata-meta-bench-'));
  const store = await openEmbeddedMetadataStore({ dir });
  try {
    const value = Buffer.alloc(200, 1);
    let start = process.hrtime.bigint();
    const serial = 300;
    for (let i = 0; i < serial; i++) await store.put(`/bench/serial/${i % 50}`, value);
    let seconds = Number(process.hrtime.bigint() - start) / 1e9;
    console.log(`metadata put, 1 writer:      ${(serial / seconds).toFixed(0)} puts/s`);
    start = process.hrtime.bigint();
    const rounds = 50;
    for (let r = 0; r < rounds; r++) await Promise.all(Array.from({ length: 100 }, (_, i) => store.put(`/bench/concurrent/${i}`, value)));
    seconds = Number(process.hrtime.bigint() - start) / 1e9;
    console.log(`metadata put, 100 writers:   ${((rounds * 100) / seconds).toFixed(0)} puts/s`);
  } finally {
    await store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

await dispatchBench();
await metadataBench();

// Live checks with the Debian clients (skipped where not installed): kcat 1.7.1 on librdkafka 2.0.2
// (ApiVersions v3 first, Metadata v4, Produce v7 with gzip, ListOffsets + Fetch v11 to read back) and
// kafka-python 2.0.2 (ApiVersions v0 probe, Metadata, Produce, ListOffsets v1 + Fetch v4) against a
// FakeBroker built from our codecs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runProgram, type ProgramRun } from '@strata/testing';
import { existsSync } from 'node:fs';
import { API_KEY } from '../../src/protocol/messages/index.js';
import type { ProduceRequest } from '../../src/protocol/messages/index.js';
import { FakeBroker } from './fake-broker.js';

const CLIENT_TIMEOUT_MS = 20_000;
const KCAT = '/usr/bin/kcat';
const PYTHON = '/usr/bin/python3';

/** Ranges librdkafka 2.0.2's feature checks look for (kafka.md §5): Produce v0 for compression, Fetch 4 for MsgVer2. */
const ADVERTISED = new Map<number, [number, number]>([
  [API_KEY.Produce, [0, 9]],
  [API_KEY.Fetch, [0, 12]],
  [API_KEY.ListOffsets, [0, 7]],
  [API_KEY.Metadata, [0, 12]],
]);

function run(command: string, args: string[], input: string): Promise<ProgramRun> {
  return runProgram(command, args, { input, timeoutMs: CLIENT_TIMEOUT_MS });
}

test('kcat (librdkafka 2.0.2): metadata and a gzip produce', { skip: !existsSync(KCAT) }, async () => {
  const broker = new FakeBroker({ advertised: ADVERTISED, topics: ['rdk'] });
  await broker.start();
  try {
    const list = await run(KCAT, ['-b', `127.0.0.1:${broker.port}`, '-L', '-J', '-t', 'rdk'], '');
    assert.equal(list.code, 0, list.stderr);
    const metadata = JSON.parse(list.stdout) as { brokers: Array<{ id: number }>; topics: Array<{ topic: string; partitions: unknown[] }> };
    assert.deepEqual(metadata.brokers.map((b) => b.id), [0]);
    assert.equal(metadata.topics[0].topic, 'rdk');
    assert.equal(metadata.topics[0].partitions.length, 1);

    const produce = await run(KCAT, ['-b', `127.0.0.1:${broker.port}`, '-P', '-t', 'rdk', '-p', '0', '-z', 'gzip', '-K', ':'], `k1:${'v'.repeat(2000)}\nk2:${'w'.repeat(2000)}\n`);
    assert.equal(produce.code, 0, produce.stderr);

    // Read back from the beginning to the end of the partition: ListOffsets, then Fetch.
    const consume = await run(KCAT, ['-b', `127.0.0.1:${broker.port}`, '-C', '-t', 'rdk', '-p', '0', '-o', 'beginning', '-e', '-J'], '');
    assert.equal(consume.code, 0, consume.stderr);
    const messages = consume.stdout.trim().split('\n').map((line) => JSON.parse(line) as { key: string; payload: string; offset: number });
    assert.deepEqual(messages.map((m) => [m.offset, m.key, m.payload.length]), [[0, 'k1', 2000], [1, 'k2', 2000]]);
  } finally {
    await broker.close();
  }
  const first = broker.captured[0];
  assert.deepEqual([first.apiKey, first.apiVersion], [API_KEY.ApiVersions, 3], 'librdkafka starts with ApiVersions v3');
  const metadataVersions = new Set(broker.captured.filter((c) => c.apiKey === API_KEY.Metadata).map((c) => c.apiVersion));
  assert.ok(metadataVersions.has(4), `Metadata versions ${[...metadataVersions]}`);
  const produce = broker.captured.find((c) => c.apiKey === API_KEY.Produce)!;
  assert.equal(produce.apiVersion, 7);
  const batch = (produce.body as ProduceRequest).topicData[0].partitionData[0].records!;
  assert.equal(batch.readInt8(16), 2, 'magic 2');
  assert.equal(batch.readInt16BE(21) & 0x07, 1, 'gzip: compression is on because Produce v0 is advertised');
  const fetchVersions = new Set(broker.captured.filter((c) => c.apiKey === API_KEY.Fetch).map((c) => c.apiVersion));
  assert.deepEqual([...fetchVersions], [11], 'librdkafka 2.0.2 fetches with v11');
});

test('kafka-python 2.0.2: version probe with ApiVersions v0 and a produce', { skip: !existsSync(PYTHON) }, async () => {
  const broker = new FakeBroker({ advertised: ADVERTISED, topics: ['py'] });
  await broker.start();
  const script = [
    'import sys',
    'from kafka import KafkaProducer',
    `p = KafkaProducer(bootstrap_servers='127.0.0.1:${broker.port}', acks=1, request_timeout_ms=10000, max_block_ms=10000)`,
    "p.send('py', key=b'k', value=b'v', partition=0).get(timeout=10)",
    'p.close(timeout=5)',
    'from kafka import KafkaConsumer, TopicPartition',
    `c = KafkaConsumer(bootstrap_servers='127.0.0.1:${broker.port}', group_id=None, auto_offset_reset='earliest', consumer_timeout_ms=3000)`,
    "c.assign([TopicPartition('py', 0)])",
    'got = [(m.offset, m.key, m.value) for m in c]',
    'c.close()',
    "assert got == [(0, b'k', b'v')], got",
    "print('ok')",
  ].join('\n');
  let result;
  try {
    result = await run(PYTHON, ['-c', script], '');
  } finally {
    await broker.close();
  }
  if (result.code !== 0 && /No module named 'kafka'/.test(result.stderr)) return; // not installed here
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stdout, /ok/);
  const versions = broker.captured.map((c) => `${c.apiKey}v${c.apiVersion}`);
  assert.equal(versions[0], '18v0', `kafka-python probes with ApiVersions v0: ${versions.join(' ')}`);
  const produce = broker.captured.find((c) => c.apiKey === API_KEY.Produce)!;
  assert.ok(produce, versions.join(' '));
  assert.equal((produce.body as ProduceRequest).topicData[0].name, 'py');
  assert.ok(broker.captured.some((c) => c.apiKey === API_KEY.Fetch && c.apiVersion === 4), `kafka-python fetches with v4: ${versions.join(' ')}`);
});

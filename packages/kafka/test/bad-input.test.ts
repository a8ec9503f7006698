import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, test } from 'node:test';
import kafkajs from 'kafkajs';
import { encodeRecordBatch } from '@strata/core';
import { API_KEY } from '../src/protocol/messages/index.js';
import { startKafkaServer, type KafkaTestServer } from './helpers/kafka-server.js';
import { RawClient } from './helpers/raw-client.js';

const FRAME_BYTES_MAX = 64 * 1024;
let server: KafkaTestServer;

before(async () => {
  server = await startKafkaServer({ config: { frameBytesMax: FRAME_BYTES_MAX, requestQueueMax: 8, requestQueueBytesMax: 4096 } });
});

after(async () => {
  await server?.close();
});

function frame(body: Buffer): Buffer {
  const size = Buffer.alloc(4);
  size.writeInt32BE(body.length);
  return Buffer.concat([size, body]);
}

const produceBody = (topic: string, records: Buffer | null, acks = 1) => ({
  transactionalId: null,
  acks,
  timeoutMs: 1000,
  topicData: [{ name: topic, partitionData: [{ index: 0, records }] }],
});

test('pipelined requests are answered in order; ApiVersions probes; acks=0 gets no response', async () => {
  const c = await RawClient.connect(server.port);
  try {
    // kafka-python's probe: ApiVersions v0 and Metadata v0 written together.
    c.send(Buffer.concat([RawClient.encode(API_KEY.ApiVersions, 0, 1, {}), RawClient.encode(API_KEY.Metadata, 0, 2, { topics: [] })]));
    const versions = await c.response(API_KEY.ApiVersions, 0);
    assert.equal(versions!.correlationId, 1);
    const keys = new Map((versions!.body.apiKeys as Array<{ apiKey: number; minVersion: number; maxVersion: number }>).map((k) => [k.apiKey, k]));
    assert.deepEqual([keys.get(API_KEY.Produce)!.minVersion, keys.get(API_KEY.Produce)!.maxVersion], [0, 9]);
    assert.deepEqual([keys.get(API_KEY.Fetch)!.minVersion, keys.get(API_KEY.Fetch)!.maxVersion], [0, 12]);
    assert.equal(keys.get(API_KEY.SaslHandshake), undefined, 'SASL is not advertised');
    const metadata = await c.response(API_KEY.Metadata, 0);
    assert.equal(metadata!.correlationId, 2);
    assert.equal(metadata!.body.brokers[0].port, server.port);

    // KIP-511: a too-new ApiVersions gets a v0 answer with UNSUPPORTED_VERSION and our range.
    const tooNew = Buffer.alloc(8 + 2 + 3);
    tooNew.writeInt16BE(API_KEY.ApiVersions, 0);
    tooNew.writeInt16BE(42, 2);
    tooNew.writeInt32BE(3, 4);
    tooNew.writeInt16BE(-1, 8);
    c.send(frame(tooNew));
    const downgraded = await c.response(API_KEY.ApiVersions, 0);
    assert.equal(downgraded!.correlationId, 3);
    assert.equal(downgraded!.body.errorCode, 35);
    assert.deepEqual(downgraded!.body.apiKeys, [{ apiKey: API_KEY.ApiVersions, minVersion: 0, maxVersion: 3 }]);

    // Produce v0-2 (old message sets) is advertised but refused per partition.
    c.request(API_KEY.Produce, 2, 4, produceBody('whatever', Buffer.alloc(10)));
    const old = await c.response(API_KEY.Produce, 2);
    assert.equal(old!.body.responses[0].partitionResponses[0].errorCode, 35);

    // acks=0: nothing comes back; the next request's answer does.
    await server.core.topics.create('persistent://public/default/raw', { partitions: 1 });
    const batch = encodeRecordBatch([{ key: null, value: Buffer.from('fire-and-forget'), headers: [], timestamp: Date.now() }]);
    c.request(API_KEY.Produce, 7, 5, produceBody('raw', batch, 0));
    c.request(API_KEY.ListGroups, 4, 6, { statesFilter: [] });
    const listed = await c.response(API_KEY.ListGroups, 4);
    assert.equal(listed!.correlationId, 6);
    assert.equal(server.core.offsets('persistent://public/default/raw', 0).highWatermark, 1);

    // A corrupt batch (bad CRC) is refused with CORRUPT_MESSAGE, the connection lives on.
    const corrupt = Buffer.from(batch);
    corrupt[corrupt.length - 1]! ^= 0xff;
    c.request(API_KEY.Produce, 7, 7, produceBody('raw', corrupt));
    const refused = await c.response(API_KEY.Produce, 7);
    assert.equal(refused!.body.responses[0].partitionResponses[0].errorCode, 2);
    c.request(API_KEY.Produce, 7, 8, produceBody('nope', batch));
    assert.equal((await c.response(API_KEY.Produce, 7))!.body.responses[0].partitionResponses[0].errorCode, 3);
    assert.equal(c.closed, false);
  } finally {
    c.close();
  }
});

test('bad input closes only the offending connection; others keep working; data intact', async () => {
  const kafka = new kafkajs.Kafka({ clientId: 'bystander', brokers: [server.bootstrap], logLevel: kafkajs.logLevel.NOTHING });
  const producer = kafka.producer();
  await producer.connect();
  await producer.send({ topic: 'intact', messages: [{ key: 'a', value: 'before' }] });

  const attacks: Array<[string, Buffer]> = [];
  const oversized = Buffer.alloc(4);
  oversized.writeInt32BE(FRAME_BYTES_MAX + 1);
  attacks.push(['oversized frame', oversized]);
  const negative = Buffer.alloc(4);
  negative.writeInt32BE(-5);
  attacks.push(['negative frame size', negative]);
  const unknownKey = Buffer.alloc(10);
  unknownKey.writeInt16BE(999, 0);
  attacks.push(['unknown api key', frame(unknownKey)]);
  attacks.push(['short header', frame(Buffer.from([0, 3]))]);
  // Metadata v1 whose topic array claims 2^31-1 entries.
  const hugeArray = Buffer.from(RawClient.encode(API_KEY.Metadata, 1, 1, { topics: [] }));
  hugeArray.writeInt32BE(0x7fffffff, hugeArray.length - 4);
  attacks.push(['impossible array length', hugeArray]);
  // Produce v3 with a records length far past the frame.
  const hugeRecords = Buffer.from(RawClient.encode(API_KEY.Produce, 3, 1, produceBody('intact', Buffer.alloc(16))));
  hugeRecords.writeInt32BE(0x7ffffff0, hugeRecords.length - 20);
  attacks.push(['records longer than the frame', hugeRecords]);
  for (let i = 0; i < 20; i++) {
    const garbage = randomBytes(8 + (i * 37) % 200);
    garbage.writeInt16BE(i % 2 === 0 ? API_KEY.Metadata : API_KEY.Produce, 0);
    garbage.writeInt16BE(i % 8, 2);
    attacks.push([`garbage ${i}`, frame(garbage)]);
  }

  for (const [name, bytes] of attacks) {
    const c = await RawClient.connect(server.port);
    c.send(bytes);
    if (name.startsWith('garbage')) {
      // Random bytes may happen to decode; then we get an answer. Either way: no crash, no hang.
      const answer = await c.nextFrame(2_000);
      assert.ok(answer !== null || c.closed, name);
    } else {
      assert.ok(await c.closedWithin(2_000), `${name}: connection closed`);
    }
    c.close();
  }

  // A truncated frame followed by the client going away.
  const t = await RawClient.connect(server.port);
  const truncated = RawClient.encode(API_KEY.Metadata, 1, 1, { topics: null });
  t.send(truncated.subarray(0, truncated.length - 3));
  t.socket.end();
  assert.ok(await t.closedWithin(2_000));

  await producer.send({ topic: 'intact', messages: [{ key: 'b', value: 'after' }] });
  await producer.disconnect();
  const read = await server.core.read('persistent://public/default/intact', 0, { offset: 0, maxBytes: 1 << 20 });
  assert.equal(read.highWatermark, 2);
  assert.equal(read.entries.length, 2);
});

test('a slow reader is bounded by the request queue, not by memory', async () => {
  const c = await RawClient.connect(server.port);
  try {
    c.socket.pause(); // read nothing back
    const burst: Buffer[] = [];
    for (let i = 0; i < 500; i++) burst.push(RawClient.encode(API_KEY.ApiVersions, 0, i, {}));
    c.send(Buffer.concat(burst));
    await new Promise((resolve) => setTimeout(resolve, 200));
    c.socket.resume();
    let n = 0;
    while (n < 500) {
      const r = await c.response(API_KEY.ApiVersions, 0);
      assert.ok(r, `response ${n}`);
      assert.equal(r.correlationId, n);
      n++;
    }
  } finally {
    c.close();
  }
});

// Live check of the flexible encodings with @platformatic/kafka, a client that speaks only modern
// (flexible) versions: ApiVersions v3, Metadata v12, Produce v9 against a FakeBroker built from our codecs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Producer, stringSerializers } from '@platformatic/kafka';
import { API_KEY } from '../../src/protocol/messages/index.js';
import type { ApiVersionsRequest, MetadataRequest, ProduceRequest } from '../../src/protocol/messages/index.js';
import { FakeBroker } from './fake-broker.js';

test('@platformatic/kafka producer against codec-built responses: ApiVersions v3, Metadata v12, Produce v9', async () => {
  const broker = new FakeBroker({
    advertised: new Map([
      [API_KEY.Produce, [0, 9]],
      [API_KEY.Metadata, [0, 12]],
    ]),
    topics: ['flex'],
  });
  await broker.start();
  const producer = new Producer({
    clientId: 'flex-client',
    bootstrapBrokers: [`127.0.0.1:${broker.port}`],
    serializers: stringSerializers,
    idempotent: false,
    autocreateTopics: false,
    retries: 0,
  });
  try {
    await producer.send({
      messages: [{ topic: 'flex', partition: 0, key: 'k', value: 'v', headers: { h: 'x' } }],
      acks: -1,
    });
  } finally {
    await producer.close();
    await broker.close();
  }

  if (process.env.CAPTURE_FIXTURES) for (const c of broker.captured) console.log(`api ${c.apiKey} v${c.apiVersion}: ${c.frame.toString("hex")}`);
  const apiVersions = broker.captured.filter((c) => c.apiKey === API_KEY.ApiVersions);
  const metadata = broker.captured.find((c) => c.apiKey === API_KEY.Metadata)!;
  const produce = broker.captured.find((c) => c.apiKey === API_KEY.Produce)!;
  const lastApiVersions = apiVersions[apiVersions.length - 1];
  assert.equal(lastApiVersions.apiVersion, 3);
  const hello = lastApiVersions.body as ApiVersionsRequest;
  assert.ok(hello.clientSoftwareName.length > 0, 'v3 carries the client software name');
  assert.equal(metadata.apiVersion, 12);
  assert.deepEqual((metadata.body as MetadataRequest).topics?.map((t) => t.name), ['flex']);
  assert.equal(produce.apiVersion, 9);
  const request = produce.body as ProduceRequest;
  assert.equal(request.acks, -1);
  assert.equal(request.topicData[0].name, 'flex');
  const batch = request.topicData[0].partitionData[0].records!;
  assert.equal(batch.readInt8(16), 2, 'magic 2 record batch');
  assert.equal(batch.readInt32BE(57), 1, 'one record');
});

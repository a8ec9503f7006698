// Live check with a real client: kafkajs 2.2.4 talks to a FakeBroker made of our codecs. It must accept
// our ApiVersions/Metadata/Produce responses, and its requests must decode to what it meant to send.
// Set CAPTURE_FIXTURES=1 to print the frames as hex for fixtures/kafkajs-requests.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import kafkajs from 'kafkajs';
import { API_KEY } from '../../src/protocol/messages/index.js';
import type { ProduceRequest } from '../../src/protocol/messages/index.js';
import { FakeBroker } from './fake-broker.js';
import { kafkajsRequests } from './fixtures/kafkajs-requests.js';

const { Kafka, logLevel } = kafkajs;

test('kafkajs producer against codec-built responses: ApiVersions v2, Metadata v1, Produce v3', async () => {
  const broker = new FakeBroker({
    advertised: new Map([
      [API_KEY.Produce, [0, 3]],
      [API_KEY.Metadata, [0, 1]],
    ]),
    topics: ['golden'],
  });
  await broker.start();
  const kafka = new Kafka({ clientId: 'golden-client', brokers: [`127.0.0.1:${broker.port}`], logLevel: logLevel.NOTHING, retry: { retries: 0 } });
  const producer = kafka.producer({ allowAutoTopicCreation: false });
  try {
    await producer.connect();
    await producer.send({
      topic: 'golden',
      acks: -1,
      timeout: 30000,
      messages: [
        { key: 'k1', value: 'v1', headers: { h: '1' } },
        { key: null, value: 'v2' },
      ],
    });
  } finally {
    await producer.disconnect();
    await broker.close();
  }

  if (process.env.CAPTURE_FIXTURES) {
    for (const c of broker.captured) console.log(`api ${c.apiKey} v${c.apiVersion}: '${c.frame.toString('hex')}'`);
  }
  const versions = broker.captured.map((c) => [c.apiKey, c.apiVersion]);
  assert.deepEqual(versions.slice(0, 1), [[API_KEY.ApiVersions, 2]]);
  const apiVersions = broker.captured.find((c) => c.apiKey === API_KEY.ApiVersions)!;
  const metadata = broker.captured.find((c) => c.apiKey === API_KEY.Metadata)!;
  const produce = broker.captured.find((c) => c.apiKey === API_KEY.Produce)!;
  assert.equal(metadata.apiVersion, 1);
  assert.equal(produce.apiVersion, 3);
  // The handshake requests do not vary between runs: byte-identical to the stored capture.
  assert.equal(apiVersions.frame.toString('hex'), kafkajsRequests.apiVersionsV2);
  assert.equal(metadata.frame.subarray(8).toString('hex'), Buffer.from(kafkajsRequests.metadataV1, 'hex').subarray(8).toString('hex'));

  const request = produce.body as ProduceRequest;
  assert.equal(request.transactionalId, null);
  assert.equal(request.acks, -1);
  assert.equal(request.timeoutMs, 30000);
  assert.equal(request.topicData.length, 1);
  assert.equal(request.topicData[0].name, 'golden');
  assert.equal(request.topicData[0].partitionData[0].index, 0);
  const batch = request.topicData[0].partitionData[0].records!;
  assert.equal(batch.readInt8(16), 2, 'magic 2 record batch');
  assert.equal(batch.readInt32BE(8), batch.length - 12, 'batch length covers the rest of the records field');
  assert.equal(batch.readInt32BE(57), 2, 'two records');
});

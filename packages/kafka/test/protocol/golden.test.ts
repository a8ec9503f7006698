// Golden bytes: requests as real clients send them (hand-built from docs/protocol.html, and captured
// from kafkajs), and responses whose exact encoding clients depend on (kafka.md §2.3).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { API_KEY, apis } from '../../src/protocol/messages/index.js';
import type { MetadataRequest, ProduceRequest } from '../../src/protocol/messages/index.js';
import { Reader } from '../../src/protocol/reader.js';
import {
  decodeRequestHeader,
  encodeRequestHeader,
  encodeResponseHeader,
  requestHeaderVersion,
  responseHeaderVersion,
} from '../../src/protocol/request-header.js';
import { Writer } from '../../src/protocol/writer.js';
import { KafkaEncodeError } from '../../src/protocol/errors.js';
import { kafkajsRequests } from './fixtures/kafkajs-requests.js';

const hex = (text: string) => Buffer.from(text.replace(/\s+/g, ''), 'hex');

function written(write: (w: Writer) => void): string {
  const w = new Writer();
  write(w);
  return w.finish().toString('hex');
}

test('ApiVersions v0 request as kafka-python probes (header v1, empty body)', () => {
  const r = new Reader(hex('0012 0000 00000007 000c 6b61666b612d707974686f6e'));
  assert.deepEqual(decodeRequestHeader(r), { apiKey: 18, apiVersion: 0, correlationId: 7, clientId: 'kafka-python' });
  assert.deepEqual(apis.ApiVersions.versions.get(0)!.decodeRequest(r), { clientSoftwareName: '', clientSoftwareVersion: '' });
  assert.equal(r.remaining(), 0);
});

test('ApiVersions v3 request as librdkafka sends it (header v2 keeps an int16 client id)', () => {
  const bytes = hex('0012 0003 00000001 0007 72646b61666b61 00' + '0b 6c696272646b61666b61 06 322e302e32 00');
  const r = new Reader(bytes);
  assert.deepEqual(decodeRequestHeader(r), { apiKey: 18, apiVersion: 3, correlationId: 1, clientId: 'rdkafka' });
  assert.deepEqual(apis.ApiVersions.versions.get(3)!.decodeRequest(r), { clientSoftwareName: 'librdkafka', clientSoftwareVersion: '2.0.2' });
  assert.equal(r.remaining(), 0);
  // And back: our header + body encoders write exactly these bytes.
  assert.equal(
    written((w) => {
      encodeRequestHeader(w, { apiKey: 18, apiVersion: 3, correlationId: 1, clientId: 'rdkafka' });
      apis.ApiVersions.versions.get(3)!.encodeRequest(w, { clientSoftwareName: 'librdkafka', clientSoftwareVersion: '2.0.2' });
    }),
    bytes.toString('hex'),
  );
});

test('unknown tagged fields are skipped, in the header and in the body', () => {
  const r = new Reader(hex('0012 0003 00000001 ffff 01 6302abcd  02 61 02 62 02 0a 01 00 05 02 0203'));
  const header = decodeRequestHeader(r);
  assert.equal(header.clientId, null);
  const body = apis.ApiVersions.versions.get(3)!.decodeRequest(r);
  assert.deepEqual(body, { clientSoftwareName: 'a', clientSoftwareVersion: 'b' });
  assert.equal(r.remaining(), 0);
});

test('ApiVersions v3 response: compact array N+1, tagged fields last, response header v0', () => {
  const body = written((w) => {
    encodeResponseHeader(w, 5, responseHeaderVersion(API_KEY.ApiVersions, 3));
    apis.ApiVersions.versions.get(3)!.encodeResponse(w, {
      apiKeys: [
        { apiKey: 0, minVersion: 0, maxVersion: 9 },
        { apiKey: 18, minVersion: 0, maxVersion: 3 },
      ],
    });
  });
  assert.equal(body, '00000005' + '0000' + '03' + '0000000000090' + '0' + '0012000000030' + '0' + '00000000' + '00');
  // A tagged field: FinalizedFeaturesEpoch (tag 1, int64) = 5.
  const tagged = written((w) => apis.ApiVersions.versions.get(3)!.encodeResponse(w, { finalizedFeaturesEpoch: 5 }));
  assert.equal(tagged, '0000' + '01' + '00000000' + '01' + '01' + '08' + '0000000000000005');
  const decoded = apis.ApiVersions.versions.get(3)!.decodeResponse(new Reader(hex(tagged)));
  assert.equal(decoded.finalizedFeaturesEpoch, 5);
  assert.equal(decoded.zkMigrationReady, false);
});

test('ApiVersions v0 error response (KIP-511 downgrade) and v1 adds throttle time', () => {
  const apiKeys = [{ apiKey: 18, minVersion: 0, maxVersion: 3 }];
  assert.equal(written((w) => apis.ApiVersions.versions.get(0)!.encodeResponse(w, { errorCode: 35, apiKeys })), '0023' + '00000001' + '001200000003');
  assert.equal(written((w) => apis.ApiVersions.versions.get(1)!.encodeResponse(w, { apiKeys, throttleTimeMs: 1 })), '0000' + '00000001' + '001200000003' + '00000001');
});

test('header versions: flexible APIs use request header v2 / response header v1, ApiVersions always v0', () => {
  assert.equal(requestHeaderVersion(API_KEY.Metadata, 8), 1);
  assert.equal(requestHeaderVersion(API_KEY.Metadata, 9), 2);
  assert.equal(requestHeaderVersion(API_KEY.Metadata, 13), 2, 'newer than we know, still flexible');
  assert.equal(requestHeaderVersion(API_KEY.SaslHandshake, 1), 1, 'never flexible');
  assert.equal(requestHeaderVersion(1000, 5), 1, 'unknown API key');
  assert.equal(responseHeaderVersion(API_KEY.ApiVersions, 3), 0);
  assert.equal(responseHeaderVersion(API_KEY.Fetch, 12), 1);
  assert.equal(responseHeaderVersion(API_KEY.Fetch, 11), 0);
  assert.equal(written((w) => encodeResponseHeader(w, 258, 1)), '0000010200');
  assert.equal(written((w) => encodeResponseHeader(w, 258, 0)), '00000102');
});

test('Metadata requests: v0 empty list, v1 null = all topics, v9 flexible', () => {
  assert.deepEqual(apis.Metadata.versions.get(0)!.decodeRequest(new Reader(hex('00000000'))).topics, []);
  assert.equal(apis.Metadata.versions.get(1)!.decodeRequest(new Reader(hex('ffffffff'))).topics, null);
  const v4: MetadataRequest = apis.Metadata.versions.get(4)!.decodeRequest(new Reader(hex('00000001 0001 74 00')));
  assert.deepEqual(v4.topics, [{ name: 't', topicId: Buffer.alloc(16) }]);
  assert.equal(v4.allowAutoTopicCreation, false);
  const v9 = apis.Metadata.versions.get(9)!.decodeRequest(new Reader(hex('00 01 00 00 00')));
  assert.equal(v9.topics, null);
  assert.equal(v9.allowAutoTopicCreation, true);
  // v1 defaults allowAutoTopicCreation to true (JSON default), although v1 cannot carry it.
  assert.equal(apis.Metadata.versions.get(1)!.decodeRequest(new Reader(hex('ffffffff'))).allowAutoTopicCreation, true);
});

test('kafkajs captures: ApiVersions v2, Metadata v1, Produce v3', () => {
  let r = new Reader(hex(kafkajsRequests.apiVersionsV2));
  assert.deepEqual(decodeRequestHeader(r), { apiKey: 18, apiVersion: 2, correlationId: 0, clientId: 'golden-client' });
  assert.equal(r.remaining(), 0);

  r = new Reader(hex(kafkajsRequests.metadataV1));
  assert.equal(decodeRequestHeader(r).apiKey, API_KEY.Metadata);
  assert.deepEqual(apis.Metadata.versions.get(1)!.decodeRequest(r).topics, [{ name: 'golden', topicId: Buffer.alloc(16) }]);

  r = new Reader(hex(kafkajsRequests.produceV3));
  assert.deepEqual(decodeRequestHeader(r), { apiKey: 0, apiVersion: 3, correlationId: 2, clientId: 'golden-client' });
  const produce: ProduceRequest = apis.Produce.versions.get(3)!.decodeRequest(r);
  assert.equal(r.remaining(), 0);
  assert.equal(produce.transactionalId, null);
  assert.equal(produce.acks, -1);
  assert.equal(produce.timeoutMs, 30000);
  const records = produce.topicData[0].partitionData[0].records!;
  assert.equal(records.length, 0x55);
  assert.equal(records.readInt8(16), 2, 'magic');
  assert.equal(records.readInt32BE(57), 2, 'record count');
  // Re-encoding reproduces kafkajs's body byte for byte.
  const bodyStart = 2 + 2 + 4 + 2 + 'golden-client'.length;
  assert.equal(written((w) => apis.Produce.versions.get(3)!.encodeRequest(w, produce)), hex(kafkajsRequests.produceV3).subarray(bodyStart).toString('hex'));
});

test('Produce v9 request (flexible): compact strings, compact records, tagged fields per struct', () => {
  const records = hex('00112233');
  const bytes = written((w) =>
    apis.Produce.versions.get(9)!.encodeRequest(w, {
      transactionalId: null,
      acks: 1,
      timeoutMs: 1000,
      topicData: [{ name: 't', partitionData: [{ index: 2, records }] }],
    }),
  );
  assert.equal(bytes, '00' + '0001' + '000003e8' + '02' + '0274' + '02' + '00000002' + '05' + '00112233' + '00' + '00' + '00');
});

test('request encoders refuse a non-ignorable field the version cannot carry (README "Ignorable Fields")', () => {
  const refused = (error: unknown) => error instanceof KafkaEncodeError && error.code === 'unsupportedField';
  const metadata = { topics: null, allowAutoTopicCreation: false, includeClusterAuthorizedOperations: false, includeTopicAuthorizedOperations: false };
  assert.throws(() => apis.Metadata.versions.get(3)!.encodeRequest(new Writer(), metadata), refused);
  assert.doesNotThrow(() => apis.Metadata.versions.get(4)!.encodeRequest(new Writer(), metadata));
  const produce = { transactionalId: 'tx', acks: 1, timeoutMs: 1, topicData: [] };
  assert.throws(() => apis.Produce.versions.get(2)!.encodeRequest(new Writer(), produce), refused);
  assert.doesNotThrow(() => apis.Produce.versions.get(3)!.encodeRequest(new Writer(), produce));
  // Responses are built version-independently: fields a version lacks are simply not written.
  assert.equal(written((w) => apis.ApiVersions.versions.get(0)!.encodeResponse(w, { throttleTimeMs: 100 })), '0000' + '00000000');
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { messageCodecs, API_KEY } from '../../src/protocol/messages/index.js';
import { Reader } from '../../src/protocol/reader.js';
import { Writer } from '../../src/protocol/writer.js';
import { messageSchemas } from './generated/message-schemas.js';
import { defaultStruct, sampleStruct, seededRandom } from './samples.js';

const SAMPLES_PER_VERSION = 8;

test('every listed API is generated with its agreed version range', () => {
  const expected: Record<string, [number, number]> = {
    ApiVersions: [0, 3], Metadata: [0, 12], Produce: [0, 9], Fetch: [0, 12], ListOffsets: [0, 7],
    FindCoordinator: [0, 4], JoinGroup: [0, 9], SyncGroup: [0, 5], Heartbeat: [0, 4], LeaveGroup: [0, 5],
    OffsetCommit: [0, 8], OffsetFetch: [0, 8], DescribeGroups: [0, 5], ListGroups: [0, 4], DeleteGroups: [0, 2],
    CreateTopics: [0, 7], DeleteTopics: [0, 6], DeleteRecords: [0, 2], CreatePartitions: [0, 3],
    DescribeConfigs: [0, 4], AlterConfigs: [0, 2], IncrementalAlterConfigs: [0, 1], InitProducerId: [0, 4],
    OffsetForLeaderEpoch: [0, 4], DescribeCluster: [0, 1], SaslHandshake: [0, 1], SaslAuthenticate: [0, 2],
    OffsetDelete: [0, 0], DescribeProducers: [0, 0], AddPartitionsToTxn: [0, 3], AddOffsetsToTxn: [0, 3], EndTxn: [0, 3],
    TxnOffsetCommit: [0, 3], DescribeAcls: [0, 3], CreateAcls: [0, 3], DeleteAcls: [0, 3],
    DescribeTransactions: [0, 0], ListTransactions: [0, 1],
  };
  assert.equal(messageCodecs.size, Object.keys(expected).length);
  for (const [name, [min, max]] of Object.entries(expected)) {
    const codecs = messageCodecs.get(API_KEY[name as keyof typeof API_KEY]);
    assert.ok(codecs, name);
    assert.equal(codecs.name, name);
    assert.equal(codecs.minVersion, min, name);
    assert.equal(codecs.maxVersion, max, name);
    for (let v = min; v <= max; v++) assert.ok(codecs.versions.get(v), `${name} v${v}`);
  }
  // Flexible starts (kafka.md §2.2).
  const flexible: Record<string, number> = { Produce: 9, Fetch: 12, Metadata: 9, ApiVersions: 3, OffsetFetch: 6, SaslHandshake: Infinity, DescribeCluster: 0 };
  for (const [name, first] of Object.entries(flexible)) {
    assert.equal(messageCodecs.get(API_KEY[name as keyof typeof API_KEY])!.flexibleMinVersion, first, name);
  }
  assert.deepEqual(
    [API_KEY.Produce, API_KEY.Fetch, API_KEY.Metadata, API_KEY.ApiVersions, API_KEY.SaslAuthenticate, API_KEY.DescribeProducers],
    [0, 1, 3, 18, 36, 61],
  );
});

for (const schema of messageSchemas) {
  test(`${schema.api}: request and response round trip in every version`, () => {
    const codecs = messageCodecs.get(schema.apiKey)!;
    const random = seededRandom(schema.apiKey * 1000 + 7);
    for (let v = schema.minVersion; v <= schema.maxVersion; v++) {
      const version = codecs.versions.get(v)!;
      for (let i = 0; i < SAMPLES_PER_VERSION; i++) {
        for (const side of ['request', 'response'] as const) {
          const sample = sampleStruct(schema[side], v, random);
          const w = new Writer(32);
          if (side === 'request') version.encodeRequest(w, sample);
          else version.encodeResponse(w, sample);
          const bytes = Buffer.from(w.finish());
          const r = new Reader(bytes);
          const decoded = side === 'request' ? version.decodeRequest(r) : version.decodeResponse(r);
          assert.equal(r.remaining(), 0, `${schema.api} v${v} ${side}: whole body consumed`);
          assert.deepEqual(decoded, sample, `${schema.api} v${v} ${side} sample ${i}`);
          const again = new Writer(32);
          if (side === 'request') version.encodeRequest(again, decoded);
          else version.encodeResponse(again, decoded);
          assert.deepEqual(again.finish(), bytes, `${schema.api} v${v} ${side}: re-encoding is byte-identical`);
        }
      }
    }
  });

  test(`${schema.api}: an empty response object encodes as all defaults`, () => {
    const codecs = messageCodecs.get(schema.apiKey)!;
    for (let v = schema.minVersion; v <= schema.maxVersion; v++) {
      const version = codecs.versions.get(v)!;
      const w = new Writer();
      version.encodeResponse(w, {});
      const r = new Reader(w.finish());
      assert.deepEqual(version.decodeResponse(r), defaultStruct(schema.response), `${schema.api} v${v}`);
      assert.equal(r.remaining(), 0);
    }
  });
}

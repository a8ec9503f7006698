import { seededRandom } from '../src/random.js';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { test } from 'node:test';
import { crc32cRange, crc32cRangeTable, nativeCrc32cLoaded } from '../src/record-batch/crc32c.js';
import zlib from 'node:zlib';
import * as snappy from 'snappy';
import { isStrataError } from '../src/errors.js';
import type { Message } from '../src/message.js';
import {
  crc32c,
  decodeRecordBatch,
  encodeRecordBatch,
  readBatchHeader,
  RECORD_BATCH_HEADER_BYTES,
  setBaseOffset,
  splitBatches,
  verifyBatchCrc,
} from '../src/record-batch/index.js';
import type { CompressionType } from '../src/core.js';
import { readInt64, writeInt32, writeInt64 } from '../src/record-batch/varint.js';

const require = createRequire(import.meta.url);
/* eslint-disable @typescript-eslint/no-explicit-any */
const kafkajs = require('kafkajs') as any;
const kafkajsRecordBatch = (require('kafkajs/src/protocol/recordBatch/v0/index.js') as { RecordBatch: (options: any) => Promise<any> }).RecordBatch;
const kafkajsRecord = require('kafkajs/src/protocol/recordBatch/record/v0/index.js') as (options: any) => any;
const kafkajsBatchDecoder = require('kafkajs/src/protocol/recordBatch/v0/decoder.js') as (decoder: any) => Promise<any>;
const KafkajsDecoder = require('kafkajs/src/protocol/decoder.js') as new (buffer: Buffer) => any;
const kafkajsCrc32c = require('kafkajs/src/protocol/recordBatch/crc32C/index.js') as (buffer: Buffer) => number;
const KafkajsLong = require('kafkajs/src/utils/long.js') as { fromNumber(value: number): unknown };
const Lz4Codec = require('kafkajs-lz4') as any;
const SnappyCodec = require('kafkajs-snappy') as any;
kafkajs.CompressionCodecs[kafkajs.CompressionTypes.LZ4] = new (Lz4Codec.default ?? Lz4Codec)().codec;
kafkajs.CompressionCodecs[kafkajs.CompressionTypes.Snappy] = SnappyCodec;

const COMPRESSIONS: readonly CompressionType[] = ['none', 'gzip', 'snappy', 'lz4', 'zstd'];
const KAFKAJS_CODES: Readonly<Record<string, number>> = { none: 0, gzip: 1, snappy: 2, lz4: 3 };

function message(key: string | null, value: string | null, timestamp: number, headers: Record<string, string | null> = {}): Message {
  return {
    key: key === null ? null : Buffer.from(key),
    value: value === null ? null : Buffer.from(value),
    headers: Object.entries(headers).map(([k, v]) => ({ key: k, value: v === null ? null : Buffer.from(v) })),
    timestamp,
  };
}

function plain(messages: readonly Message[]) {
  return messages.map((m) => ({
    key: m.key?.toString('latin1') ?? null,
    value: m.value?.toString('latin1') ?? null,
    headers: m.headers.map((h) => [h.key, h.value?.toString('latin1') ?? null]),
    timestamp: m.timestamp,
  }));
}

test('crc32c matches the known check value and RFC 3720 vectors', () => {
  assert.equal(crc32c(Buffer.from('123456789')), 0xe3069283);
  assert.equal(crc32c(Buffer.alloc(0)), 0);
  assert.equal(crc32c(Buffer.alloc(32, 0)), 0x8a9136aa); // RFC 3720 B.4: 32 bytes of zeros
  assert.equal(crc32c(Buffer.alloc(32, 0xff)), 0x62a8ab43); // RFC 3720 B.4: 32 bytes of 0xff
  const ascending = Buffer.from(Array.from({ length: 32 }, (_, i) => i));
  assert.equal(crc32c(ascending), 0x46dd794e);
  // Every length 0..100 and unaligned starts agree with kafkajs's independent byte-wise table.
  const random = Buffer.from(Array.from({ length: 101 }, (_, i) => (i * 131 + 7) & 0xff));
  for (let start = 0; start < 9; start++) {
    for (let end = start; end <= random.length; end++) {
      const slice = random.subarray(start, end);
      assert.equal(crc32c(slice), kafkajsCrc32c(slice) >>> 0, `crc of [${start}, ${end})`);
    }
  }
});

test('golden bytes: the encoder produces a batch built by hand from the spec', () => {
  const messages = [message('k', 'v', 1000, { h: 'x' }), message(null, null, 999)];
  const recordOne = '18' + '00' + '00' + '00' + '026b' + '0276' + '02' + '0268' + '0278'; // length 12
  const recordTwo = '0c' + '00' + '01' + '02' + '01' + '01' + '00'; // length 6; ts delta -1, key/value null
  const afterCrc =
    '0000' + // attributes
    '00000001' + // lastOffsetDelta
    '00000000000003e8' + // baseTimestamp 1000
    '00000000000003e8' + // maxTimestamp 1000
    'ffffffffffffffff' + // producerId -1
    'ffff' + // producerEpoch -1
    'ffffffff' + // baseSequence -1
    '00000002' + // record count
    recordOne +
    recordTwo;
  const afterCrcBytes = Buffer.from(afterCrc, 'hex');
  const crc = kafkajsCrc32c(afterCrcBytes) >>> 0;
  const batchLength = 4 + 1 + 4 + afterCrcBytes.length;
  const expected = Buffer.concat([
    Buffer.from('0000000000000005', 'hex'),
    Buffer.from(batchLength.toString(16).padStart(8, '0'), 'hex'),
    Buffer.from('ffffffff02', 'hex'),
    Buffer.from(crc.toString(16).padStart(8, '0'), 'hex'),
    afterCrcBytes,
  ]);
  const encoded = encodeRecordBatch(messages, { baseOffset: 5 });
  assert.equal(encoded.toString('hex'), expected.toString('hex'));
  assert.ok(verifyBatchCrc(encoded));
});

test('header fields, producer identity and flags round-trip', () => {
  const batch = encodeRecordBatch([message('a', 'b', 1_700_000_000_123), message('c', 'd', 1_700_000_000_456)], {
    baseOffset: 2 ** 40 + 3,
    compression: 'gzip',
    producer: { producerId: 2 ** 35 + 1, producerEpoch: 7, baseSequence: 42 },
  });
  const header = readBatchHeader(batch);
  assert.equal(header.baseOffset, 2 ** 40 + 3);
  assert.equal(header.batchLength, batch.length - 12);
  assert.equal(header.magic, 2);
  assert.equal(header.compression, 'gzip');
  assert.equal(header.lastOffsetDelta, 1);
  assert.equal(header.recordCount, 2);
  assert.equal(header.baseTimestamp, 1_700_000_000_123);
  assert.equal(header.maxTimestamp, 1_700_000_000_456);
  assert.equal(header.producerId, 2 ** 35 + 1);
  assert.equal(header.producerEpoch, 7);
  assert.equal(header.baseSequence, 42);
  assert.equal(header.timestampType, 'create');
  assert.equal(header.isTransactional, false);
  assert.equal(header.isControl, false);
  const decoded = decodeRecordBatch(batch);
  assert.deepEqual(decoded.messages.map((m) => m.offset), [2 ** 40 + 3, 2 ** 40 + 4]);
});

test('every compression round-trips keys, values, null fields, headers, unicode and negative deltas', () => {
  const messages: Message[] = [
    message('key-1', 'value-1', 5000, { a: '1', 'ü-ñ': 'ß', empty: '', nul: null }),
    message(null, 'no key', 4000),
    message('tomb', null, 7_000_000_000_000),
    message('', '', 5000),
    { key: Buffer.alloc(300, 1), value: Buffer.alloc(70_000, 7), headers: [], timestamp: 5001 },
  ];
  for (const compression of COMPRESSIONS) {
    const batch = encodeRecordBatch(messages, { compression, baseOffset: 100 });
    assert.ok(verifyBatchCrc(batch), compression);
    const { header, messages: decoded } = decodeRecordBatch(batch);
    assert.equal(header.compression, compression);
    assert.deepEqual(plain(decoded), plain(messages), compression);
    assert.deepEqual(decoded.map((m) => m.offset), [100, 101, 102, 103, 104]);
  }
});

test('header keys repeated, changed, reordered, unicode and long from record to record round-trip', () => {
  // The codec reuses a key seen at the same index in the previous record; every kind of change must
  // still come out exactly as it went in.
  const long = 'k'.repeat(100);
  const messages: Message[] = [
    message('a', '1', 1, { 'mqtt.topic': 'x', 'mqtt.qos': '1', [long]: 'l' }),
    message('b', '2', 2, { 'mqtt.topic': 'y', 'mqtt.qos': '0', [long]: 'm' }),
    message('c', '3', 3, { 'mqtt.qos': '1', 'mqtt.topic': 'z' }), // swapped
    message('d', '4', 4, { 'mqtt.qoX': '1', 'mqtt.topiX': 'z' }), // same lengths, other bytes
    message('e', '5', 5, { 'ü-ñ': 'u', 'ü-ñ2': 'v', ['k'.repeat(99) + 'j']: 'w' }),
    message('f', '6', 6, { 'ü-ñ': 'u' }),
    message('g', '7', 7),
    message('h', '8', 8, { 'ü-ñ': 'u', '': 'empty key', '\ud800': 'lone surrogate' }),
    message('i', '9', 9, { 'ü-ñ': 'u', '': 'empty key', '\ud800': 'lone surrogate' }),
  ];
  const expected = plain(messages).map((m) => ({ ...m, headers: m.headers.map(([k, v]) => [Buffer.from(k!).toString('utf8'), v]) }));
  for (const compression of COMPRESSIONS) {
    const batch = encodeRecordBatch(messages, { compression });
    assert.ok(verifyBatchCrc(batch), compression);
    assert.deepEqual(plain(decodeRecordBatch(batch).messages), expected, compression);
  }
});

test('a non-integer timestamp is INVALID_ARGUMENT, not a crash', () => {
  for (const timestamp of [Number.NaN, 1.5, Infinity]) {
    assert.throws(() => encodeRecordBatch([{ key: null, value: null, headers: [], timestamp }]), (e) => isStrataError(e, 'INVALID_ARGUMENT'));
  }
});

test('empty batch encodes and decodes', () => {
  const batch = encodeRecordBatch([]);
  assert.equal(batch.length, RECORD_BATCH_HEADER_BYTES);
  const decoded = decodeRecordBatch(batch);
  assert.equal(decoded.messages.length, 0);
});

test('offset gaps (compaction) and log-append time', () => {
  const batch = encodeRecordBatch([message('a', '1', 10), message('b', '2', 20)], {
    baseOffset: 50,
    offsetDeltas: [1, 4],
    lastOffsetDelta: 6,
    timestampType: 'logAppend',
  });
  const { header, messages } = decodeRecordBatch(batch);
  assert.equal(header.lastOffsetDelta, 6);
  assert.equal(header.timestampType, 'logAppend');
  assert.deepEqual(messages.map((m) => m.offset), [51, 54]);
  assert.deepEqual(messages.map((m) => m.timestamp), [20, 20]); // LogAppendTime: maxTimestamp for every record
});

test('setBaseOffset patches in place without breaking the CRC; splitBatches splits views', () => {
  const one = encodeRecordBatch([message('a', '1', 1)], { compression: 'lz4' });
  const two = encodeRecordBatch([message('b', '2', 2), message('c', '3', 3)]);
  const joined = Buffer.concat([one, two]);
  const parts = splitBatches(joined);
  assert.equal(parts.length, 2);
  setBaseOffset(parts[1]!, 1);
  assert.equal(joined.readBigInt64BE(one.length), 1n); // a view, not a copy
  assert.ok(verifyBatchCrc(parts[0]!) && verifyBatchCrc(parts[1]!));
  assert.deepEqual(decodeRecordBatch(parts[1]!).messages.map((m) => m.offset), [1, 2]);
  assert.deepEqual(splitBatches(Buffer.alloc(0)), []);
  assert.throws(() => splitBatches(joined.subarray(0, joined.length - 1)), (e) => isStrataError(e, 'CORRUPT_BATCH'));
  assert.throws(() => setBaseOffset(parts[0]!, -1));
  const flipped = Buffer.from(one);
  flipped[flipped.length - 1]! ^= 1;
  assert.equal(verifyBatchCrc(flipped), false);
});

test('bad headers: magic, lengths, codec', () => {
  const batch = encodeRecordBatch([message('a', '1', 1)]);
  const badMagic = Buffer.from(batch);
  badMagic[16] = 1;
  assert.throws(() => readBatchHeader(badMagic), (e) => isStrataError(e, 'CORRUPT_BATCH'));
  const badCodec = Buffer.from(batch);
  badCodec.writeInt16BE(7, 21);
  assert.throws(() => readBatchHeader(badCodec), (e) => isStrataError(e, 'UNSUPPORTED_COMPRESSION'));
  const shortLength = Buffer.from(batch);
  shortLength.writeInt32BE(10, 8);
  assert.throws(() => splitBatches(shortLength), (e) => isStrataError(e, 'CORRUPT_BATCH'));
  const hugeCount = Buffer.from(batch);
  hugeCount.writeInt32BE(0x7fffffff, 57);
  assert.throws(() => decodeRecordBatch(hugeCount), (e) => isStrataError(e, 'CORRUPT_BATCH'));
  assert.throws(() => readBatchHeader(batch.subarray(0, 60)), (e) => isStrataError(e, 'CORRUPT_BATCH'));
});

async function kafkajsBatch(compression: string, baseOffset: number): Promise<Buffer> {
  const records = [
    kafkajsRecord({ offsetDelta: 0, timestampDelta: 0, key: Buffer.from('k0'), value: Buffer.from('v0'), headers: { h: 'x' } }),
    kafkajsRecord({ offsetDelta: 1, timestampDelta: 5, key: null, value: Buffer.from('v1'.repeat(500)) }),
  ];
  const encoder = await kafkajsRecordBatch({
    compression: KAFKAJS_CODES[compression],
    firstOffset: KafkajsLong.fromNumber(baseOffset),
    firstTimestamp: 1_600_000_000_000,
    maxTimestamp: 1_600_000_000_005,
    lastOffsetDelta: 1,
    producerId: KafkajsLong.fromNumber(77),
    producerEpoch: 3,
    firstSequence: 9,
    records,
  });
  return encoder.buffer as Buffer;
}

test('decodes batches produced by kafkajs (none, gzip, snappy, lz4 via kafkajs-lz4)', async () => {
  for (const compression of ['none', 'gzip', 'snappy', 'lz4']) {
    const bytes = await kafkajsBatch(compression, 12);
    assert.ok(verifyBatchCrc(bytes), compression);
    const { header, messages } = decodeRecordBatch(bytes);
    assert.equal(header.compression, compression);
    assert.equal(header.producerId, 77);
    assert.equal(header.producerEpoch, 3);
    assert.equal(header.baseSequence, 9);
    assert.deepEqual(messages.map((m) => m.offset), [12, 13]);
    assert.equal(messages[0]!.key!.toString(), 'k0');
    assert.equal(messages[0]!.headers[0]!.key, 'h');
    assert.equal(messages[0]!.headers[0]!.value!.toString(), 'x');
    assert.equal(messages[1]!.key, null);
    assert.equal(messages[1]!.value!.toString(), 'v1'.repeat(500));
    assert.equal(messages[1]!.timestamp, 1_600_000_000_005);
  }
});

test('kafkajs decodes what we encode (none, gzip, snappy, lz4)', async () => {
  for (const compression of ['none', 'gzip', 'snappy', 'lz4'] as const) {
    const ours = encodeRecordBatch([message('k', 'v', 1000, { h: 'x' }), message(null, 'w'.repeat(1000), 1001)], {
      compression,
      baseOffset: 3,
    });
    const result = await kafkajsBatchDecoder(new KafkajsDecoder(ours));
    assert.equal(result.firstOffset, '3', compression);
    assert.equal(result.records.length, 2);
    assert.equal(result.records[0].key.toString(), 'k');
    assert.equal(result.records[0].headers.h.toString(), 'x');
    assert.equal(result.records[1].value.toString(), 'w'.repeat(1000));
    assert.equal(result.records[1].offset, '4');
  }
});

test('xerial-framed snappy (Java clients) decodes', () => {
  const records = encodeRecordBatch([message('k', 'x'.repeat(5000), 1), message('k2', 'y', 2)]).subarray(RECORD_BATCH_HEADER_BYTES);
  const half = Math.floor(records.length / 2);
  const chunks = [records.subarray(0, half), records.subarray(half)].map((c) => snappy.compressSync(c));
  const header = Buffer.from([0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00, 0, 0, 0, 1, 0, 0, 0, 1]);
  const framed = Buffer.concat([
    header,
    ...chunks.flatMap((chunk) => {
      const length = Buffer.alloc(4);
      length.writeInt32BE(chunk.length);
      return [length, chunk];
    }),
  ]);
  const batch = withPayload(encodeRecordBatch([message('k', 'x'.repeat(5000), 1), message('k2', 'y', 2)]), framed, 2);
  const { messages } = decodeRecordBatch(batch);
  assert.equal(messages[0]!.value!.toString(), 'x'.repeat(5000));
  assert.equal(messages[1]!.key!.toString(), 'k2');
});

/** Replaces a batch's records section with `payload` and sets the codec (CRC left stale: decode does not check it). */
function withPayload(batch: Buffer, payload: Buffer, codec: number): Buffer {
  const out = Buffer.concat([batch.subarray(0, RECORD_BATCH_HEADER_BYTES), payload]);
  out.writeInt32BE(out.length - 12, 8);
  out.writeInt16BE(codec, 21);
  return out;
}

test('decompression bombs are CORRUPT_BATCH, bounded by the maximum', () => {
  const inner = encodeRecordBatch([{ key: null, value: Buffer.alloc(4 * 1024 * 1024), headers: [], timestamp: 0 }]);
  const records = inner.subarray(RECORD_BATCH_HEADER_BYTES);
  const max = 1024 * 1024;
  for (const compression of COMPRESSIONS.filter((c) => c !== 'none')) {
    const batch = encodeRecordBatch([{ key: null, value: Buffer.alloc(4 * 1024 * 1024), headers: [], timestamp: 0 }], { compression });
    assert.ok(batch.length < max, `${compression} compresses zeros`);
    assert.throws(() => decodeRecordBatch(batch, max), (e) => isStrataError(e, 'CORRUPT_BATCH'), compression);
    assert.equal(decodeRecordBatch(batch).messages[0]!.value!.length, 4 * 1024 * 1024);
  }
  // A raw snappy block claiming 4 GiB.
  const lying = withPayload(inner, Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f, 0x00]), 2);
  assert.throws(() => decodeRecordBatch(lying), (e) => isStrataError(e, 'CORRUPT_BATCH'));
  void zlib;
  void records;
});


test('fuzz: mutated, truncated and extended batches never throw anything but StrataError', () => {
  const random = seededRandom(20261122);
  const seeds = COMPRESSIONS.map((compression) =>
    encodeRecordBatch(
      Array.from({ length: 8 }, (_, i) => message(`key-${i}`, 'v'.repeat(i * 40), 1000 + i, { h: String(i) })),
      { compression },
    ),
  );
  const deadline = Date.now() + 20_000;
  let decodedOk = 0;
  let rejected = 0;
  const iterations = 20_000;
  for (let i = 0; i < iterations && Date.now() < deadline; i++) {
    const seed = seeds[i % seeds.length]!;
    let mutated = Buffer.from(seed);
    const mode = Math.floor(random() * 4);
    if (mode === 0) {
      const flips = 1 + Math.floor(random() * 4);
      for (let f = 0; f < flips; f++) mutated[Math.floor(random() * mutated.length)] = Math.floor(random() * 256);
    } else if (mode === 1) {
      mutated = mutated.subarray(0, Math.floor(random() * mutated.length));
    } else if (mode === 2) {
      const at = RECORD_BATCH_HEADER_BYTES + Math.floor(random() * (mutated.length - RECORD_BATCH_HEADER_BYTES));
      mutated[at] = Math.floor(random() * 256);
      mutated.writeInt32BE(Math.floor(random() * 1000) - 10, 57); // record count
    } else {
      const junk = Buffer.from(Array.from({ length: Math.floor(random() * 64) }, () => Math.floor(random() * 256)));
      mutated = Buffer.concat([mutated.subarray(0, RECORD_BATCH_HEADER_BYTES + Math.floor(random() * 8)), junk]);
      mutated.writeInt32BE(mutated.length - 12, 8);
    }
    for (const step of [() => splitBatches(mutated), () => decodeRecordBatch(mutated), () => verifyBatchCrc(mutated)]) {
      try {
        step();
        decodedOk++;
      } catch (error) {
        if (!isStrataError(error)) throw new Error(`iteration ${i} mode ${mode}: ${String(error)} on ${mutated.toString('hex')}`);
        rejected++;
      }
    }
  }
  assert.ok(rejected > 0 && decodedOk > 0);
});

test('fuzz: random records sections under every codec flag are rejected cleanly', () => {
  const random = seededRandom(777);
  const template = encodeRecordBatch([message('k', 'v', 1)]);
  const deadline = Date.now() + 15_000;
  let rejected = 0;
  for (let i = 0; i < 10_000 && Date.now() < deadline; i++) {
    const codec = 1 + (i % 4);
    const length = Math.floor(random() * 200);
    const junk = Buffer.from(Array.from({ length }, () => Math.floor(random() * 256)));
    // Valid-looking framing prefixes make the codecs go further before failing.
    if (codec === 2 && i % 3 === 0 && junk.length >= 16) Buffer.from([0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0, 0, 0, 0, 1, 0, 0, 0, 1]).copy(junk);
    if (codec === 3 && i % 2 === 0 && junk.length >= 7) Buffer.from([0x04, 0x22, 0x4d, 0x18, 0x60, 0x40, 0x82]).copy(junk);
    if (codec === 4 && i % 2 === 0 && junk.length >= 4) Buffer.from([0x28, 0xb5, 0x2f, 0xfd]).copy(junk);
    if (codec === 1 && i % 2 === 0 && junk.length >= 3) Buffer.from([0x1f, 0x8b, 0x08]).copy(junk);
    const batch = withPayload(template, junk, codec);
    try {
      decodeRecordBatch(batch);
    } catch (error) {
      if (!isStrataError(error)) throw new Error(`codec ${codec}: ${String(error)} on ${junk.toString('hex')}`);
      rejected++;
    }
  }
  assert.ok(rejected > 0);
});

test('crc32c: the CPU-instruction path and the table loop agree on every size, offset and alignment', () => {
  // In CI the native module must load (a silent fallback would hide a 4x slower append path).
  if (process.env['CI']) assert.ok(nativeCrc32cLoaded, '@node-rs/crc32 loads');
  let seed = 12345;
  const next = (): number => {
    seed = (seed * 1103515245 + 12345) >>> 0;
    return seed;
  };
  const data = Buffer.alloc(70_000);
  for (let i = 0; i < data.length; i++) data[i] = next() & 0xff;
  for (let round = 0; round < 300; round++) {
    const start = next() % 5000;
    const length = round < 40 ? round * 13 : next() % (data.length - start);
    const end = start + length;
    assert.equal(crc32cRange(data, start, end), crc32cRangeTable(data, start, end), `range ${start}..${end}`);
    // A view whose byteOffset is not aligned.
    const view = data.subarray(start);
    assert.equal(crc32cRange(view, 0, length), crc32cRangeTable(data, start, end));
  }
  assert.equal(crc32cRange(Buffer.from('123456789'.repeat(40)), 0, 360), crc32cRangeTable(Buffer.from('123456789'.repeat(40)), 0, 360));
});

test('writeInt64 / writeInt32 (byte stores) write what Buffer#writeBigInt64BE / writeInt32BE / writeUInt32BE write', () => {
  const random = seededRandom(64);
  const values = [0, 1, -1, 2 ** 31 - 1, -(2 ** 31), 2 ** 32, -(2 ** 32), 2 ** 53 - 1, -(2 ** 53 - 1), 1_700_000_000_000];
  for (let i = 0; i < 2000; i++) values.push(Math.floor((random() * 2 - 1) * 2 ** (1 + Math.floor(random() * 52))));
  for (const value of values) {
    const ours = Buffer.alloc(10, 0xee);
    const theirs = Buffer.alloc(10, 0xee);
    writeInt64(ours, 1, value);
    theirs.writeBigInt64BE(BigInt(value), 1);
    assert.deepEqual(ours, theirs, `int64 ${value}`);
    assert.equal(readInt64(ours, 1), value);
    if (value >= -(2 ** 31) && value < 2 ** 32) {
      const ours32 = Buffer.alloc(6, 0xee);
      const theirs32 = Buffer.alloc(6, 0xee);
      writeInt32(ours32, 1, value);
      if (value < 2 ** 31) theirs32.writeInt32BE(value, 1);
      else theirs32.writeUInt32BE(value, 1);
      assert.deepEqual(ours32, theirs32, `int32 ${value}`);
    }
  }
});

test('crc32c of a whole buffer equals the range form and the table loop, below and above the native threshold', () => {
  const random = seededRandom(32);
  for (const size of [0, 1, 7, 63, 255, 256, 257, 1024, 4099]) {
    const buffer = Buffer.from(Array.from({ length: size }, () => Math.floor(random() * 256)));
    const view = Buffer.concat([Buffer.from([1, 2, 3]), buffer]).subarray(3);
    assert.equal(crc32c(view), crc32cRangeTable(buffer, 0, buffer.length), `size ${size}`);
    assert.equal(crc32c(view), crc32cRange(view, 0, view.length), `size ${size}`);
  }
});

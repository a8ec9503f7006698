import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Reader } from '../../src/protocol/reader.js';
import { Writer } from '../../src/protocol/writer.js';
import { KafkaDecodeError, KafkaEncodeError } from '../../src/protocol/errors.js';

function hex(buf: Buffer): string {
  return buf.toString('hex');
}

function decodeError(code: string) {
  return (error: unknown) => error instanceof KafkaDecodeError && error.code === code;
}

test('fixed-width integers are big-endian and round trip at their limits', () => {
  const w = new Writer(16);
  w.int8(-128);
  w.int16(-2);
  w.uint16(65535);
  w.int32(-2147483648);
  w.uint32(4294967295);
  w.int64(-1);
  w.int64(Number.MAX_SAFE_INTEGER);
  w.int64(-Number.MAX_SAFE_INTEGER);
  w.float64(-1.5);
  w.bool(true);
  const buf = w.finish();
  assert.equal(hex(buf.subarray(0, 3)), '80fffe');
  assert.equal(hex(buf.subarray(13, 21)), 'ffffffffffffffff');
  const r = new Reader(buf);
  assert.equal(r.int8(), -128);
  assert.equal(r.int16(), -2);
  assert.equal(r.uint16(), 65535);
  assert.equal(r.int32(), -2147483648);
  assert.equal(r.uint32(), 4294967295);
  assert.equal(r.int64(), -1);
  assert.equal(r.int64(), Number.MAX_SAFE_INTEGER);
  assert.equal(r.int64(), -Number.MAX_SAFE_INTEGER);
  assert.equal(r.float64(), -1.5);
  assert.equal(r.bool(), true);
  assert.equal(r.remaining(), 0);
});

test('int64 of known byte patterns', () => {
  const r = new Reader(Buffer.from('0000000100000000fffffffeffffffff', 'hex'));
  assert.equal(r.int64(), 4294967296);
  assert.equal(r.int64(), -4294967297);
  const w = new Writer();
  w.int64(4294967296);
  w.int64(-4294967297);
  assert.equal(hex(w.finish()), '0000000100000000fffffffeffffffff');
});

test('unsigned varints match the protobuf encoding and reject over-long input', () => {
  const cases: Array<[number, string]> = [
    [0, '00'],
    [1, '01'],
    [127, '7f'],
    [128, '8001'],
    [300, 'ac02'],
    [4294967295, 'ffffffff0f'],
  ];
  for (const [value, bytes] of cases) {
    const w = new Writer();
    w.uvarint(value);
    assert.equal(hex(w.finish()), bytes, `encode ${value}`);
    assert.equal(new Reader(Buffer.from(bytes, 'hex')).uvarint(), value, `decode ${bytes}`);
  }
  assert.throws(() => new Reader(Buffer.from('ffffffff1f', 'hex')).uvarint(), decodeError('invalidVarint'));
  assert.throws(() => new Reader(Buffer.from('ffffffffff01', 'hex')).uvarint(), decodeError('invalidVarint'));
  assert.throws(() => new Reader(Buffer.from('ff', 'hex')).uvarint(), decodeError('truncated'));
});

test('zig-zag varint and varlong', () => {
  const cases: Array<[number, string]> = [
    [0, '00'],
    [-1, '01'],
    [1, '02'],
    [-64, '7f'],
    [64, '8001'],
    [2147483647, 'feffffff0f'],
    [-2147483648, 'ffffffff0f'],
  ];
  for (const [value, bytes] of cases) {
    const w = new Writer();
    w.varint(value);
    assert.equal(hex(w.finish()), bytes, `varint ${value}`);
    assert.equal(new Reader(Buffer.from(bytes, 'hex')).varint(), value);
    const wl = new Writer();
    wl.varlong(value);
    assert.equal(hex(wl.finish()), bytes, `varlong ${value}`);
    assert.equal(new Reader(Buffer.from(bytes, 'hex')).varlong(), value);
  }
  for (const value of [2 ** 52 - 1, -(2 ** 52), 1700000000000, -1700000000000]) {
    const w = new Writer();
    w.varlong(value);
    assert.equal(new Reader(w.finish()).varlong(), value);
  }
  assert.throws(() => new Reader(Buffer.from('ffffffffffffffffff7f', 'hex')).varlong(), decodeError('invalidVarint'));
});

test('strings: classic and compact, nullable, multi-byte UTF-8', () => {
  const w = new Writer(16);
  w.string('héllo');
  w.nullableString(null);
  w.compactString('');
  w.compactNullableString(null);
  w.compactString('日本');
  const buf = w.finish();
  assert.equal(hex(buf.subarray(0, 2)), '0006');
  const r = new Reader(buf);
  assert.equal(r.string(), 'héllo');
  assert.equal(r.nullableString(), null);
  assert.equal(r.compactString(), '');
  assert.equal(r.compactNullableString(), null);
  assert.equal(r.compactString(), '日本');
  assert.equal(r.remaining(), 0);
  assert.throws(() => new Reader(Buffer.from('ffff', 'hex')).string(), decodeError('nullNotAllowed'));
  assert.throws(() => new Reader(Buffer.from('fffe', 'hex')).nullableString(), decodeError('negativeLength'));
  assert.throws(() => new Reader(Buffer.from('000561', 'hex')).string(), decodeError('invalidLength'));
  assert.throws(() => new Reader(Buffer.from('00', 'hex')).compactString(), decodeError('nullNotAllowed'));
  assert.throws(() => new Reader(Buffer.from('ffffffff0f', 'hex')).compactNullableString(), decodeError('invalidLength'));
  assert.throws(() => new Writer().string('x'.repeat(40000)), (error: unknown) => error instanceof KafkaEncodeError);
});

test('bytes and records are views of the input; null handling', () => {
  const w = new Writer();
  w.bytes(Buffer.from([1, 2, 3]));
  w.nullableBytes(null);
  w.compactBytes(Buffer.from([4]));
  w.compactNullableBytes(null);
  w.records(Buffer.from([5, 6]));
  w.compactRecords(null);
  const buf = w.finish();
  const r = new Reader(buf);
  const first = r.bytes();
  assert.deepEqual([...first], [1, 2, 3]);
  assert.equal(first.buffer, buf.buffer, 'no copy');
  assert.equal(r.nullableBytes(), null);
  assert.deepEqual([...r.compactBytes()], [4]);
  assert.equal(r.compactNullableBytes(), null);
  assert.deepEqual([...(r.records() ?? [])], [5, 6]);
  assert.equal(r.compactRecords(), null);
  assert.throws(() => new Reader(Buffer.from('7fffffff', 'hex')).bytes(), decodeError('invalidLength'));
  assert.throws(() => new Reader(Buffer.from('80000000', 'hex')).nullableBytes(), decodeError('negativeLength'));
});

test('array counts are checked against the remaining bytes before any allocation', () => {
  assert.throws(() => new Reader(Buffer.from('7fffffff', 'hex')).arrayLength(1), decodeError('invalidLength'));
  assert.throws(() => new Reader(Buffer.from('ffffffff', 'hex')).arrayLength(1), decodeError('nullNotAllowed'));
  assert.throws(() => new Reader(Buffer.from('fffffff0', 'hex')).nullableArrayLength(1), decodeError('negativeLength'));
  assert.equal(new Reader(Buffer.from('ffffffff', 'hex')).nullableArrayLength(4), -1);
  assert.equal(new Reader(Buffer.from('00', 'hex')).compactNullableArrayLength(4), -1);
  assert.throws(() => new Reader(Buffer.from('00', 'hex')).compactArrayLength(4), decodeError('nullNotAllowed'));
  // 2 elements of at least 4 bytes need 8 bytes: 7 are not enough.
  assert.throws(() => new Reader(Buffer.from('03' + '00'.repeat(7), 'hex')).compactArrayLength(4), decodeError('invalidLength'));
  assert.equal(new Reader(Buffer.from('03' + '00'.repeat(8), 'hex')).compactArrayLength(4), 2);
  // Zero-size elements still count one byte each, so a huge count cannot pass.
  assert.throws(() => new Reader(Buffer.from('00100000', 'hex')).arrayLength(0), decodeError('invalidLength'));
});

test('tagged fields: skipping unknown ones and size checks', () => {
  const w = new Writer();
  w.uvarint(2);
  w.uvarint(7);
  w.uvarint(3);
  w.raw(Buffer.from('aabbcc', 'hex'));
  w.uvarint(9);
  w.uvarint(0);
  w.int8(42);
  const r = new Reader(w.finish());
  r.skipTaggedFields();
  assert.equal(r.int8(), 42);
  assert.throws(() => new Reader(Buffer.from('010105aa', 'hex')).skipTaggedFields(), decodeError('invalidLength'));
  const known = new Reader(Buffer.from('0102', 'hex'));
  const end = known.beginTaggedField(2);
  known.int8();
  assert.throws(() => known.endTaggedField(end), decodeError('taggedFieldSize'));
});

test('uuid copies 16 bytes; writer writes zeros for a missing uuid', () => {
  const id = Buffer.alloc(16, 7);
  const w = new Writer();
  w.uuid(id);
  w.uuid(null);
  const buf = w.finish();
  const r = new Reader(buf);
  assert.deepEqual(r.uuid(), id);
  assert.deepEqual(r.uuid(), Buffer.alloc(16));
  assert.throws(() => new Reader(Buffer.alloc(15)).uuid(), decodeError('truncated'));
  assert.throws(() => new Writer().uuid(Buffer.alloc(15)), (error: unknown) => error instanceof KafkaEncodeError && error.code === 'invalidValue');
});

test('writer grows across many writes and int32At patches a size prefix', () => {
  const w = new Writer(16);
  w.int32(0);
  for (let i = 0; i < 1000; i++) w.int32(i);
  w.int32At(0, w.length - 4);
  const buf = w.finish();
  assert.equal(buf.length, 4004);
  assert.equal(buf.readInt32BE(0), 4000);
  assert.equal(buf.readInt32BE(4 + 999 * 4), 999);
  assert.throws(() => w.int32At(4002, 1), RangeError);
});

test('reader respects an explicit end and truncation everywhere', () => {
  const r = new Reader(Buffer.from('0001020304050607', 'hex'), 2, 4);
  assert.equal(r.remaining(), 2);
  assert.equal(r.int16(), 0x0203);
  assert.throws(() => r.int8(), decodeError('truncated'));
  const empty = new Reader(Buffer.alloc(0));
  for (const read of [
    () => empty.int8(),
    () => empty.int16(),
    () => empty.int32(),
    () => empty.int64(),
    () => empty.float64(),
    () => empty.bool(),
    () => empty.uvarint(),
    () => empty.string(),
    () => empty.compactString(),
    () => empty.bytes(),
  ]) {
    assert.throws(read, decodeError('truncated'));
  }
});

test('reference mode: long byte fields are chunks by reference, bytes equal the copying writer', () => {
  const big = Buffer.alloc(100, 0xab);
  const write = (w: Writer) => {
    w.int32(0); // size prefix
    w.int16(7);
    w.bytes(big);
    w.compactString('tail');
    w.records(Buffer.from('0102', 'hex')); // short: copied
    w.compactRecords(big);
    for (let i = 0; i < 100; i++) w.int32(i); // forces growth after sealing
    w.int32At(0, w.length - 4);
  };
  const copying = new Writer(16);
  write(copying);
  const referencing = new Writer(16, { referenceBytesMin: 50 });
  write(referencing);
  const chunks = referencing.finishChunks();
  assert.deepEqual(Buffer.concat(chunks), copying.finish());
  assert.equal(chunks.filter((chunk) => chunk === big).length, 2, 'the big field is referenced, not copied');
  assert.deepEqual(referencing.finish(), copying.finish());
  assert.equal(copying.finish().readInt32BE(0), copying.length - 4);
  assert.throws(() => referencing.int32At(10, 1), RangeError, 'cannot write into a referenced chunk');
});

test('records as chunks: one field on the wire, same bytes as the joined buffer, long chunks referenced', () => {
  const parts = [Buffer.alloc(100, 1), Buffer.from('0203', 'hex'), Buffer.alloc(80, 4)];
  const joined = Buffer.concat(parts);
  for (const compact of [false, true]) {
    const write = (w: Writer, value: Buffer | readonly Buffer[] | null) => {
      w.int16(9);
      if (compact) w.compactRecords(value);
      else w.records(value);
      w.int16(10);
    };
    const expected = new Writer(16);
    write(expected, joined);
    const referencing = new Writer(16, { referenceBytesMin: 50 });
    write(referencing, parts);
    const chunks = referencing.finishChunks();
    assert.deepEqual(Buffer.concat(chunks), expected.finish());
    assert.ok(chunks.includes(parts[0]!) && chunks.includes(parts[2]!), 'long chunks by reference');
    const r = new Reader(expected.finish());
    assert.equal(r.int16(), 9);
    assert.deepEqual(compact ? r.compactRecords() : r.records(), joined);
    const empty = new Writer(16);
    write(empty, []);
    const e = new Reader(empty.finish());
    e.int16();
    assert.equal((compact ? e.compactRecords() : e.records())?.length, 0, 'no chunks: empty records, not null');
  }
});

import { KafkaDecodeError } from './errors.js';

/**
 * Bounds-checked reader over one Kafka message body (docs/protocol.html "Protocol Primitive Types").
 * Every read checks the bytes that remain first and throws KafkaDecodeError on truncated or impossible
 * input, so a decoder never reads past its frame or allocates from a length the frame cannot hold.
 * Byte fields (bytes, records) are returned as views (subarray) of the input: no copy.
 */
export class Reader {
  readonly buf: Buffer;
  /** Next byte to read. */
  offset: number;
  private readonly end: number;

  constructor(buf: Buffer, offset = 0, end = buf.length) {
    this.buf = buf;
    this.offset = offset;
    this.end = end;
  }

  remaining(): number {
    return this.end - this.offset;
  }

  /** Throws unless `bytes` more bytes are available. */
  need(bytes: number): void {
    if (bytes > this.end - this.offset) {
      throw new KafkaDecodeError('truncated', `need ${bytes} bytes at offset ${this.offset}, ${this.end - this.offset} left`);
    }
  }

  skip(bytes: number): void {
    this.need(bytes);
    this.offset += bytes;
  }

  int8(): number {
    this.need(1);
    return this.buf.readInt8(this.offset++);
  }

  uint8(): number {
    this.need(1);
    return this.buf[this.offset++];
  }

  bool(): boolean {
    this.need(1);
    return this.buf[this.offset++] !== 0;
  }

  int16(): number {
    this.need(2);
    const value = this.buf.readInt16BE(this.offset);
    this.offset += 2;
    return value;
  }

  uint16(): number {
    this.need(2);
    const value = this.buf.readUInt16BE(this.offset);
    this.offset += 2;
    return value;
  }

  int32(): number {
    this.need(4);
    const value = this.buf.readInt32BE(this.offset);
    this.offset += 4;
    return value;
  }

  uint32(): number {
    this.need(4);
    const value = this.buf.readUInt32BE(this.offset);
    this.offset += 4;
    return value;
  }

  /** int64 as a number: exact within ±2^53 (offsets, timestamps, producer ids all are). */
  int64(): number {
    this.need(8);
    const high = this.buf.readInt32BE(this.offset);
    const low = this.buf.readUInt32BE(this.offset + 4);
    this.offset += 8;
    return high * 4294967296 + low;
  }

  float64(): number {
    this.need(8);
    const value = this.buf.readDoubleBE(this.offset);
    this.offset += 8;
    return value;
  }

  /** 16 bytes, copied so the caller may keep it without pinning the frame. */
  uuid(): Buffer {
    this.need(16);
    const value = Buffer.allocUnsafe(16);
    this.buf.copy(value, 0, this.offset, this.offset + 16);
    this.offset += 16;
    return value;
  }

  /** UNSIGNED_VARINT up to 32 bits (at most 5 bytes). */
  uvarint(): number {
    let value = 0;
    let multiplier = 1;
    for (let i = 0; i < 5; i++) {
      if (this.offset >= this.end) throw new KafkaDecodeError('truncated', 'truncated varint');
      const byte = this.buf[this.offset++];
      if (i === 4 && byte > 0x0f) break;
      value += (byte & 0x7f) * multiplier;
      if ((byte & 0x80) === 0) return value;
      multiplier *= 128;
    }
    throw new KafkaDecodeError('invalidVarint', 'unsigned varint longer than 32 bits');
  }

  /** VARINT: zig-zag encoded signed 32-bit. */
  varint(): number {
    const raw = this.uvarint();
    return raw % 2 === 0 ? raw / 2 : -(raw + 1) / 2;
  }

  /** VARLONG: zig-zag encoded signed 64-bit, as a number (exact within ±2^52, zig-zag doubles it). */
  varlong(): number {
    let raw = 0;
    let multiplier = 1;
    for (let i = 0; i < 10; i++) {
      if (this.offset >= this.end) throw new KafkaDecodeError('truncated', 'truncated varlong');
      const byte = this.buf[this.offset++];
      if (i === 9 && byte > 0x01) break;
      raw += (byte & 0x7f) * multiplier;
      if ((byte & 0x80) === 0) return raw % 2 === 0 ? raw / 2 : -(raw + 1) / 2;
      multiplier *= 128;
    }
    throw new KafkaDecodeError('invalidVarint', 'varlong longer than 64 bits');
  }

  private text(length: number): string {
    if (length > this.end - this.offset) {
      throw new KafkaDecodeError('invalidLength', `string of ${length} bytes, ${this.end - this.offset} left`);
    }
    const value = this.buf.toString('utf8', this.offset, this.offset + length);
    this.offset += length;
    return value;
  }

  private view(length: number): Buffer {
    if (length > this.end - this.offset) {
      throw new KafkaDecodeError('invalidLength', `bytes of ${length}, ${this.end - this.offset} left`);
    }
    const value = this.buf.subarray(this.offset, this.offset + length);
    this.offset += length;
    return value;
  }

  /** STRING: int16 length, then UTF-8. */
  string(): string {
    const length = this.int16();
    if (length < 0) throw new KafkaDecodeError(length === -1 ? 'nullNotAllowed' : 'negativeLength', `string length ${length}`);
    return this.text(length);
  }

  /** NULLABLE_STRING: int16 length, -1 = null. */
  nullableString(): string | null {
    const length = this.int16();
    if (length === -1) return null;
    if (length < 0) throw new KafkaDecodeError('negativeLength', `string length ${length}`);
    return this.text(length);
  }

  /** COMPACT_STRING: unsigned varint length + 1. */
  compactString(): string {
    const lengthPlusOne = this.uvarint();
    if (lengthPlusOne === 0) throw new KafkaDecodeError('nullNotAllowed', 'null compact string');
    return this.text(lengthPlusOne - 1);
  }

  /** COMPACT_NULLABLE_STRING: unsigned varint length + 1, 0 = null. */
  compactNullableString(): string | null {
    const lengthPlusOne = this.uvarint();
    if (lengthPlusOne === 0) return null;
    return this.text(lengthPlusOne - 1);
  }

  /** BYTES: int32 length, then the bytes (a view of the input). */
  bytes(): Buffer {
    const length = this.int32();
    if (length < 0) throw new KafkaDecodeError(length === -1 ? 'nullNotAllowed' : 'negativeLength', `bytes length ${length}`);
    return this.view(length);
  }

  nullableBytes(): Buffer | null {
    const length = this.int32();
    if (length === -1) return null;
    if (length < 0) throw new KafkaDecodeError('negativeLength', `bytes length ${length}`);
    return this.view(length);
  }

  compactBytes(): Buffer {
    const lengthPlusOne = this.uvarint();
    if (lengthPlusOne === 0) throw new KafkaDecodeError('nullNotAllowed', 'null compact bytes');
    return this.view(lengthPlusOne - 1);
  }

  compactNullableBytes(): Buffer | null {
    const lengthPlusOne = this.uvarint();
    if (lengthPlusOne === 0) return null;
    return this.view(lengthPlusOne - 1);
  }

  /** RECORDS: nullable int32-sized blob of record batches (decoded by @strata/core, not here). */
  records(): Buffer | null {
    return this.nullableBytes();
  }

  /** COMPACT_RECORDS: nullable compact-sized blob of record batches. */
  compactRecords(): Buffer | null {
    return this.compactNullableBytes();
  }

  private count(count: number, minElementBytes: number): number {
    // Checked before the caller allocates anything: `count` elements of at least `minElementBytes`
    // each must fit in what is left of the frame.
    if (count * Math.max(minElementBytes, 1) > this.end - this.offset) {
      throw new KafkaDecodeError('invalidLength', `array of ${count} elements, ${this.end - this.offset} bytes left`);
    }
    return count;
  }

  /** ARRAY count (int32), not null. */
  arrayLength(minElementBytes: number): number {
    const count = this.int32();
    if (count < 0) throw new KafkaDecodeError(count === -1 ? 'nullNotAllowed' : 'negativeLength', `array length ${count}`);
    return this.count(count, minElementBytes);
  }

  /** ARRAY count (int32), -1 = null (returned as -1). */
  nullableArrayLength(minElementBytes: number): number {
    const count = this.int32();
    if (count === -1) return -1;
    if (count < 0) throw new KafkaDecodeError('negativeLength', `array length ${count}`);
    return this.count(count, minElementBytes);
  }

  /** COMPACT_ARRAY count (unsigned varint N+1), not null. */
  compactArrayLength(minElementBytes: number): number {
    const countPlusOne = this.uvarint();
    if (countPlusOne === 0) throw new KafkaDecodeError('nullNotAllowed', 'null compact array');
    return this.count(countPlusOne - 1, minElementBytes);
  }

  /** COMPACT_ARRAY count, 0 on the wire = null (returned as -1). */
  compactNullableArrayLength(minElementBytes: number): number {
    const countPlusOne = this.uvarint();
    if (countPlusOne === 0) return -1;
    return this.count(countPlusOne - 1, minElementBytes);
  }

  /** Nullable struct marker (int8: -1 = null, 1 = present). */
  structPresent(): boolean {
    const marker = this.int8();
    if (marker === -1) return false;
    if (marker === 1) return true;
    throw new KafkaDecodeError('negativeLength', `struct presence marker ${marker}`);
  }

  /**
   * Start of one tagged field's value: checks the declared size fits and returns where the value must
   * end; pass that to `endTaggedField` after decoding the value.
   */
  beginTaggedField(size: number): number {
    if (size > this.end - this.offset) {
      throw new KafkaDecodeError('invalidLength', `tagged field of ${size} bytes, ${this.end - this.offset} left`);
    }
    return this.offset + size;
  }

  endTaggedField(end: number): void {
    if (this.offset !== end) {
      throw new KafkaDecodeError('taggedFieldSize', `tagged field ended at ${this.offset}, declared end ${end}`);
    }
  }

  /** Reads and drops a whole TAGGED_FIELDS section (for structs with no known tags). */
  skipTaggedFields(): void {
    const count = this.uvarint();
    for (let i = 0; i < count; i++) {
      this.uvarint(); // tag
      const size = this.uvarint();
      if (size > this.end - this.offset) {
        throw new KafkaDecodeError('invalidLength', `tagged field of ${size} bytes, ${this.end - this.offset} left`);
      }
      this.offset += size;
    }
  }
}

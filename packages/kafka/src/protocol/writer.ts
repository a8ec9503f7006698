import { KafkaEncodeError } from './errors.js';

/** Largest string the protocol can carry: STRING has an int16 length (Kafka applies it to compact too). */
export const STRING_BYTES_MAX = 0x7fff;

const INITIAL_BYTES_DEFAULT = 256;

/**
 * A RECORDS field to encode: one buffer, or chunks that go on the wire back to back as one field
 * (a Fetch reply joining stored batches that lie in different buffers: each chunk is copied or
 * referenced like any byte field, never joined first). Decoders always return one Buffer.
 */
export type RecordsValue = Buffer | readonly Buffer[];

function chunksLength(chunks: readonly Buffer[]): number {
  let length = 0;
  for (const chunk of chunks) length += chunk.length;
  return length;
}

export interface WriterOptions {
  /**
   * Byte fields (bytes, records, raw) at least this long are kept by reference instead of copied, and
   * the message comes out as a list of chunks from `finishChunks()`: a Fetch response then carries
   * its record batches without copying them (write the chunks with one corked socket write).
   * The referenced buffers must not change until the chunks are written. Default: always copy.
   */
  referenceBytesMin?: number;
}

/**
 * Growing buffer writer with the Kafka primitives (docs/protocol.html "Protocol Primitive Types").
 * Grows by doubling, so a response is written with a handful of allocations; `finish()` returns a
 * view of the written bytes without copying. Byte fields are copied in once, or referenced (see
 * WriterOptions.referenceBytesMin).
 */
export class Writer {
  private buf: Buffer;
  /** Start of the bytes in `buf` not yet sealed into `parts`. */
  private start = 0;
  private pos = 0;
  /** Sealed chunks before `buf[start..pos)`: views of earlier buffers and referenced byte fields. */
  private parts: Buffer[] = [];
  private partsExternal: boolean[] = [];
  private partsBytes = 0;
  private readonly referenceBytesMin: number;

  constructor(initialBytes = INITIAL_BYTES_DEFAULT, options: WriterOptions = {}) {
    this.buf = Buffer.allocUnsafe(Math.max(initialBytes, 16));
    this.referenceBytesMin = options.referenceBytesMin ?? Infinity;
  }

  /** Bytes written so far. */
  get length(): number {
    return this.partsBytes + this.pos - this.start;
  }

  private ensure(bytes: number): void {
    const needed = this.pos + bytes;
    if (needed <= this.buf.length) return;
    const used = this.pos - this.start;
    let capacity = this.buf.length * 2;
    while (capacity < used + bytes) capacity *= 2;
    const grown = Buffer.allocUnsafe(capacity);
    this.buf.copy(grown, 0, this.start, this.pos);
    this.buf = grown;
    this.start = 0;
    this.pos = used;
  }

  int8(value: number): void {
    this.ensure(1);
    this.buf.writeInt8(value, this.pos);
    this.pos += 1;
  }

  uint8(value: number): void {
    this.ensure(1);
    this.buf[this.pos++] = value & 0xff;
  }

  bool(value: boolean): void {
    this.ensure(1);
    this.buf[this.pos++] = value ? 1 : 0;
  }

  int16(value: number): void {
    this.ensure(2);
    this.buf.writeInt16BE(value, this.pos);
    this.pos += 2;
  }

  uint16(value: number): void {
    this.ensure(2);
    this.buf.writeUInt16BE(value, this.pos);
    this.pos += 2;
  }

  int32(value: number): void {
    this.ensure(4);
    this.buf.writeInt32BE(value, this.pos);
    this.pos += 4;
  }

  uint32(value: number): void {
    this.ensure(4);
    this.buf.writeUInt32BE(value, this.pos);
    this.pos += 4;
  }

  /** int64 from a number (exact within ±2^53). */
  int64(value: number): void {
    this.ensure(8);
    const high = Math.floor(value / 4294967296);
    const low = value - high * 4294967296;
    this.buf.writeInt32BE(high, this.pos);
    this.buf.writeUInt32BE(low, this.pos + 4);
    this.pos += 8;
  }

  float64(value: number): void {
    this.ensure(8);
    this.buf.writeDoubleBE(value, this.pos);
    this.pos += 8;
  }

  /** 16 bytes; a missing uuid is written as zeros (the "zero uuid" default). */
  uuid(value: Buffer | null | undefined): void {
    if (value && value.length !== 16) throw new KafkaEncodeError('invalidValue', `uuid of ${value.length} bytes, expected 16`);
    this.ensure(16);
    if (value) value.copy(this.buf, this.pos);
    else this.buf.fill(0, this.pos, this.pos + 16);
    this.pos += 16;
  }

  /** UNSIGNED_VARINT up to 32 bits. */
  uvarint(value: number): void {
    this.ensure(5);
    let rest = value >>> 0;
    while (rest >= 0x80) {
      this.buf[this.pos++] = (rest & 0x7f) | 0x80;
      rest >>>= 7;
    }
    this.buf[this.pos++] = rest;
  }

  /** VARINT: zig-zag signed 32-bit. */
  varint(value: number): void {
    this.uvarint(((value << 1) ^ (value >> 31)) >>> 0);
  }

  /** VARLONG: zig-zag signed 64-bit from a number (exact within ±2^52, zig-zag doubles it). */
  varlong(value: number): void {
    this.ensure(10);
    let rest = value >= 0 ? value * 2 : -value * 2 - 1;
    while (rest >= 0x80) {
      this.buf[this.pos++] = (rest % 128) | 0x80;
      rest = Math.floor(rest / 128);
    }
    this.buf[this.pos++] = rest;
  }

  private text(value: string): number {
    const length = Buffer.byteLength(value, 'utf8');
    if (length > STRING_BYTES_MAX) {
      throw new KafkaEncodeError('valueTooLarge', `string of ${length} bytes exceeds ${STRING_BYTES_MAX}`);
    }
    return length;
  }

  private utf8(value: string, length: number): void {
    this.ensure(length);
    this.buf.write(value, this.pos, length, 'utf8');
    this.pos += length;
  }

  string(value: string): void {
    const length = this.text(value);
    this.int16(length);
    this.utf8(value, length);
  }

  nullableString(value: string | null): void {
    if (value === null) return this.int16(-1);
    this.string(value);
  }

  compactString(value: string): void {
    const length = this.text(value);
    this.uvarint(length + 1);
    this.utf8(value, length);
  }

  compactNullableString(value: string | null): void {
    if (value === null) return this.uvarint(0);
    this.compactString(value);
  }

  /** Raw bytes with no length prefix (copied, or referenced when long enough; see WriterOptions). */
  raw(value: Buffer): void {
    if (value.length >= this.referenceBytesMin) {
      if (this.pos > this.start) this.seal(this.buf.subarray(this.start, this.pos), false);
      this.start = this.pos;
      this.seal(value, true);
      return;
    }
    this.ensure(value.length);
    value.copy(this.buf, this.pos);
    this.pos += value.length;
  }

  private seal(part: Buffer, external: boolean): void {
    this.parts.push(part);
    this.partsExternal.push(external);
    this.partsBytes += part.length;
  }

  bytes(value: Buffer): void {
    this.int32(value.length);
    this.raw(value);
  }

  nullableBytes(value: Buffer | null): void {
    if (value === null) return this.int32(-1);
    this.bytes(value);
  }

  compactBytes(value: Buffer): void {
    this.uvarint(value.length + 1);
    this.raw(value);
  }

  compactNullableBytes(value: Buffer | null): void {
    if (value === null) return this.uvarint(0);
    this.compactBytes(value);
  }

  records(value: RecordsValue | null): void {
    if (value === null || Buffer.isBuffer(value)) return this.nullableBytes(value as Buffer | null);
    this.int32(chunksLength(value));
    for (const chunk of value) this.raw(chunk);
  }

  compactRecords(value: RecordsValue | null): void {
    if (value === null || Buffer.isBuffer(value)) return this.compactNullableBytes(value as Buffer | null);
    this.uvarint(chunksLength(value) + 1);
    for (const chunk of value) this.raw(chunk);
  }

  arrayLength(count: number): void {
    this.int32(count);
  }

  /** -1 writes null. */
  nullableArrayLength(count: number): void {
    this.int32(count);
  }

  compactArrayLength(count: number): void {
    this.uvarint(count + 1);
  }

  /** -1 writes null (0 on the wire). */
  compactNullableArrayLength(count: number): void {
    this.uvarint(count + 1);
  }

  /** Nullable struct marker (int8: -1 = null, 1 = present). */
  structPresent(present: boolean): void {
    this.int8(present ? 1 : -1);
  }

  /** An empty TAGGED_FIELDS section. */
  emptyTaggedFields(): void {
    this.ensure(1);
    this.buf[this.pos++] = 0;
  }

  /** Overwrites 4 bytes already written at `offset` (e.g. a frame's size prefix). */
  int32At(offset: number, value: number): void {
    if (offset < 0 || offset + 4 > this.length) throw new RangeError(`int32At(${offset}) outside written bytes`);
    if (offset >= this.partsBytes) {
      this.buf.writeInt32BE(value, this.start + offset - this.partsBytes);
      return;
    }
    let partStart = 0;
    for (let i = 0; i < this.parts.length; i++) {
      const part = this.parts[i];
      if (offset < partStart + part.length) {
        if (this.partsExternal[i] || offset + 4 > partStart + part.length) {
          throw new RangeError(`int32At(${offset}) would write into a referenced or split chunk`);
        }
        part.writeInt32BE(value, offset - partStart);
        return;
      }
      partStart += part.length;
    }
  }

  /** The written bytes as one buffer (a view when nothing was referenced; the writer is done after). */
  finish(): Buffer {
    const tail = this.buf.subarray(this.start, this.pos);
    if (this.parts.length === 0) return tail;
    return Buffer.concat([...this.parts, tail], this.length);
  }

  /** The written bytes as chunks, referenced byte fields included without copying. */
  finishChunks(): Buffer[] {
    const chunks = this.parts.slice();
    if (this.pos > this.start) chunks.push(this.buf.subarray(this.start, this.pos));
    return chunks;
  }
}

/**
 * Zig-zag varints of record batch v2 (Kafka `ByteUtils.writeVarint/writeVarlong`, protobuf
 * encoding). Varlongs are handled with arithmetic, not 32-bit bitwise operators, so values up to
 * 2^53 survive; larger ones (never produced by Strata) decode approximately, never crash.
 */
import { StrataError } from '../errors.js';

/** A varint (int32) takes at most 5 bytes, a varlong (int64) at most 10. */
export const VARINT_BYTES_MAX = 5;
export const VARLONG_BYTES_MAX = 10;

const TWO_POW_32 = 4294967296;

function corrupt(message: string): StrataError {
  return new StrataError('CORRUPT_BATCH', message);
}

function zigZag(value: number): number {
  return value >= 0 ? value * 2 : -value * 2 - 1;
}

function unZigZag(raw: number): number {
  return raw % 2 === 0 ? raw / 2 : -(raw + 1) / 2;
}

export function sizeOfVarint(value: number): number {
  return sizeOfUnsigned(zigZag(value));
}
export const sizeOfVarlong = sizeOfVarint;

function sizeOfUnsigned(raw: number): number {
  let bytes = 1;
  while (raw >= 128) {
    raw = Math.floor(raw / 128);
    bytes++;
  }
  return bytes;
}

/** Writes a zig-zag varint/varlong at `offset`; returns the offset after it. */
export function writeVarint(buf: Buffer, offset: number, value: number): number {
  let raw = zigZag(value);
  while (raw >= 128) {
    buf[offset++] = (raw % 128) | 0x80;
    raw = Math.floor(raw / 128);
  }
  buf[offset++] = raw;
  return offset;
}
export const writeVarlong = writeVarint;

/**
 * A cursor over a buffer that throws CORRUPT_BATCH on any read past `end`. Every read checks
 * bounds: input comes from the network or disk and may be anything.
 */
export class ByteReader {
  constructor(
    readonly buf: Buffer,
    public position: number,
    /** Mutable so one reader can be narrowed to a record and widened again without allocating. */
    public end: number,
  ) {}

  remaining(): number {
    return this.end - this.position;
  }

  private readUnsigned(bytesMax: number): number {
    let result = 0;
    let multiplier = 1;
    for (let i = 0; i < bytesMax; i++) {
      if (this.position >= this.end) throw corrupt('truncated varint');
      const byte = this.buf[this.position++]!;
      result += (byte & 0x7f) * multiplier;
      if ((byte & 0x80) === 0) return result;
      multiplier *= 128;
    }
    throw corrupt('varint too long');
  }

  varint(): number {
    const value = unZigZag(this.readUnsigned(VARINT_BYTES_MAX));
    if (value > 0x7fffffff || value < -0x80000000) throw corrupt('varint out of int32 range');
    return value;
  }

  varlong(): number {
    return unZigZag(this.readUnsigned(VARLONG_BYTES_MAX));
  }

  int8(): number {
    if (this.position + 1 > this.end) throw corrupt('truncated int8');
    return this.buf.readInt8(this.position++);
  }

  /** `length` bytes as a view (no copy). */
  bytes(length: number): Buffer {
    if (length < 0 || this.position + length > this.end) throw corrupt('length past end of data');
    const view = this.buf.subarray(this.position, this.position + length);
    this.position += length;
    return view;
  }

  /** Steps over `length` bytes; returns where they start. */
  skip(length: number): number {
    if (length < 0 || this.position + length > this.end) throw corrupt('length past end of data');
    const start = this.position;
    this.position += length;
    return start;
  }

  /** Varint length then bytes; length -1 is null. */
  nullableBytes(): Buffer | null {
    const length = this.varint();
    if (length === -1) return null;
    if (length < -1) throw corrupt('negative length');
    return this.bytes(length);
  }
}

/** Reads a big-endian int64 as a JS number (exact below 2^53). */
export function readInt64(buf: Buffer, offset: number): number {
  return buf.readInt32BE(offset) * TWO_POW_32 + buf.readUInt32BE(offset + 4);
}

/**
 * Writes a safe integer as a big-endian int64. Byte stores instead of Buffer#writeInt32BE (whose
 * range checks cost more than the write on the append path); a typed-array store keeps the low 8
 * bits of a negative number as two's complement, and `value >>> 0` is value mod 2^32.
 */
export function writeInt64(buf: Buffer, offset: number, value: number): void {
  const high = Math.floor(value / TWO_POW_32);
  const low = value >>> 0;
  buf[offset] = high >>> 24;
  buf[offset + 1] = high >>> 16;
  buf[offset + 2] = high >>> 8;
  buf[offset + 3] = high;
  buf[offset + 4] = low >>> 24;
  buf[offset + 5] = low >>> 16;
  buf[offset + 6] = low >>> 8;
  buf[offset + 7] = low;
}

/** A big-endian int32 (or uint32) by byte stores; see writeInt64. */
export function writeInt32(buf: Buffer, offset: number, value: number): void {
  buf[offset] = value >>> 24;
  buf[offset + 1] = value >>> 16;
  buf[offset + 2] = value >>> 8;
  buf[offset + 3] = value;
}

/**
 * The compression codecs of record batch v2: the records section (everything after the 61-byte
 * header) is compressed as a whole. Decompression is bounded: a batch may claim or expand to any
 * size, so each codec checks the size it will produce against `decompressedBytesMax` before (or
 * while) producing it, and every failure is CORRUPT_BATCH, never a foreign exception.
 *
 *   gzip    zlib (RFC 1952), `maxOutputLength` bounds it.
 *   snappy  raw snappy (librdkafka, kafkajs-snappy) or snappy-java "xerial" framing (Java clients):
 *           magic 82 53 4e 41 50 50 59 00, int32 version, int32 compatible version, then chunks of
 *           int32 length + raw snappy. Each raw block starts with its uncompressed length (varint).
 *   lz4     LZ4 frame format (lz4 docs/lz4_Frame_format.md); Kafka magic 2 uses proper frames.
 *           The frame is walked first: blocks × block maximum bounds the output.
 *   zstd    zstd frames via zstd-napi's streaming context, stopped once past the maximum.
 */
import { createRequire } from 'node:module';
import zlib from 'node:zlib';
import * as lz4 from 'lz4-napi';
import * as snappy from 'snappy';
import type { CompressionType } from '../core.js';
import { StrataError } from '../errors.js';

/** Largest records section a batch may decompress to. */
export const DECOMPRESSED_BYTES_MAX = 64 * 1024 * 1024;

interface ZstdStreamResult {
  0: number;
  1: number;
  2: number;
}
interface ZstdBinding {
  DCtx: new () => { decompressStream(dst: Uint8Array, src: Uint8Array): ZstdStreamResult; reset(directive: number): void };
  ResetDirective: { sessionOnly: number };
  compress?: never;
}
const require = createRequire(import.meta.url);
// The binding exposes ZSTD_decompressStream, which lets us stop at a byte budget; the package's
// one-shot decompress would allocate whatever size a frame header claims.
const zstdBinding = require('zstd-napi/binding') as ZstdBinding;
const zstd = require('zstd-napi') as { compress(data: Uint8Array, parameters?: Record<string, unknown>): Buffer };

const ZSTD_OUTPUT_CHUNK_BYTES = 128 * 1024;
const SNAPPY_XERIAL_MAGIC = Buffer.from([0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00]);
const SNAPPY_XERIAL_HEADER_BYTES = 16;
const LZ4_FRAME_MAGIC = 0x184d2204;
const LZ4_SKIPPABLE_MAGIC_MASK = 0xfffffff0;
const LZ4_SKIPPABLE_MAGIC = 0x184d2a50;
const LZ4_BLOCK_MAX_BYTES: Readonly<Record<number, number>> = { 4: 64 * 1024, 5: 256 * 1024, 6: 1024 * 1024, 7: 4 * 1024 * 1024 };

function corrupt(message: string, cause?: unknown): StrataError {
  return new StrataError('CORRUPT_BATCH', message, cause === undefined ? {} : { cause });
}

export function compressRecords(compression: CompressionType, data: Buffer): Buffer {
  switch (compression) {
    case 'none':
      return data;
    case 'gzip':
      return zlib.gzipSync(data);
    case 'snappy':
      // Raw snappy: what librdkafka sends; every Kafka client and broker reads it.
      return snappy.compressSync(data);
    case 'lz4':
      return lz4.compressFrameSync(data);
    case 'zstd':
      return zstd.compress(data);
  }
}

export function decompressRecords(compression: CompressionType, data: Buffer, decompressedBytesMax = DECOMPRESSED_BYTES_MAX): Buffer {
  switch (compression) {
    case 'none':
      return data;
    case 'gzip':
      return gunzipBounded(data, decompressedBytesMax);
    case 'snappy':
      return snappyDecompressBounded(data, decompressedBytesMax);
    case 'lz4':
      return lz4DecompressBounded(data, decompressedBytesMax);
    case 'zstd':
      return zstdDecompressBounded(data, decompressedBytesMax);
  }
}

function gunzipBounded(data: Buffer, bytesMax: number): Buffer {
  try {
    return zlib.gunzipSync(data, { maxOutputLength: bytesMax });
  } catch (error) {
    throw corrupt('gzip records do not decompress (or exceed the size maximum)', error);
  }
}

/** Uncompressed length of a raw snappy block: its leading varint (at most 5 bytes, uint32). */
function snappyUncompressedBytes(block: Buffer): number {
  let result = 0;
  let multiplier = 1;
  for (let i = 0; i < 5 && i < block.length; i++) {
    const byte = block[i]!;
    result += (byte & 0x7f) * multiplier;
    if ((byte & 0x80) === 0) return result;
    multiplier *= 128;
  }
  throw corrupt('snappy block has no valid length preamble');
}

function snappyRaw(block: Buffer, bytesMax: number): Buffer {
  if (snappyUncompressedBytes(block) > bytesMax) throw corrupt('snappy records exceed the size maximum');
  try {
    return snappy.uncompressSync(block, { asBuffer: true }) as Buffer;
  } catch (error) {
    throw corrupt('snappy records do not decompress', error);
  }
}

function snappyDecompressBounded(data: Buffer, bytesMax: number): Buffer {
  const isXerial =
    data.length >= SNAPPY_XERIAL_HEADER_BYTES && data.subarray(0, SNAPPY_XERIAL_MAGIC.length).equals(SNAPPY_XERIAL_MAGIC);
  if (!isXerial) return snappyRaw(data, bytesMax);
  const chunks: Buffer[] = [];
  let total = 0;
  let position = SNAPPY_XERIAL_HEADER_BYTES;
  while (position < data.length) {
    if (data.length - position < 4) throw corrupt('truncated xerial snappy chunk length');
    const chunkBytes = data.readInt32BE(position);
    position += 4;
    if (chunkBytes < 0 || chunkBytes > data.length - position) throw corrupt('xerial snappy chunk past end of data');
    const chunk = snappyRaw(data.subarray(position, position + chunkBytes), bytesMax - total);
    total += chunk.length;
    chunks.push(chunk);
    position += chunkBytes;
  }
  return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, total);
}

/**
 * Walks LZ4 frames without decompressing them to bound the output: every block but an
 * uncompressed one may expand to the frame's block maximum. Normal compressors fill every block
 * but the last, so the bound is within one block of the real size.
 */
function lz4OutputBound(data: Buffer): number {
  let bound = 0;
  let position = 0;
  while (position < data.length) {
    if (data.length - position < 4) throw corrupt('truncated lz4 frame magic');
    const magic = data.readUInt32LE(position);
    position += 4;
    if ((magic & LZ4_SKIPPABLE_MAGIC_MASK) >>> 0 === LZ4_SKIPPABLE_MAGIC) {
      if (data.length - position < 4) throw corrupt('truncated lz4 skippable frame');
      position += 4 + data.readUInt32LE(position);
      continue;
    }
    if (magic !== LZ4_FRAME_MAGIC) throw corrupt('not an lz4 frame');
    if (data.length - position < 3) throw corrupt('truncated lz4 frame descriptor');
    const flags = data[position]!;
    const blockDescriptor = data[position + 1]!;
    if (flags >> 6 !== 1) throw corrupt('unsupported lz4 frame version');
    const blockChecksum = (flags & 0x10) !== 0;
    const contentSize = (flags & 0x08) !== 0;
    const contentChecksum = (flags & 0x04) !== 0;
    const dictionaryId = (flags & 0x01) !== 0;
    const blockMaxBytes = LZ4_BLOCK_MAX_BYTES[(blockDescriptor >> 4) & 0x07];
    if (blockMaxBytes === undefined) throw corrupt('invalid lz4 block maximum size');
    position += 2 + (contentSize ? 8 : 0) + (dictionaryId ? 4 : 0) + 1; // + header checksum
    for (;;) {
      if (data.length - position < 4) throw corrupt('truncated lz4 block');
      const blockWord = data.readUInt32LE(position);
      position += 4;
      if (blockWord === 0) break; // EndMark
      const uncompressed = (blockWord & 0x80000000) !== 0;
      const blockBytes = blockWord & 0x7fffffff;
      if (blockBytes > blockMaxBytes || blockBytes > data.length - position) throw corrupt('lz4 block past end of data');
      bound += uncompressed ? blockBytes : blockMaxBytes;
      position += blockBytes + (blockChecksum ? 4 : 0);
    }
    position += contentChecksum ? 4 : 0;
  }
  if (position > data.length) throw corrupt('truncated lz4 frame');
  return bound;
}

function lz4DecompressBounded(data: Buffer, bytesMax: number): Buffer {
  const bound = lz4OutputBound(data);
  // One block of slack: the bound counts the last, partly filled, block as full.
  if (bound > bytesMax + LZ4_BLOCK_MAX_BYTES[7]!) throw corrupt('lz4 records exceed the size maximum');
  let out: Buffer;
  try {
    out = lz4.decompressFrameSync(data);
  } catch (error) {
    throw corrupt('lz4 records do not decompress', error);
  }
  if (out.length > bytesMax) throw corrupt('lz4 records exceed the size maximum');
  return out;
}

let zstdContext: InstanceType<ZstdBinding['DCtx']> | null = null;

function zstdDecompressBounded(data: Buffer, bytesMax: number): Buffer {
  zstdContext ??= new zstdBinding.DCtx();
  const context = zstdContext;
  context.reset(zstdBinding.ResetDirective.sessionOnly);
  const chunks: Buffer[] = [];
  let total = 0;
  let input: Buffer = data;
  let frameOpen = false;
  try {
    for (;;) {
      const chunk = Buffer.allocUnsafe(Math.min(ZSTD_OUTPUT_CHUNK_BYTES, bytesMax - total + 1));
      const result = context.decompressStream(chunk, input);
      const hint = result[0];
      const produced = result[1];
      const consumed = result[2];
      if (produced > 0) {
        total += produced;
        if (total > bytesMax) throw corrupt('zstd records exceed the size maximum');
        chunks.push(chunk.subarray(0, produced));
      }
      input = input.subarray(consumed);
      frameOpen = hint !== 0;
      if (!frameOpen && input.length === 0) break;
      // No progress on either side with output space left: the input is truncated.
      if (produced === 0 && consumed === 0) throw corrupt('truncated zstd records');
    }
  } catch (error) {
    context.reset(zstdBinding.ResetDirective.sessionOnly);
    if (error instanceof StrataError) throw error;
    throw corrupt('zstd records do not decompress', error);
  }
  return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, total);
}

/**
 * Record batch v2 header (Kafka `DefaultRecordBatch`, docs/implementation.html §5.3.1):
 *
 *   baseOffset: int64                 0   set by the broker, not covered by the CRC
 *   batchLength: int32                8   bytes after this field (total = 12 + batchLength)
 *   partitionLeaderEpoch: int32      12   not covered by the CRC
 *   magic: int8 (= 2)                16
 *   crc: uint32                      17   CRC-32C over attributes .. end of batch
 *   attributes: int16                21   bits 0-2 compression, 3 timestampType, 4 transactional,
 *                                         5 control, 6 hasDeleteHorizonMs
 *   lastOffsetDelta: int32           23
 *   baseTimestamp: int64             27
 *   maxTimestamp: int64              35
 *   producerId: int64                43
 *   producerEpoch: int16             51
 *   baseSequence: int32              53
 *   recordCount: int32               57
 *   records                          61
 */
import type { CompressionType } from '../core.js';
import { assert, StrataError } from '../errors.js';
import { crc32cRange } from './crc32c.js';
import { readInt64, writeInt64 } from './varint.js';

export const RECORD_BATCH_HEADER_BYTES = 61;
/** baseOffset + batchLength: the part of the header batchLength does not count. */
export const LOG_OVERHEAD_BYTES = 12;
export const RECORD_BATCH_MAGIC = 2;

export const OFFSET_BASE_OFFSET = 0;
export const OFFSET_BATCH_LENGTH = 8;
export const OFFSET_PARTITION_LEADER_EPOCH = 12;
export const OFFSET_MAGIC = 16;
export const OFFSET_CRC = 17;
export const OFFSET_ATTRIBUTES = 21;
export const OFFSET_LAST_OFFSET_DELTA = 23;
export const OFFSET_BASE_TIMESTAMP = 27;
export const OFFSET_MAX_TIMESTAMP = 35;
export const OFFSET_PRODUCER_ID = 43;
export const OFFSET_PRODUCER_EPOCH = 51;
export const OFFSET_BASE_SEQUENCE = 53;
export const OFFSET_RECORD_COUNT = 57;

export const ATTRIBUTE_COMPRESSION_MASK = 0x07;
export const ATTRIBUTE_TIMESTAMP_TYPE = 0x08;
export const ATTRIBUTE_TRANSACTIONAL = 0x10;
export const ATTRIBUTE_CONTROL = 0x20;
export const ATTRIBUTE_DELETE_HORIZON = 0x40;

export const COMPRESSION_CODES: Readonly<Record<CompressionType, number>> = {
  none: 0,
  gzip: 1,
  snappy: 2,
  lz4: 3,
  zstd: 4,
};
const COMPRESSION_BY_CODE: readonly CompressionType[] = ['none', 'gzip', 'snappy', 'lz4', 'zstd'];

export interface RecordBatchHeader {
  baseOffset: number;
  batchLength: number;
  partitionLeaderEpoch: number;
  magic: number;
  crc: number;
  attributes: number;
  lastOffsetDelta: number;
  baseTimestamp: number;
  maxTimestamp: number;
  producerId: number;
  producerEpoch: number;
  baseSequence: number;
  recordCount: number;
  compression: CompressionType;
  timestampType: 'create' | 'logAppend';
  isTransactional: boolean;
  isControl: boolean;
}

function corrupt(message: string): StrataError {
  return new StrataError('CORRUPT_BATCH', message);
}

/**
 * Parses the 61-byte header at `offset`. Only the header bytes must be present (callers may read
 * a header alone from disk); use splitBatches to check a whole batch's length.
 * Throws CORRUPT_BATCH (truncated, magic ≠ 2, impossible lengths or counts) or
 * UNSUPPORTED_COMPRESSION (codec 5-7).
 */
export function readBatchHeader(buf: Buffer, offset = 0): RecordBatchHeader {
  if (offset < 0 || buf.length - offset < RECORD_BATCH_HEADER_BYTES) throw corrupt('truncated record batch header');
  const magic = buf.readInt8(offset + OFFSET_MAGIC);
  if (magic !== RECORD_BATCH_MAGIC) throw corrupt(`unsupported record batch magic ${magic}`);
  const batchLength = buf.readInt32BE(offset + OFFSET_BATCH_LENGTH);
  if (batchLength < RECORD_BATCH_HEADER_BYTES - LOG_OVERHEAD_BYTES) throw corrupt(`batch length ${batchLength} too small`);
  const attributes = buf.readInt16BE(offset + OFFSET_ATTRIBUTES);
  const compressionCode = attributes & ATTRIBUTE_COMPRESSION_MASK;
  const compression = COMPRESSION_BY_CODE[compressionCode];
  if (compression === undefined) {
    throw new StrataError('UNSUPPORTED_COMPRESSION', `unknown compression codec ${compressionCode}`);
  }
  const lastOffsetDelta = buf.readInt32BE(offset + OFFSET_LAST_OFFSET_DELTA);
  const recordCount = buf.readInt32BE(offset + OFFSET_RECORD_COUNT);
  if (lastOffsetDelta < 0) throw corrupt(`negative lastOffsetDelta ${lastOffsetDelta}`);
  if (recordCount < 0) throw corrupt(`negative record count ${recordCount}`);
  const baseOffset = readInt64(buf, offset + OFFSET_BASE_OFFSET);
  return {
    baseOffset,
    batchLength,
    partitionLeaderEpoch: buf.readInt32BE(offset + OFFSET_PARTITION_LEADER_EPOCH),
    magic,
    crc: buf.readUInt32BE(offset + OFFSET_CRC),
    attributes,
    lastOffsetDelta,
    baseTimestamp: readInt64(buf, offset + OFFSET_BASE_TIMESTAMP),
    maxTimestamp: readInt64(buf, offset + OFFSET_MAX_TIMESTAMP),
    producerId: readInt64(buf, offset + OFFSET_PRODUCER_ID),
    producerEpoch: buf.readInt16BE(offset + OFFSET_PRODUCER_EPOCH),
    baseSequence: buf.readInt32BE(offset + OFFSET_BASE_SEQUENCE),
    recordCount,
    compression,
    timestampType: attributes & ATTRIBUTE_TIMESTAMP_TYPE ? 'logAppend' : 'create',
    isTransactional: (attributes & ATTRIBUTE_TRANSACTIONAL) !== 0,
    isControl: (attributes & ATTRIBUTE_CONTROL) !== 0,
  };
}

/**
 * Splits concatenated batches into views (no copy), checking each length and magic. Empty input
 * gives []; a partial batch at the end (Kafka allows one in Fetch responses, never in Produce)
 * is CORRUPT_BATCH here: the core only ever handles whole batches.
 */
export function splitBatches(data: Buffer): Buffer[] {
  const batches: Buffer[] = [];
  let position = 0;
  while (position < data.length) {
    const header = readBatchHeader(data, position);
    const total = LOG_OVERHEAD_BYTES + header.batchLength;
    if (total > data.length - position) throw corrupt(`batch length ${header.batchLength} past end of data`);
    batches.push(data.subarray(position, position + total));
    position += total;
  }
  return batches;
}

/** True when the stored CRC-32C matches attributes..end. False for anything too short to hold one. */
export function verifyBatchCrc(batch: Buffer): boolean {
  if (batch.length < RECORD_BATCH_HEADER_BYTES) return false;
  return batch.readUInt32BE(OFFSET_CRC) === crc32cRange(batch, OFFSET_ATTRIBUTES, batch.length);
}

/** Records in a stored batch (at `at`): 0 for a batch compaction emptied. */
export function batchRecordCount(buf: Buffer, at = 0): number {
  return buf.readInt32BE(at + OFFSET_RECORD_COUNT);
}

/** Assigns the base offset in place; the CRC does not cover it, so it stays valid. */
export function setBaseOffset(batch: Buffer, baseOffset: number): void {
  assert(Number.isSafeInteger(baseOffset) && baseOffset >= 0, `base offset ${baseOffset} must be a safe non-negative integer`);
  assert(batch.length >= RECORD_BATCH_HEADER_BYTES, 'setBaseOffset on a buffer shorter than a batch header');
  writeInt64(batch, OFFSET_BASE_OFFSET, baseOffset);
}

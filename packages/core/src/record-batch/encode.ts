/**
 * Encoder: messages → one record batch v2. Sizes are computed first so the batch is written into
 * one exactly sized buffer (one more, the compressed one, when compressing).
 *
 *   Record => length:varint attributes:int8 timestampDelta:varlong offsetDelta:varint
 *             keyLength:varint key valueLength:varint value headerCount:varint [Header]
 *   Header => keyLength:varint key:utf8 valueLength:varint value        (length -1 = null)
 */
import type { CompressionType, ProducerIdentity } from '../core.js';
import { assert, StrataError } from '../errors.js';
import type { Message } from '../message.js';
import { compressRecords } from './compression.js';
import { crc32c, crc32cRange } from './crc32c.js';
import {
  ATTRIBUTE_CONTROL,
  ATTRIBUTE_TIMESTAMP_TYPE,
  ATTRIBUTE_TRANSACTIONAL,
  COMPRESSION_CODES,
  LOG_OVERHEAD_BYTES,
  OFFSET_ATTRIBUTES,
  OFFSET_BASE_SEQUENCE,
  OFFSET_BASE_TIMESTAMP,
  OFFSET_BATCH_LENGTH,
  OFFSET_CRC,
  OFFSET_LAST_OFFSET_DELTA,
  OFFSET_MAGIC,
  OFFSET_MAX_TIMESTAMP,
  OFFSET_PARTITION_LEADER_EPOCH,
  OFFSET_PRODUCER_EPOCH,
  OFFSET_PRODUCER_ID,
  OFFSET_RECORD_COUNT,
  RECORD_BATCH_HEADER_BYTES,
  RECORD_BATCH_MAGIC,
} from './header.js';
import { sizeOfVarint, sizeOfVarlong, writeInt32, writeInt64, writeVarint, writeVarlong } from './varint.js';

export interface EncodeOptions {
  baseOffset?: number;
  compression?: CompressionType;
  producer?: ProducerIdentity;
}

/** Options for batches whose offsets have gaps (compaction) or that carry special attributes. */
export interface EncodeRecordsOptions extends EncodeOptions {
  /** Offset delta of each message; default its index. Must be increasing. */
  offsetDeltas?: readonly number[];
  /** Default the last offset delta; compaction keeps the original batch's so offsets stay dense. */
  lastOffsetDelta?: number;
  partitionLeaderEpoch?: number;
  timestampType?: 'create' | 'logAppend';
  isTransactional?: boolean;
  isControl?: boolean;
  /** Default the first message's timestamp (-1 for an empty batch). */
  baseTimestamp?: number;
  /** Default the largest message timestamp; compaction keeps the original batches' maximum. */
  maxTimestamp?: number;
}

function bytesField(value: Buffer | null): number {
  return value === null ? sizeOfVarint(-1) : sizeOfVarint(value.length) + value.length;
}

function writeBytesField(buf: Buffer, offset: number, value: Buffer | null): number {
  if (value === null) return writeVarint(buf, offset, -1);
  offset = writeVarint(buf, offset, value.length);
  // TypedArray#set: Buffer#copy builds a fresh Uint8Array view per call (its slow path for small copies).
  buf.set(value, offset);
  return offset + value.length;
}

/** Longer header keys are not kept: a few fixed short keys (mqtt.*, DLQ origin) are the hot ones. */
const CACHED_KEY_LENGTH_MAX = 64;
/** Header keys kept encoded; past it the cache starts again (a bound, not an LRU: keys are few). */
const HEADER_KEY_CACHE_MAX = 256;

/**
 * UTF-8 bytes of recently used header keys, across calls: handlers put the same few keys on every
 * message (one batch per MQTT publish), and encoding them is a string scan and a write each time.
 */
const headerKeyCache = new Map<string, Buffer>();

function headerKeyBytes(key: string): Buffer {
  const cached = headerKeyCache.get(key);
  if (cached !== undefined) return cached;
  const bytes = Buffer.from(key, 'utf8');
  if (key.length <= CACHED_KEY_LENGTH_MAX) {
    if (headerKeyCache.size >= HEADER_KEY_CACHE_MAX) headerKeyCache.clear();
    headerKeyCache.set(key, bytes);
  }
  return bytes;
}

function recordBodyBytes(message: Message, timestampDelta: number, offsetDelta: number, headerKeys: Buffer[]): number {
  let size = 1 + sizeOfVarlong(timestampDelta) + sizeOfVarint(offsetDelta) + bytesField(message.key) + bytesField(message.value);
  size += sizeOfVarint(message.headers.length);
  for (let h = 0; h < message.headers.length; h++) {
    const header = message.headers[h]!;
    const keyBytes = headerKeyBytes(header.key);
    headerKeys.push(keyBytes);
    size += sizeOfVarint(keyBytes.length) + keyBytes.length + bytesField(header.value);
  }
  return size;
}

export function encodeRecordBatch(messages: readonly Message[], options: EncodeRecordsOptions = {}): Buffer {
  const baseOffset = options.baseOffset ?? 0;
  const compression = options.compression ?? 'none';
  const offsetDeltas = options.offsetDeltas;
  assert(offsetDeltas === undefined || offsetDeltas.length === messages.length, 'one offset delta per message');
  const lastOffsetDelta = options.lastOffsetDelta ?? (offsetDeltas ? (offsetDeltas[offsetDeltas.length - 1] ?? 0) : Math.max(0, messages.length - 1));

  const baseTimestamp = options.baseTimestamp ?? (messages.length > 0 ? messages[0]!.timestamp : -1);
  let maxTimestamp = messages.length > 0 ? messages[0]!.timestamp : baseTimestamp;
  const bodyBytes: number[] = new Array(messages.length);
  const headerKeys: Buffer[] = [];
  let recordsBytes = 0;
  for (let i = 0; i < messages.length; i++) {
    const message = messages[i]!;
    if (!Number.isSafeInteger(message.timestamp)) {
      // Timestamps may come from clients (REST, MQTT properties): answer, do not crash.
      throw new StrataError('INVALID_ARGUMENT', `message timestamp must be an integer number of ms, got ${String(message.timestamp)}`);
    }
    if (message.timestamp > maxTimestamp) maxTimestamp = message.timestamp;
    const offsetDelta = offsetDeltas ? offsetDeltas[i]! : i;
    assert(offsetDelta >= 0 && offsetDelta <= lastOffsetDelta, 'offset delta within the batch');
    const body = recordBodyBytes(message, message.timestamp - baseTimestamp, offsetDelta, headerKeys);
    bodyBytes[i] = body;
    recordsBytes += sizeOfVarint(body) + body;
  }

  // Uncompressed records are written straight into the batch (one allocation, no copy), through a
  // view of the region the CRC covers (attributes to the end), which the CRC then takes whole.
  const direct = compression === 'none' ? Buffer.allocUnsafe(RECORD_BATCH_HEADER_BYTES + recordsBytes) : null;
  const crcRegion = direct ? direct.subarray(OFFSET_ATTRIBUTES) : null;
  const records = crcRegion ?? Buffer.allocUnsafe(recordsBytes);
  const recordsStart = crcRegion ? RECORD_BATCH_HEADER_BYTES - OFFSET_ATTRIBUTES : 0;
  let position = recordsStart;
  let headerIndex = 0;
  for (let i = 0; i < messages.length; i++) {
    const message = messages[i]!;
    position = writeVarint(records, position, bodyBytes[i]!);
    records[position++] = 0; // record attributes: unused
    position = writeVarlong(records, position, message.timestamp - baseTimestamp);
    position = writeVarint(records, position, offsetDeltas ? offsetDeltas[i]! : i);
    position = writeBytesField(records, position, message.key);
    position = writeBytesField(records, position, message.value);
    position = writeVarint(records, position, message.headers.length);
    for (let h = 0; h < message.headers.length; h++) {
      const header = message.headers[h]!;
      const keyBytes = headerKeys[headerIndex++]!;
      position = writeVarint(records, position, keyBytes.length);
      records.set(keyBytes, position);
      position += keyBytes.length;
      position = writeBytesField(records, position, header.value);
    }
  }
  assert(position - recordsStart === recordsBytes, 'record sizes computed and written agree');

  const payload = direct ? null : compressRecords(compression, records);
  const batch = direct ?? Buffer.allocUnsafe(RECORD_BATCH_HEADER_BYTES + payload!.length);
  let attributes = COMPRESSION_CODES[compression];
  if (options.timestampType === 'logAppend') attributes |= ATTRIBUTE_TIMESTAMP_TYPE;
  if (options.isTransactional) attributes |= ATTRIBUTE_TRANSACTIONAL;
  if (options.isControl) attributes |= ATTRIBUTE_CONTROL;
  const producerEpoch = options.producer?.producerEpoch ?? -1;
  writeInt64(batch, 0, baseOffset);
  writeInt32(batch, OFFSET_BATCH_LENGTH, batch.length - LOG_OVERHEAD_BYTES);
  writeInt32(batch, OFFSET_PARTITION_LEADER_EPOCH, options.partitionLeaderEpoch ?? -1);
  batch[OFFSET_MAGIC] = RECORD_BATCH_MAGIC;
  batch[OFFSET_ATTRIBUTES] = attributes >>> 8;
  batch[OFFSET_ATTRIBUTES + 1] = attributes;
  writeInt32(batch, OFFSET_LAST_OFFSET_DELTA, lastOffsetDelta);
  writeInt64(batch, OFFSET_BASE_TIMESTAMP, baseTimestamp);
  writeInt64(batch, OFFSET_MAX_TIMESTAMP, options.maxTimestamp ?? maxTimestamp);
  writeInt64(batch, OFFSET_PRODUCER_ID, options.producer?.producerId ?? -1);
  batch[OFFSET_PRODUCER_EPOCH] = producerEpoch >>> 8;
  batch[OFFSET_PRODUCER_EPOCH + 1] = producerEpoch;
  writeInt32(batch, OFFSET_BASE_SEQUENCE, options.producer?.baseSequence ?? -1);
  writeInt32(batch, OFFSET_RECORD_COUNT, messages.length);
  if (payload) payload.copy(batch, RECORD_BATCH_HEADER_BYTES);
  writeInt32(batch, OFFSET_CRC, crcRegion ? crc32c(crcRegion) : crc32cRange(batch, OFFSET_ATTRIBUTES, batch.length));
  return batch;
}

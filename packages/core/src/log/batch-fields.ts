/**
 * The few record batch v2 header fields the log needs, read straight from the bytes (no object per
 * batch on the hot path). Offsets as in record-batch/header.ts.
 */
import { readInt64 } from '../record-batch/varint.js';
import {
  LOG_OVERHEAD_BYTES,
  OFFSET_ATTRIBUTES,
  OFFSET_BASE_OFFSET,
  OFFSET_BASE_SEQUENCE,
  OFFSET_BATCH_LENGTH,
  OFFSET_LAST_OFFSET_DELTA,
  OFFSET_MAGIC,
  OFFSET_MAX_TIMESTAMP,
  OFFSET_PRODUCER_EPOCH,
  OFFSET_PRODUCER_ID,
  OFFSET_RECORD_COUNT,
  RECORD_BATCH_HEADER_BYTES,
  RECORD_BATCH_MAGIC,
} from '../record-batch/header.js';

export { LOG_OVERHEAD_BYTES, RECORD_BATCH_HEADER_BYTES, RECORD_BATCH_MAGIC, OFFSET_MAGIC };
export { batchRecordCount } from '../record-batch/header.js';

export interface BatchFields {
  readonly attributes: number;
  readonly lastOffsetDelta: number;
  readonly maxTimestamp: number;
  readonly producerId: number;
  readonly producerEpoch: number;
  readonly baseSequence: number;
  readonly recordCount: number;
}

export function batchBaseOffset(buf: Buffer, at = 0): number {
  return readInt64(buf, at + OFFSET_BASE_OFFSET);
}

export function batchTotalBytes(buf: Buffer, at = 0): number {
  return LOG_OVERHEAD_BYTES + buf.readInt32BE(at + OFFSET_BATCH_LENGTH);
}

export function batchLastOffsetDelta(buf: Buffer, at = 0): number {
  return buf.readInt32BE(at + OFFSET_LAST_OFFSET_DELTA);
}

export function batchMaxTimestamp(buf: Buffer, at = 0): number {
  return readInt64(buf, at + OFFSET_MAX_TIMESTAMP);
}

export function readBatchFields(buf: Buffer, at = 0): BatchFields {
  return {
    attributes: buf.readInt16BE(at + OFFSET_ATTRIBUTES),
    lastOffsetDelta: buf.readInt32BE(at + OFFSET_LAST_OFFSET_DELTA),
    maxTimestamp: readInt64(buf, at + OFFSET_MAX_TIMESTAMP),
    producerId: readInt64(buf, at + OFFSET_PRODUCER_ID),
    producerEpoch: buf.readInt16BE(at + OFFSET_PRODUCER_EPOCH),
    baseSequence: buf.readInt32BE(at + OFFSET_BASE_SEQUENCE),
    recordCount: buf.readInt32BE(at + OFFSET_RECORD_COUNT),
  };
}

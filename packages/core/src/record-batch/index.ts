/**
 * Record batch v2 codec (Kafka's format, magic 2): the entry format of the core (design brief §4).
 * Pure functions: bytes in, data out.
 */
export {
  RECORD_BATCH_HEADER_BYTES,
  LOG_OVERHEAD_BYTES,
  readBatchHeader,
  splitBatches,
  verifyBatchCrc,
  setBaseOffset,
  batchRecordCount,
  type RecordBatchHeader,
} from './header.js';
export { encodeRecordBatch, type EncodeOptions, type EncodeRecordsOptions } from './encode.js';
export { decodeRecordBatch, type DecodedRecordBatch } from './decode.js';
export { crc32c } from './crc32c.js';
export { DECOMPRESSED_BYTES_MAX } from './compression.js';

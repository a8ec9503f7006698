/**
 * Decoder: one record batch v2 → header and messages. Safe on any input: every length is checked
 * against the data, the record count against the bytes that could hold it, decompression is
 * bounded, and the only error thrown is a StrataError (CORRUPT_BATCH, UNSUPPORTED_COMPRESSION).
 * The CRC is not checked here (the write path does it once with verifyBatchCrc); keys, values and
 * header values are views into the batch (or its decompressed records), not copies.
 */
import { StrataError } from '../errors.js';
import type { Header, StoredMessage } from '../message.js';
import { decompressRecords, DECOMPRESSED_BYTES_MAX } from './compression.js';
import { LOG_OVERHEAD_BYTES, readBatchHeader, RECORD_BATCH_HEADER_BYTES, type RecordBatchHeader } from './header.js';
import { ByteReader } from './varint.js';

/** A record is at least 7 bytes: length, attributes, timestampDelta, offsetDelta, key, value, header count. */
const RECORD_BYTES_MIN = 7;

function corrupt(message: string): StrataError {
  return new StrataError('CORRUPT_BATCH', message);
}

export interface DecodedRecordBatch {
  header: RecordBatchHeader;
  messages: StoredMessage[];
}

export function decodeRecordBatch(batch: Buffer, decompressedBytesMax = DECOMPRESSED_BYTES_MAX): DecodedRecordBatch {
  const header = readBatchHeader(batch, 0);
  const total = LOG_OVERHEAD_BYTES + header.batchLength;
  if (total > batch.length) throw corrupt('batch length past end of data');
  const payload = batch.subarray(RECORD_BATCH_HEADER_BYTES, total);
  const records = decompressRecords(header.compression, payload, decompressedBytesMax);
  if (header.recordCount > records.length / RECORD_BYTES_MIN) throw corrupt(`record count ${header.recordCount} exceeds the data`);

  const reader = new ByteReader(records, 0, records.length);
  const keys = new HeaderKeys();
  const messages: StoredMessage[] = new Array(header.recordCount);
  const logAppendTime = header.timestampType === 'logAppend';
  let previousOffsetDelta = -1;
  for (let i = 0; i < header.recordCount; i++) {
    const length = reader.varint();
    if (length < RECORD_BYTES_MIN - 1 || length > reader.remaining()) throw corrupt('record length past end of data');
    const end = reader.position + length;
    // Narrow the one reader to this record: no field may read past the record's own length.
    const record = reader;
    record.end = end;
    record.int8(); // attributes: unused in v2
    const timestampDelta = record.varlong();
    const offsetDelta = record.varint();
    if (offsetDelta <= previousOffsetDelta || offsetDelta > header.lastOffsetDelta) throw corrupt(`offset delta ${offsetDelta} out of order or past lastOffsetDelta`);
    previousOffsetDelta = offsetDelta;
    const key = record.nullableBytes();
    const value = record.nullableBytes();
    const headerCount = record.varint();
    if (headerCount < 0 || headerCount > record.remaining() / 2) throw corrupt(`header count ${headerCount} exceeds the record`);
    const headers: Header[] = new Array(headerCount);
    for (let h = 0; h < headerCount; h++) {
      const keyLength = record.varint();
      const keyStart = record.skip(keyLength);
      headers[h] = { key: keys.key(records, h, keyStart, keyLength), value: record.nullableBytes() };
    }
    if (record.position !== end) throw corrupt('record length does not match its fields');
    reader.end = records.length;
    messages[i] = {
      offset: header.baseOffset + offsetDelta,
      key,
      value,
      headers,
      timestamp: logAppendTime ? header.maxTimestamp : header.baseTimestamp + timestampDelta,
    };
  }
  if (reader.remaining() !== 0) throw corrupt('bytes after the last record');
  return { header, messages };
}

/** Longer header keys are decoded each time: comparing them would cost about what decoding does. */
const REUSED_KEY_BYTES_MAX = 64;

/**
 * The records of one batch usually carry the same header keys in the same places (one producer,
 * one protocol handler). A key whose bytes equal the previous record's key at the same index reuses
 * that string: a byte comparison instead of a UTF-8 decode and a new string per header.
 */
class HeaderKeys {
  private readonly starts: number[] = [];
  private readonly lengths: number[] = [];
  private readonly strings: string[] = [];

  key(records: Buffer, index: number, start: number, length: number): string {
    const previousStart = this.starts[index];
    if (previousStart !== undefined && this.lengths[index] === length && length <= REUSED_KEY_BYTES_MAX) {
      let same = true;
      for (let i = 0; i < length; i++) {
        if (records[previousStart + i] !== records[start + i]) {
          same = false;
          break;
        }
      }
      if (same) return this.strings[index]!;
    }
    const key = records.toString('utf8', start, start + length);
    this.starts[index] = start;
    this.lengths[index] = length;
    this.strings[index] = key;
    return key;
  }
}

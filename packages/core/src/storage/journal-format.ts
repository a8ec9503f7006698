/**
 * Journal record framing. The journal is the one file every partition's appends go through, written
 * and fsynced once per group commit; segment files are only fsynced at checkpoints.
 *
 *   bodyBytes: uint32     0   bytes after this 20-byte header
 *   crc: uint32           4   CRC-32C over header bytes 8..20 and the first 21 bytes of the body
 *   type: uint8           8   1 = record batch
 *   reserved: 3 bytes     9   zero
 *   topicId: uint32      12   the topic's numeric id (a deleted-then-recreated topic gets a new one)
 *   partition: uint32    16
 *   body                 20   one record batch v2, base offset set
 *
 * The CRC stops at byte 21 of the batch because the batch's own CRC-32C covers attributes..end
 * (byte 21 onwards): together they cover every byte without checksumming the payload twice.
 */
import { crc32cRange } from '../record-batch/crc32c.js';
import { LOG_OVERHEAD_BYTES, RECORD_BATCH_HEADER_BYTES, verifyBatchCrc } from '../record-batch/header.js';

export const JOURNAL_RECORD_HEADER_BYTES = 20;
export const JOURNAL_RECORD_TYPE_BATCH = 1;
/** Bytes of the batch covered by the journal CRC (baseOffset .. crc of the batch). */
const BATCH_PREFIX_COVERED_BYTES = 21;
/** A body larger than this is garbage, not a record (entries are far smaller). */
export const JOURNAL_BODY_BYTES_MAX = 256 * 1024 * 1024;

/**
 * Writes one whole record (header and batch) at `at` of a group's journal buffer; returns its
 * size. The CRC range is contiguous there: header bytes 8..20 directly precede the batch.
 */
export function writeJournalRecord(target: Buffer, at: number, topicId: number, partition: number, batch: Buffer): number {
  target.writeUInt32BE(batch.length, at);
  target.writeUInt32BE(JOURNAL_RECORD_TYPE_BATCH << 24, at + 8); // type, then 3 reserved zero bytes
  target.writeUInt32BE(topicId, at + 12);
  target.writeUInt32BE(partition, at + 16);
  target.set(batch, at + JOURNAL_RECORD_HEADER_BYTES); // TypedArray#set: no view object per copy, unlike Buffer#copy
  const covered = Math.min(batch.length, BATCH_PREFIX_COVERED_BYTES);
  target.writeUInt32BE(crc32cRange(target, at + 8, at + JOURNAL_RECORD_HEADER_BYTES + covered), at + 4);
  return JOURNAL_RECORD_HEADER_BYTES + batch.length;
}

/** Header bytes 8..20 and the batch's first 21 bytes side by side: the CRC's input when they are apart. */
const headerCrcScratch = Buffer.alloc(JOURNAL_RECORD_HEADER_BYTES - 8 + BATCH_PREFIX_COVERED_BYTES);

/**
 * Writes only the 20-byte header of a record at `at` of `target`, for a batch written right after
 * it from its own buffer (writev), so that a large batch is not copied into the group's buffer.
 */
export function writeJournalRecordHeader(target: Buffer, at: number, topicId: number, partition: number, batch: Buffer): void {
  target.writeUInt32BE(batch.length, at);
  target.writeUInt32BE(JOURNAL_RECORD_TYPE_BATCH << 24, at + 8);
  target.writeUInt32BE(topicId, at + 12);
  target.writeUInt32BE(partition, at + 16);
  const covered = Math.min(batch.length, BATCH_PREFIX_COVERED_BYTES);
  target.copy(headerCrcScratch, 0, at + 8, at + JOURNAL_RECORD_HEADER_BYTES);
  batch.copy(headerCrcScratch, JOURNAL_RECORD_HEADER_BYTES - 8, 0, covered);
  target.writeUInt32BE(crc32cRange(headerCrcScratch, 0, JOURNAL_RECORD_HEADER_BYTES - 8 + covered), at + 4);
}

export interface JournalRecord {
  readonly topicId: number;
  readonly partition: number;
  readonly batch: Buffer;
}

export type ParseResult =
  | { readonly kind: 'record'; readonly record: JournalRecord; readonly bytes: number }
  | { readonly kind: 'need'; readonly bytes: number }
  | { readonly kind: 'invalid'; readonly reason: string };

/** Parses one record at `position` of `buffer` (which may hold only part of the file). */
export function parseJournalRecord(buffer: Buffer, position: number): ParseResult {
  const available = buffer.length - position;
  if (available < JOURNAL_RECORD_HEADER_BYTES) return { kind: 'need', bytes: JOURNAL_RECORD_HEADER_BYTES };
  const bodyBytes = buffer.readUInt32BE(position);
  if (bodyBytes < RECORD_BATCH_HEADER_BYTES || bodyBytes > JOURNAL_BODY_BYTES_MAX) {
    return { kind: 'invalid', reason: `body length ${bodyBytes}` };
  }
  const total = JOURNAL_RECORD_HEADER_BYTES + bodyBytes;
  if (available < total) return { kind: 'need', bytes: total };
  const header = buffer.subarray(position, position + JOURNAL_RECORD_HEADER_BYTES);
  const body = buffer.subarray(position + JOURNAL_RECORD_HEADER_BYTES, position + total);
  if (header.readUInt8(8) !== JOURNAL_RECORD_TYPE_BATCH) return { kind: 'invalid', reason: 'record type' };
  const covered = Math.min(body.length, BATCH_PREFIX_COVERED_BYTES);
  if (header.readUInt32BE(4) !== crc32cRange(buffer, position + 8, position + JOURNAL_RECORD_HEADER_BYTES + covered)) {
    return { kind: 'invalid', reason: 'record crc' };
  }
  if (LOG_OVERHEAD_BYTES + body.readInt32BE(8) !== body.length) return { kind: 'invalid', reason: 'batch length' };
  if (!verifyBatchCrc(body)) return { kind: 'invalid', reason: 'batch crc' };
  return {
    kind: 'record',
    record: { topicId: header.readUInt32BE(12), partition: header.readUInt32BE(16), batch: body },
    bytes: total,
  };
}

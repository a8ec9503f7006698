/**
 * Journal record framing. The journal is the one file every partition's appends go through, written
 * and fsynced once per group commit; segment files are only fsynced at checkpoints.
 *
 *   bodyBytes: uint32     0   bytes after this 20-byte header
 *   crc: uint32           4   CRC-32C over header bytes 8..20 and the first 21 bytes of the body
 *   type: uint8           8   2 = record batch, 3 = end of file (1 = record batch of the first format)
 *   fileTag: uint24       9   the low 24 bits of the file's sequence number (0 in the first format)
 *   topicId: uint32      12   the topic's numeric id (a deleted-then-recreated topic gets a new one)
 *   partition: uint32    16
 *   body                 20   one record batch v2, base offset set (none for an end record)
 *
 * The CRC stops at byte 21 of the batch because the batch's own CRC-32C covers attributes..end
 * (byte 21 onwards): together they cover every byte without checksumming the payload twice.
 *
 * Why the file tag: journal files are recycled (an old file is renamed to the next sequence number
 * and overwritten in place, see journal.ts), so behind the last record written in a file's current
 * life lie whole, CRC-valid records of its earlier lives. Their tag is an older sequence number's:
 * replay stops at the first record whose tag is not the file's own. (RocksDB's recyclable log
 * format carries the log number in each record for the same reason.) The end record marks a file
 * that was finished at a rotation, so replay knows to go on to the next file even though stale
 * records follow.
 */
import { crc32cRange } from '../record-batch/crc32c.js';
import { LOG_OVERHEAD_BYTES, RECORD_BATCH_HEADER_BYTES, verifyBatchCrc } from '../record-batch/header.js';

export const JOURNAL_RECORD_HEADER_BYTES = 20;
/** Record batch of the first journal format: no file tag, files never recycled. */
export const JOURNAL_RECORD_TYPE_BATCH_UNTAGGED = 1;
export const JOURNAL_RECORD_TYPE_BATCH = 2;
export const JOURNAL_RECORD_TYPE_END = 3;
/** Bytes of the batch covered by the journal CRC (baseOffset .. crc of the batch). */
const BATCH_PREFIX_COVERED_BYTES = 21;
/** A body larger than this is garbage, not a record (entries are far smaller). */
export const JOURNAL_BODY_BYTES_MAX = 256 * 1024 * 1024;
const FILE_TAG_MASK = 0xffffff;

/** The tag that the records of journal file `seq` carry. */
export function journalFileTag(seq: number): number {
  return seq & FILE_TAG_MASK;
}

/**
 * Writes one whole record (header and batch) at `at` of a group's journal buffer; returns its
 * size. The CRC range is contiguous there: header bytes 8..20 directly precede the batch.
 */
export function writeJournalRecord(target: Buffer, at: number, fileTag: number, topicId: number, partition: number, batch: Buffer): number {
  target.writeUInt32BE(batch.length, at);
  target.writeUInt32BE(((JOURNAL_RECORD_TYPE_BATCH << 24) | fileTag) >>> 0, at + 8);
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
export function writeJournalRecordHeader(target: Buffer, at: number, fileTag: number, topicId: number, partition: number, batch: Buffer): void {
  target.writeUInt32BE(batch.length, at);
  target.writeUInt32BE(((JOURNAL_RECORD_TYPE_BATCH << 24) | fileTag) >>> 0, at + 8);
  target.writeUInt32BE(topicId, at + 12);
  target.writeUInt32BE(partition, at + 16);
  const covered = Math.min(batch.length, BATCH_PREFIX_COVERED_BYTES);
  target.copy(headerCrcScratch, 0, at + 8, at + JOURNAL_RECORD_HEADER_BYTES);
  batch.copy(headerCrcScratch, JOURNAL_RECORD_HEADER_BYTES - 8, 0, covered);
  target.writeUInt32BE(crc32cRange(headerCrcScratch, 0, JOURNAL_RECORD_HEADER_BYTES - 8 + covered), at + 4);
}

/** The 20-byte record that ends a journal file at a rotation. */
export function journalEndRecord(fileTag: number): Buffer {
  const record = Buffer.alloc(JOURNAL_RECORD_HEADER_BYTES);
  record.writeUInt32BE(((JOURNAL_RECORD_TYPE_END << 24) | fileTag) >>> 0, 8);
  record.writeUInt32BE(crc32cRange(record, 8, JOURNAL_RECORD_HEADER_BYTES), 4);
  return record;
}

export interface JournalRecord {
  readonly topicId: number;
  readonly partition: number;
  readonly batch: Buffer;
}

export type ParseResult =
  | { readonly kind: 'record'; readonly record: JournalRecord; readonly bytes: number }
  | { readonly kind: 'end'; readonly bytes: number }
  | { readonly kind: 'need'; readonly bytes: number }
  | { readonly kind: 'invalid'; readonly reason: string };

/**
 * What a file's records must look like: tagged with the file's own tag (`fileTag`), or untagged
 * (`'untagged'`: a file of the first format, whose records all have type 1 and tag 0).
 */
export type JournalFileFormat = number | 'untagged';

/** Parses one record at `position` of `buffer` (which may hold only part of the file). */
export function parseJournalRecord(buffer: Buffer, position: number, format: JournalFileFormat): ParseResult {
  const available = buffer.length - position;
  if (available < JOURNAL_RECORD_HEADER_BYTES) return { kind: 'need', bytes: JOURNAL_RECORD_HEADER_BYTES };
  const bodyBytes = buffer.readUInt32BE(position);
  const typeAndTag = buffer.readUInt32BE(position + 8);
  const type = typeAndTag >>> 24;
  const tag = typeAndTag & FILE_TAG_MASK;
  if (format === 'untagged' ? type !== JOURNAL_RECORD_TYPE_BATCH_UNTAGGED || tag !== 0 : type !== JOURNAL_RECORD_TYPE_BATCH && type !== JOURNAL_RECORD_TYPE_END) {
    return { kind: 'invalid', reason: 'record type' };
  }
  if (format !== 'untagged' && tag !== format) return { kind: 'invalid', reason: 'file tag (a record of an earlier life of a recycled file)' };
  if (type === JOURNAL_RECORD_TYPE_END) {
    if (bodyBytes !== 0) return { kind: 'invalid', reason: `end record length ${bodyBytes}` };
    if (buffer.readUInt32BE(position + 4) !== crc32cRange(buffer, position + 8, position + JOURNAL_RECORD_HEADER_BYTES)) {
      return { kind: 'invalid', reason: 'record crc' };
    }
    return { kind: 'end', bytes: JOURNAL_RECORD_HEADER_BYTES };
  }
  if (bodyBytes < RECORD_BATCH_HEADER_BYTES || bodyBytes > JOURNAL_BODY_BYTES_MAX) {
    return { kind: 'invalid', reason: `body length ${bodyBytes}` };
  }
  const total = JOURNAL_RECORD_HEADER_BYTES + bodyBytes;
  if (available < total) return { kind: 'need', bytes: total };
  const header = buffer.subarray(position, position + JOURNAL_RECORD_HEADER_BYTES);
  const body = buffer.subarray(position + JOURNAL_RECORD_HEADER_BYTES, position + total);
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

/**
 * The format of a journal file judged by its first 20 bytes: a file whose first record has type 1
 * is of the first format; anything else (tagged records, an end record, garbage, nothing) is
 * parsed as tagged with the file's own tag.
 */
export function journalFileFormat(firstBytes: Buffer, seq: number): JournalFileFormat {
  if (firstBytes.length >= JOURNAL_RECORD_HEADER_BYTES && firstBytes.readUInt8(8) === JOURNAL_RECORD_TYPE_BATCH_UNTAGGED) return 'untagged';
  return journalFileTag(seq);
}

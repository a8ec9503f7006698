/**
 * On-disk format of the embedded metadata store: an append-only log of CRC-framed records.
 *
 *   Frame  => bodyLength:uint32 crc:uint32 (CRC-32C of body) body
 *   Body   => op:uint8 (1 put, 2 delete) version:float64 keyLength:uint32 key:utf8 valueLength:uint32 value
 *
 * A delete carries version -1 and an empty value. Replay stops at the first frame that is
 * truncated or fails its CRC (a torn tail from a crash mid-write); the caller truncates there.
 */
import { crc32cRange } from '../record-batch/crc32c.js';

export const FRAME_HEADER_BYTES = 8;
const BODY_FIXED_BYTES = 1 + 8 + 4 + 4;
export const OP_PUT = 1;
export const OP_DELETE = 2;

export interface MetadataRecord {
  readonly op: typeof OP_PUT | typeof OP_DELETE;
  readonly key: string;
  readonly version: number;
  readonly value: Buffer;
}

export function encodeFrame(record: MetadataRecord): Buffer {
  const keyBytes = Buffer.byteLength(record.key, 'utf8');
  const bodyBytes = BODY_FIXED_BYTES + keyBytes + record.value.length;
  const frame = Buffer.allocUnsafe(FRAME_HEADER_BYTES + bodyBytes);
  let position = FRAME_HEADER_BYTES;
  frame.writeUInt8(record.op, position);
  frame.writeDoubleBE(record.version, position + 1);
  frame.writeUInt32BE(keyBytes, position + 9);
  position += 13;
  position += frame.write(record.key, position, keyBytes, 'utf8');
  frame.writeUInt32BE(record.value.length, position);
  record.value.copy(frame, position + 4);
  frame.writeUInt32BE(bodyBytes, 0);
  frame.writeUInt32BE(crc32cRange(frame, FRAME_HEADER_BYTES, frame.length), 4);
  return frame;
}

export interface ReplayResult {
  readonly records: MetadataRecord[];
  /** Bytes of whole, valid frames; anything after is a torn or corrupt tail. */
  readonly validBytes: number;
}

export function replayFrames(data: Buffer, recordBytesMax: number): ReplayResult {
  const records: MetadataRecord[] = [];
  let position = 0;
  while (data.length - position >= FRAME_HEADER_BYTES) {
    const bodyBytes = data.readUInt32BE(position);
    if (bodyBytes < BODY_FIXED_BYTES || bodyBytes > recordBytesMax) break;
    const bodyStart = position + FRAME_HEADER_BYTES;
    const bodyEnd = bodyStart + bodyBytes;
    if (bodyEnd > data.length) break;
    if (data.readUInt32BE(position + 4) !== crc32cRange(data, bodyStart, bodyEnd)) break;
    const op = data.readUInt8(bodyStart);
    const version = data.readDoubleBE(bodyStart + 1);
    const keyBytes = data.readUInt32BE(bodyStart + 9);
    const keyEnd = bodyStart + 13 + keyBytes;
    if ((op !== OP_PUT && op !== OP_DELETE) || keyEnd + 4 > bodyEnd) break;
    const valueBytes = data.readUInt32BE(keyEnd);
    if (keyEnd + 4 + valueBytes !== bodyEnd) break;
    records.push({
      op,
      version,
      key: data.toString('utf8', bodyStart + 13, keyEnd),
      // A copy: the replay buffer (the whole file) should not stay alive through one small value.
      value: Buffer.from(data.subarray(keyEnd + 4, bodyEnd)),
    });
    position = bodyEnd;
  }
  return { records, validBytes: position };
}

/**
 * `<base>.idx`: the summary of a sealed segment, so recovery does not have to read and checksum
 * every old segment. Written once the segment is sealed and wholly in its file, after the segment
 * file is fsynced, so a valid index file always describes durable data; recovery trusts it only if
 * its CRC holds and the segment file has exactly the recorded size (anything else — a crash while
 * writing it, a compaction that rewrote the segment — means scanning the segment as before).
 *
 *   magic u32 'SIDX', version u32, then f64: bytes, nextOffset, entries, maxTimestamp, createdAtMs,
 *   lastIndexedPosition; u32 index points, u32 producer-state bytes; the points (3 x f64 each:
 *   offset, position, maxTimestampBefore); the state after the segment's last batch as JSON (version 1:
 *   the producer snapshot; version 2: `{producers, open, aborted}`, adding the open transactions
 *   [producerId, firstOffset] and the transactions aborted by markers in the segment [producerId,
 *   firstOffset, lastOffset], each null for a partition that never saw a transactional batch);
 *   CRC-32C of everything before it. Version 1 files are still read.
 */
import { crc32cRange } from '../record-batch/crc32c.js';
import type { SegmentStorage } from '../storage/segment-storage.js';
import type { ProducerSnapshot } from './producer-state.js';
import type { AbortedTransaction } from './transaction-state.js';
import type { Segment } from './segment.js';

const MAGIC = 0x53494458;
const VERSION = 2;
const VERSION_WITHOUT_TRANSACTIONS = 1;
const FIXED_BYTES = 64;
export const INDEX_SUFFIX = '.idx';

export function indexPathOf(segmentPath: string): string {
  return segmentPath.slice(0, -'.log'.length) + INDEX_SUFFIX;
}

export interface SegmentSummary {
  readonly bytes: number;
  readonly nextOffset: number;
  readonly entries: number;
  readonly maxTimestamp: number;
  readonly createdAtMs: number;
  readonly lastIndexedPosition: number;
  readonly points: readonly (readonly [number, number, number])[];
  readonly producers: ProducerSnapshot;
  /** Open transactions at the segment's end as [producerId, firstOffset]; null: none ever seen. */
  readonly openTransactions: [number, number][] | null;
  readonly abortedTransactions: AbortedTransaction[] | null;
}

interface SummaryStateJson {
  readonly producers: ProducerSnapshot;
  readonly open: [number, number][] | null;
  readonly aborted: [number, number, number][] | null;
}

export function encodeSegmentSummary(segment: Segment, producers: ProducerSnapshot): Buffer {
  const points = segment.index.points();
  const state: SummaryStateJson = {
    producers,
    open: segment.openTransactionsAtEnd ? [...segment.openTransactionsAtEnd] : null,
    aborted: segment.abortedTransactions ? segment.abortedTransactions.map((a) => [a.producerId, a.firstOffset, a.lastOffset]) : null,
  };
  const producerBytes = Buffer.from(JSON.stringify(state));
  const out = Buffer.alloc(FIXED_BYTES + points.length * 24 + producerBytes.length + 4);
  out.writeUInt32BE(MAGIC, 0);
  out.writeUInt32BE(VERSION, 4);
  out.writeDoubleBE(segment.bytes, 8);
  out.writeDoubleBE(segment.nextOffset, 16);
  out.writeDoubleBE(segment.entries, 24);
  out.writeDoubleBE(segment.maxTimestamp, 32);
  out.writeDoubleBE(segment.createdAtMs, 40);
  out.writeDoubleBE(Number.isFinite(segment.lastIndexedPosition) ? segment.lastIndexedPosition : -1, 48);
  out.writeUInt32BE(points.length, 56);
  out.writeUInt32BE(producerBytes.length, 60);
  let at = FIXED_BYTES;
  for (const [offset, position, maxTimestampBefore] of points) {
    out.writeDoubleBE(offset, at);
    out.writeDoubleBE(position, at + 8);
    out.writeDoubleBE(maxTimestampBefore, at + 16);
    at += 24;
  }
  producerBytes.copy(out, at);
  at += producerBytes.length;
  out.writeUInt32BE(crc32cRange(out, 0, at), at);
  return out;
}

/** The summary, or null when the file is missing, torn or not a summary. Never throws on content. */
export function decodeSegmentSummary(data: Buffer): SegmentSummary | null {
  if (data.length < FIXED_BYTES + 4) return null;
  const version = data.readUInt32BE(4);
  if (data.readUInt32BE(0) !== MAGIC || (version !== VERSION && version !== VERSION_WITHOUT_TRANSACTIONS)) return null;
  const count = data.readUInt32BE(56);
  const producerBytes = data.readUInt32BE(60);
  const end = FIXED_BYTES + count * 24 + producerBytes;
  if (end + 4 !== data.length) return null;
  if (data.readUInt32BE(end) !== crc32cRange(data, 0, end)) return null;
  const points: [number, number, number][] = [];
  let at = FIXED_BYTES;
  for (let i = 0; i < count; i++, at += 24) points.push([data.readDoubleBE(at), data.readDoubleBE(at + 8), data.readDoubleBE(at + 16)]);
  let state: SummaryStateJson;
  try {
    const parsed = JSON.parse(data.subarray(at, end).toString('utf8')) as unknown;
    state = version === VERSION_WITHOUT_TRANSACTIONS ? { producers: parsed as ProducerSnapshot, open: null, aborted: null } : (parsed as SummaryStateJson);
    if (!Array.isArray(state.producers)) return null;
  } catch {
    return null;
  }
  const lastIndexedPosition = data.readDoubleBE(48);
  return {
    bytes: data.readDoubleBE(8),
    nextOffset: data.readDoubleBE(16),
    entries: data.readDoubleBE(24),
    maxTimestamp: data.readDoubleBE(32),
    createdAtMs: data.readDoubleBE(40),
    lastIndexedPosition: lastIndexedPosition < 0 ? -Infinity : lastIndexedPosition,
    points,
    producers: state.producers,
    openTransactions: Array.isArray(state.open) ? state.open : null,
    abortedTransactions: Array.isArray(state.aborted) ? state.aborted.map(([producerId, firstOffset, lastOffset]) => ({ producerId, firstOffset, lastOffset })) : null,
  };
}

export async function readSegmentSummary(storage: SegmentStorage, segmentPath: string): Promise<SegmentSummary | null> {
  const data = await storage.readWhole(indexPathOf(segmentPath));
  return data === null ? null : decodeSegmentSummary(data);
}

/** Writes `<base>.idx` through a temporary file (fsynced, renamed). The directory is fsynced by the next checkpoint. */
export async function writeSegmentSummary(storage: SegmentStorage, segmentPath: string, summary: Buffer): Promise<void> {
  await storage.writeWhole(indexPathOf(segmentPath), summary);
}

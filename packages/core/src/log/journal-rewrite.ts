/**
 * The forced rewrite of recovery after a failed fsync (storage/rewrite-marker.ts): segment bytes
 * written since the last good checkpoint may be missing on disk although they read back fine, so
 * each partition the journal holds records of is cut back to its first journal record before it is
 * loaded, and the journal replay then writes every record again (docs/storage.md "When an fsync
 * fails").
 *
 * Why cutting at the first journal offset is right: the journal files present are those written
 * since the last checkpoint that completed (that checkpoint retired the older ones only after
 * fsyncing every segment written before its rotation). Every offset below a partition's first
 * journal record was therefore in a segment fsynced by a successful checkpoint, and its bytes on
 * disk are good; everything from that offset on is in the journal and is written again.
 */
import path from 'node:path';
import type { SegmentStorage } from '../storage/segment-storage.js';
import { JOURNAL_BODY_BYTES_MAX } from '../storage/journal-format.js';
import { batchBaseOffset, batchTotalBytes, OFFSET_MAGIC, RECORD_BATCH_HEADER_BYTES, RECORD_BATCH_MAGIC } from './batch-fields.js';
import { indexPathOf } from './segment-index-file.js';
import { parseSegmentFileName, segmentFileName } from './segment.js';

/** Bytes read per step while looking for the cut position. */
const CUT_SCAN_CHUNK_BYTES = 4 * 1024 * 1024;

export interface PartitionCut {
  /** The segment file cut (the partition's last one now). */
  readonly file: string;
  /** Segment files removed whole (their base offset is past the cut). */
  readonly segmentsRemoved: number;
  /** Bytes cut off the segment holding the cut offset. */
  readonly bytesCut: number;
}

/**
 * Cuts the partition in `dir` back to `offset`: later segments are removed, the segment holding
 * `offset` is truncated before the first batch whose base offset is `offset` or more, and its index
 * file (which describes the old length) is removed, so the load scans it. Batches below `offset`
 * stay. Null when the partition has no segment file.
 */
export async function cutPartitionForRewrite(storage: SegmentStorage, dir: string, offset: number): Promise<PartitionCut | null> {
  const bases = (await storage.list(dir))
    .map(parseSegmentFileName)
    .filter((base): base is number => base !== null)
    .sort((a, b) => a - b);
  if (bases.length === 0) return null;
  let holding = 0;
  for (let i = 0; i < bases.length; i++) if (bases[i]! <= offset) holding = i;
  let segmentsRemoved = 0;
  for (const base of bases.slice(holding + 1)) {
    const file = path.join(dir, segmentFileName(base));
    await storage.remove(file);
    await storage.remove(indexPathOf(file));
    segmentsRemoved++;
  }
  const file = path.join(dir, segmentFileName(bases[holding]!));
  const stat = await storage.stat(file);
  const fileBytes = stat?.bytes ?? 0;
  // A first segment starting past `offset` (retention moved the log start) is rewritten whole.
  const cut = bases[holding]! >= offset ? 0 : await positionOfFirstBatchFrom(storage, file, fileBytes, offset);
  if (cut < fileBytes) {
    await storage.remove(indexPathOf(file));
    await storage.truncate(file, cut);
  }
  return { file, segmentsRemoved, bytesCut: fileBytes - cut };
}

/**
 * Position of the first batch at or past `offset`, walking batch headers from the start (bytes below
 * `offset` are durable, see above). Stops early at anything that is not a batch header: the rest is
 * cut and rewritten. Reads at most the file once, in chunks.
 */
async function positionOfFirstBatchFrom(storage: SegmentStorage, file: string, fileBytes: number, offset: number): Promise<number> {
  const lease = await storage.open(file, false);
  try {
    let position = 0;
    let chunk: Buffer = Buffer.alloc(0);
    let chunkStart = 0;
    while (position + RECORD_BATCH_HEADER_BYTES <= fileBytes) {
      if (position + RECORD_BATCH_HEADER_BYTES > chunkStart + chunk.length) {
        chunk = await lease.read(Math.min(CUT_SCAN_CHUNK_BYTES, fileBytes - position), position);
        chunkStart = position;
        if (chunk.length < RECORD_BATCH_HEADER_BYTES) break;
      }
      const at = position - chunkStart;
      if (chunk.readInt8(at + OFFSET_MAGIC) !== RECORD_BATCH_MAGIC) break;
      const total = batchTotalBytes(chunk, at);
      if (total < RECORD_BATCH_HEADER_BYTES || total > JOURNAL_BODY_BYTES_MAX) break;
      if (batchBaseOffset(chunk, at) >= offset) break;
      position += total; // strictly forward: the loop ends within fileBytes / RECORD_BATCH_HEADER_BYTES steps
    }
    return Math.min(position, fileBytes);
  } finally {
    lease.release();
  }
}

/**
 * Kafka transactions as a partition sees them (KIP-98): which producers have a transaction open
 * here (from their first transactional batch to their control batch), and which transactions ended
 * in an abort. From these come the last stable offset (the first offset of the oldest open
 * transaction, else the high watermark) and the aborted-transaction list a read_committed Fetch
 * returns, so that clients drop the aborted records themselves.
 *
 * State changes only with acknowledged batches (and with batches replayed in recovery), never at
 * staging: nothing here needs an undo. Allocated on a partition's first transactional batch;
 * partitions that never see one pay a null check.
 *
 * Durable the way the rest of the partition is: rebuilt by replaying batch headers (segment scan,
 * journal replay), and stored in each sealed segment's index file — the open transactions at the
 * segment's end and the aborts whose markers lie in it — so a summarized segment is not read.
 */
import {
  ATTRIBUTE_COMPRESSION_MASK,
  ATTRIBUTE_CONTROL,
  ATTRIBUTE_TRANSACTIONAL,
  OFFSET_ATTRIBUTES,
  RECORD_BATCH_HEADER_BYTES,
} from '../record-batch/header.js';
import { encodeRecordBatch } from '../record-batch/encode.js';
import type { Segment } from './segment.js';

import type { AbortedTransaction } from '../core.js';

export type { AbortedTransaction };

/** Control record types (Kafka ControlRecordType): the key's second int16. */
export const CONTROL_TYPE_ABORT = 0;
export const CONTROL_TYPE_COMMIT = 1;

export function isTransactionalAttributes(attributes: number): boolean {
  return (attributes & ATTRIBUTE_TRANSACTIONAL) !== 0;
}

/**
 * The control type of a control batch (its first record's key: version int16, type int16), or -1
 * when the batch is not one we can read as such. Control batches are never compressed.
 */
export function controlTypeOf(batch: Buffer): number {
  if (batch.length < RECORD_BATCH_HEADER_BYTES + 8) return -1;
  const attributes = batch.readInt16BE(OFFSET_ATTRIBUTES);
  if ((attributes & ATTRIBUTE_CONTROL) === 0 || (attributes & ATTRIBUTE_COMPRESSION_MASK) !== 0) return -1;
  // The first record: length varint, attributes int8, timestampDelta varlong, offsetDelta varint,
  // key length varint, key.
  let at = skipVarint(batch, RECORD_BATCH_HEADER_BYTES);
  at = at < 0 ? -1 : skipVarint(batch, at + 1);
  at = at < 0 ? -1 : skipVarint(batch, at);
  if (at < 0 || at >= batch.length) return -1;
  const keyLength = batch[at]!; // zigzag: the 4-byte control key is 0x08, one byte
  if (keyLength !== 0x08 || at + 1 + 4 > batch.length) return -1;
  return batch.readInt16BE(at + 1 + 2);
}

/** The position after the varint at `at`, or -1 when it runs past the buffer or 10 bytes. */
function skipVarint(buf: Buffer, at: number): number {
  for (let i = 0; i < 10 && at + i < buf.length; i++) if ((buf[at + i]! & 0x80) === 0) return at + i + 1;
  return -1;
}

/** Open transactions: producer id → first offset. Replaced, never mutated (segments share it). */
export type OpenTransactions = ReadonlyMap<number, number>;

const NONE_OPEN: OpenTransactions = new Map();

export class PartitionTransactions {
  /** Replaced on every change: a segment's `openTransactionsAtEnd` may hold the previous one. */
  open: OpenTransactions = NONE_OPEN;

  /**
   * One acknowledged (or replayed) transactional batch at [baseOffset, lastOffset] in `segment`.
   * A data batch opens its producer's transaction if none is open; a control batch closes it, and
   * an abort marker records the aborted transaction in the marker's segment.
   */
  apply(batch: Buffer, attributes: number, producerId: number, baseOffset: number, segment: Segment): void {
    if ((attributes & ATTRIBUTE_CONTROL) === 0) {
      if (this.open.has(producerId)) return;
      const next = new Map(this.open);
      next.set(producerId, baseOffset);
      this.open = next;
      return;
    }
    const firstOffset = this.open.get(producerId);
    if (firstOffset === undefined) return; // a marker for a transaction with no records here (retried EndTxn)
    const next = new Map(this.open);
    next.delete(producerId);
    this.open = next;
    if (controlTypeOf(batch) === CONTROL_TYPE_ABORT) {
      (segment.abortedTransactions ??= []).push({ producerId, firstOffset, lastOffset: baseOffset });
    }
  }

  /** The first offset of the oldest open transaction, else `highWatermark` (never below `logStart`). */
  lastStableOffset(highWatermark: number, logStartOffset: number): number {
    let stable = highWatermark;
    for (const first of this.open.values()) if (first < stable) stable = first;
    return Math.max(stable, Math.min(logStartOffset, highWatermark));
  }
}

/**
 * Aborted transactions a read of [fromOffset, toOffset] must know about: those whose marker is at
 * or past fromOffset and whose first offset is at or before toOffset. Markers come after their
 * records, so only segments from the one holding fromOffset onward can hold them.
 */
export function abortedTransactionsIn(segments: readonly Segment[], fromOffset: number, toOffset: number): AbortedTransaction[] {
  const found: AbortedTransaction[] = [];
  for (const segment of segments) {
    if (segment.nextOffset <= fromOffset || !segment.abortedTransactions) continue;
    for (const aborted of segment.abortedTransactions) {
      if (aborted.lastOffset >= fromOffset && aborted.firstOffset <= toOffset) found.push(aborted);
    }
  }
  return found;
}

/**
 * Whether a transactional batch of `producerId` starting at `baseOffset` lies in one of `aborted`
 * (from `abortedTransactions` over the batch's range): what a read_committed reader drops.
 */
export function isAbortedBatch(aborted: readonly AbortedTransaction[], producerId: number, baseOffset: number): boolean {
  return aborted.some((a) => a.producerId === producerId && a.firstOffset <= baseOffset && baseOffset < a.lastOffset);
}

/**
 * A transaction marker (Kafka EndTransactionMarker): a control batch of one record whose key is
 * (version 0, type) and value (version 0, coordinator epoch), transactional, from the producer
 * whose transaction it ends, with no sequence.
 */
export function encodeTransactionMarker(producerId: number, producerEpoch: number, type: number, coordinatorEpoch: number, timestampMs: number): Buffer {
  const key = Buffer.alloc(4);
  key.writeInt16BE(0, 0);
  key.writeInt16BE(type, 2);
  const value = Buffer.alloc(6);
  value.writeInt16BE(0, 0);
  value.writeInt32BE(coordinatorEpoch, 2);
  return encodeRecordBatch([{ key, value, headers: [], timestamp: timestampMs }], {
    isControl: true,
    isTransactional: true,
    producer: { producerId, producerEpoch, baseSequence: -1 },
  });
}

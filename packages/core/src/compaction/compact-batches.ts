/**
 * Log compaction as a pure function (Kafka `cleanup.policy=compact`, LogCleaner): the latest
 * record per key wins; a tombstone (null value) deletes its key and is itself dropped once older
 * than the tombstone retention. Two passes, as Kafka does it:
 *
 *   1. CompactionKeyIndex: key → offset of its latest record, over everything that may supersede
 *      (the sealed segments and the active one).
 *   2. compactBatches: each sealed batch keeps the records that are still the latest for their
 *      key. Offsets are preserved: a rewritten batch keeps its base offset and lastOffsetDelta and
 *      leaves gaps in offsetDelta (record batch v2 allows them), so the offsets of a segment stay
 *      dense batch to batch and readers, indexes and recovery see the same offset ranges.
 *      Adjacent rewritten batches merge into one (bounded by mergedBatchBytesMax), and a run of
 *      fully superseded batches is absorbed by the batch after it (an empty batch is left only
 *      when nothing can absorb it: another producer, another codec, or the end of the segment).
 *
 * Safety: a partial index (keysMax reached) only means less is removed: a record is dropped only
 * when a later record with its key was seen. Records without a key are kept. Untouched batches are
 * passed through byte for byte.
 *
 * Transactions (KIP-98, as Kafka's LogCleaner treats them): only decided data counts. The index
 * takes no record of an aborted transaction and none at or past the last stable offset (an open
 * transaction may still abort: its write must not supersede the committed value before it), and
 * the segments compacted lie wholly below the last stable offset. An aborted transaction's batches
 * lose all their records; a committed transaction's records are compacted like any others. Either
 * way a rewritten transactional batch stays transactional, with its producer, epoch and sequence,
 * so the partition's transaction state rebuilt from a scan is the one the log had. Transaction
 * markers (control batches) are kept as they are.
 */
import type { AbortedTransaction, CompressionType, ProducerIdentity } from '../core.js';
import { assert } from '../errors.js';
import { isAbortedBatch } from '../log/transaction-state.js';
import type { StoredMessage } from '../message.js';
import { decodeRecordBatch, encodeRecordBatch, type RecordBatchHeader } from '../record-batch/index.js';

/** Kafka's delete.retention.ms default: how long a tombstone stays readable after it is written. */
export const TOMBSTONE_RETENTION_MS_DEFAULT = 24 * 60 * 60 * 1000;
/** Distinct keys one compaction pass indexes (Kafka: log.cleaner.dedupe.buffer.size). */
export const COMPACTION_KEYS_MAX_DEFAULT = 1_000_000;
/** Largest batch that merging rewritten batches may produce. */
export const MERGED_BATCH_BYTES_MAX_DEFAULT = 1024 * 1024;

/** Key bytes as a Map key: latin1 maps each byte to one char, so it is exact and cheap. */
function keyString(key: Buffer): string {
  return key.toString('latin1');
}

/** What counts as decided data: aborted transactions and the last stable offset of the partition. */
export interface TransactionView {
  /** Aborted transactions over the range compacted (transaction-state.ts abortedTransactionsIn). */
  readonly aborted: readonly AbortedTransaction[];
  /** Offsets from here on may belong to a transaction still open. */
  readonly stableOffset: number;
}

/** A partition with no transactions: everything below the high watermark is decided. */
export const NO_TRANSACTIONS: TransactionView = { aborted: [], stableOffset: Number.MAX_SAFE_INTEGER };

/** Whether a batch's records were aborted (its transaction ended in an abort marker). */
function isAborted(header: RecordBatchHeader, transactions: TransactionView): boolean {
  return header.isTransactional && !header.isControl && isAbortedBatch(transactions.aborted, header.producerId, header.baseOffset);
}

export class CompactionKeyIndex {
  private readonly latest = new Map<string, number>();
  /** True once keysMax stopped new keys from being indexed. */
  full = false;

  constructor(
    readonly keysMax = COMPACTION_KEYS_MAX_DEFAULT,
    private readonly transactions: TransactionView = NO_TRANSACTIONS,
  ) {}

  get size(): number {
    return this.latest.size;
  }

  addMessage(message: StoredMessage): void {
    if (message.key === null) return;
    const key = keyString(message.key);
    const known = this.latest.get(key);
    if (known === undefined && this.latest.size >= this.keysMax) {
      this.full = true;
      return;
    }
    if (known === undefined || message.offset > known) this.latest.set(key, message.offset);
  }

  /**
   * Indexes one stored batch. Control batches carry no keys of the topic; an aborted transaction's
   * records never supersede anything, nor do records at or past the last stable offset.
   */
  addBatch(batch: Buffer): void {
    const { header, messages } = decodeRecordBatch(batch);
    if (header.isControl || isAborted(header, this.transactions)) return;
    const stableOffset = this.transactions.stableOffset;
    for (const message of messages) if (message.offset < stableOffset) this.addMessage(message);
  }

  latestOffset(key: Buffer): number | undefined {
    return this.latest.get(keyString(key));
  }
}

export interface CompactOptions {
  readonly nowMs: number;
  /** Default NO_TRANSACTIONS; the batches compacted must lie below its stableOffset. */
  readonly transactions?: TransactionView;
  readonly tombstoneRetentionMs?: number;
  readonly mergedBatchBytesMax?: number;
}

export interface CompactResult {
  /** The batches to store instead of the input, same offset coverage, in order. */
  readonly batches: Buffer[];
  readonly keptMessages: number;
  readonly removedMessages: number;
  /** False when nothing was removed: the input can stay as it is. */
  readonly changed: boolean;
}

/** A rewritten batch waiting to be encoded, possibly merged with its neighbours. */
interface Piece {
  readonly baseOffset: number;
  readonly lastOffset: number;
  readonly messages: StoredMessage[];
  readonly compression: CompressionType;
  readonly producerId: number;
  readonly producerEpoch: number;
  readonly baseSequence: number;
  readonly isTransactional: boolean;
  readonly maxTimestamp: number;
  readonly estimatedBytes: number;
}

function estimateBytes(messages: readonly StoredMessage[]): number {
  let bytes = 61;
  for (const message of messages) {
    bytes += 24 + (message.key?.length ?? 0) + (message.value?.length ?? 0);
    for (const header of message.headers) bytes += 8 + header.key.length + (header.value?.length ?? 0);
  }
  return bytes;
}

/** Can `next` be appended to the run ending with `last` as one batch? */
function mergeable(last: Piece, next: Piece, runBytes: number, bytesMax: number): boolean {
  if (next.baseOffset !== last.lastOffset + 1 || next.compression !== last.compression) return false;
  if (next.isTransactional !== last.isTransactional) return false;
  if (runBytes + next.estimatedBytes > bytesMax) return false;
  if (last.producerId === -1 && next.producerId === -1) return true;
  // One idempotent producer's consecutive batches: the merged batch's sequence range stays exact.
  return (
    next.producerId === last.producerId &&
    next.producerEpoch === last.producerEpoch &&
    last.baseSequence >= 0 &&
    next.baseSequence === last.baseSequence + (last.lastOffset - last.baseOffset) + 1
  );
}

function encodeRun(run: readonly Piece[]): Buffer {
  const first = run[0]!;
  const last = run[run.length - 1]!;
  const messages = run.flatMap((piece) => piece.messages);
  const producer: ProducerIdentity | undefined =
    first.producerId === -1 ? undefined : { producerId: first.producerId, producerEpoch: first.producerEpoch, baseSequence: first.baseSequence };
  return encodeRecordBatch(messages, {
    baseOffset: first.baseOffset,
    offsetDeltas: messages.map((message) => message.offset - first.baseOffset),
    lastOffsetDelta: last.lastOffset - first.baseOffset,
    compression: first.compression,
    ...(producer ? { producer } : {}),
    isTransactional: first.isTransactional,
    maxTimestamp: Math.max(...run.map((piece) => piece.maxTimestamp)),
  });
}

function isPassThrough(header: RecordBatchHeader): boolean {
  return header.isControl || header.timestampType === 'logAppend';
}

/**
 * Compacts consecutive stored batches (one sealed segment, in offset order) against `index`.
 * Throws CORRUPT_BATCH if a batch does not decode (a stored batch passed its CRC when written).
 */
export function compactBatches(batches: readonly Buffer[], index: CompactionKeyIndex, options: CompactOptions): CompactResult {
  const tombstoneRetentionMs = options.tombstoneRetentionMs ?? TOMBSTONE_RETENTION_MS_DEFAULT;
  const bytesMax = options.mergedBatchBytesMax ?? MERGED_BATCH_BYTES_MAX_DEFAULT;
  const transactions = options.transactions ?? NO_TRANSACTIONS;
  const out: Buffer[] = [];
  let run: Piece[] = [];
  let runBytes = 0;
  let kept = 0;
  let removed = 0;
  const flush = (): void => {
    if (run.length > 0) out.push(encodeRun(run));
    run = [];
    runBytes = 0;
  };

  for (const batch of batches) {
    const { header, messages } = decodeRecordBatch(batch);
    if (isPassThrough(header)) {
      flush();
      out.push(batch);
      kept += messages.length;
      continue;
    }
    assert(header.baseOffset + header.lastOffsetDelta < transactions.stableOffset, 'compaction stays below the last stable offset');
    const aborted = isAborted(header, transactions);
    const survivors = messages.filter((message) => {
      if (aborted) return false;
      if (message.key === null) return true;
      const latest = index.latestOffset(message.key);
      if (latest === undefined || latest <= message.offset) {
        // The latest record of its key: a tombstone stays until its retention has passed.
        return !(message.value === null && latest !== undefined && options.nowMs - message.timestamp > tombstoneRetentionMs);
      }
      return false;
    });
    kept += survivors.length;
    removed += messages.length - survivors.length;
    const piece: Piece = {
      baseOffset: header.baseOffset,
      lastOffset: header.baseOffset + header.lastOffsetDelta,
      messages: survivors,
      compression: header.compression,
      producerId: header.producerId,
      producerEpoch: header.producerEpoch,
      baseSequence: header.baseSequence,
      isTransactional: header.isTransactional,
      maxTimestamp: header.maxTimestamp,
      estimatedBytes: estimateBytes(survivors),
    };
    const last = run[run.length - 1];
    const canMerge = last !== undefined && mergeable(last, piece, runBytes, bytesMax);
    if (survivors.length === messages.length) {
      // Untouched batches stay byte for byte, except that one absorbs a preceding run of emptied
      // batches: fewer bytes, and fewer batches with no records (a fetch answered with nothing but
      // those stalls kafkajs: partition-log.ts readFromDisk).
      if (!canMerge || run.some((p) => p.messages.length > 0)) {
        flush();
        out.push(batch);
        continue;
      }
    } else if (last && !canMerge) {
      flush();
    }
    run.push(piece);
    runBytes += piece.estimatedBytes;
  }
  flush();
  return { batches: removed === 0 ? [...batches] : out, keptMessages: kept, removedMessages: removed, changed: removed > 0 };
}

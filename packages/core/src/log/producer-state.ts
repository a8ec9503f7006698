/**
 * Idempotent producers (KIP-98): per partition and producer id, the epoch and the sequence ranges of
 * the last few batches with their offsets. A batch repeating one of them is a duplicate (answered
 * with the original offsets); a batch whose sequence does not follow the last one is out of order;
 * an older epoch is fenced. Allocated only for partitions that see idempotent producers.
 */
import { StrataError } from '../errors.js';

const SEQUENCE_MAX = 0x7fffffff;

export interface ProducerBatch {
  readonly firstSequence: number;
  readonly lastSequence: number;
  readonly baseOffset: number;
  readonly lastOffset: number;
}

interface ProducerEntry {
  epoch: number;
  batches: ProducerBatch[]; // oldest first, at most producerBatchesMax
}

export interface IdempotentBatch {
  readonly producerId: number;
  readonly producerEpoch: number;
  readonly baseSequence: number;
  readonly lastOffsetDelta: number;
}

export function isIdempotent(batch: IdempotentBatch): boolean {
  return batch.producerId >= 0 && batch.baseSequence >= 0;
}

export function lastSequenceOf(batch: IdempotentBatch): number {
  const last = batch.baseSequence + batch.lastOffsetDelta;
  return last > SEQUENCE_MAX ? last - SEQUENCE_MAX - 1 : last;
}

/** [producerId, epoch, batches] per producer, least recently appending first. */
export type ProducerSnapshot = [number, number, ProducerBatch[]][];

export class ProducerStateTable {
  private readonly producers = new Map<number, ProducerEntry>();

  constructor(
    private readonly producerBatchesMax: number,
    /** Producers remembered per partition, least recently appending forgotten first (Kafka expires them by time). */
    private readonly producersMax: number,
  ) {}

  get size(): number {
    return this.producers.size;
  }

  /**
   * Checks a batch before offsets are assigned: returns the original batch when it is a duplicate,
   * null when it is new and in order; throws FENCED or OUT_OF_ORDER_SEQUENCE.
   */
  check(batch: IdempotentBatch): ProducerBatch | null {
    const entry = this.producers.get(batch.producerId);
    if (!entry) return null; // unknown producer (new, or its state aged out with its segments)
    if (batch.producerEpoch < entry.epoch) {
      throw new StrataError('FENCED', `producer ${batch.producerId} epoch ${batch.producerEpoch} is older than ${entry.epoch}`);
    }
    if (batch.producerEpoch > entry.epoch) {
      // A bumped epoch starts its sequence space again at 0 (KIP-98).
      if (batch.baseSequence !== 0) {
        throw new StrataError('OUT_OF_ORDER_SEQUENCE', `producer ${batch.producerId} new epoch ${batch.producerEpoch} must start at sequence 0, got ${batch.baseSequence}`);
      }
      return null;
    }
    const lastSequence = lastSequenceOf(batch);
    for (const stored of entry.batches) {
      if (stored.firstSequence === batch.baseSequence && stored.lastSequence === lastSequence) return stored;
    }
    const latest = entry.batches[entry.batches.length - 1];
    if (latest) {
      const expected = latest.lastSequence === SEQUENCE_MAX ? 0 : latest.lastSequence + 1;
      if (batch.baseSequence !== expected) {
        throw new StrataError('OUT_OF_ORDER_SEQUENCE', `producer ${batch.producerId} sequence ${batch.baseSequence}, expected ${expected}`);
      }
    }
    return null;
  }

  /** Records an appended batch; returns an undo function restoring the previous state. */
  record(batch: IdempotentBatch, baseOffset: number, lastOffset: number): () => void {
    const previous = this.producers.get(batch.producerId);
    const snapshot = previous ? { epoch: previous.epoch, batches: previous.batches.slice() } : null;
    const entry = previous ?? { epoch: batch.producerEpoch, batches: [] };
    if (batch.producerEpoch !== entry.epoch) {
      entry.epoch = batch.producerEpoch;
      entry.batches = [];
    }
    entry.batches.push({ firstSequence: batch.baseSequence, lastSequence: lastSequenceOf(batch), baseOffset, lastOffset });
    if (entry.batches.length > this.producerBatchesMax) entry.batches.shift();
    // Re-inserted: the Map's order is least recently appending first.
    this.producers.delete(batch.producerId);
    this.producers.set(batch.producerId, entry);
    let evicted: [number, ProducerEntry] | null = null;
    if (this.producers.size > this.producersMax) {
      const [oldestId, oldest] = this.producers.entries().next().value as [number, ProducerEntry];
      this.producers.delete(oldestId);
      evicted = [oldestId, oldest];
    }
    return () => {
      if (snapshot) this.producers.set(batch.producerId, { epoch: snapshot.epoch, batches: snapshot.batches });
      else this.producers.delete(batch.producerId);
      if (evicted) this.producers.set(evicted[0], evicted[1]);
    };
  }

  snapshot(): ProducerSnapshot {
    return [...this.producers].map(([id, entry]) => [id, entry.epoch, entry.batches.slice()]);
  }

  /** Replaces the state with a snapshot (recovery from a sealed segment's index file). */
  restore(snapshot: ProducerSnapshot): void {
    this.producers.clear();
    for (const [id, epoch, batches] of snapshot) this.producers.set(id, { epoch, batches: batches.slice(-this.producerBatchesMax) });
  }

  /** Rebuilding from the log during recovery: same as record, without undo. */
  replay(batch: IdempotentBatch, baseOffset: number, lastOffset: number): void {
    const entry = this.producers.get(batch.producerId);
    if (entry && batch.producerEpoch < entry.epoch) return;
    this.record(batch, baseOffset, lastOffset);
  }
}

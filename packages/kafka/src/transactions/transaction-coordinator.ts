/**
 * The transaction coordinator (KIP-98; Kafka's TransactionCoordinator, one per server here): hands
 * transactional producers their identity, records which partitions and groups each transaction
 * touches, and ends transactions by appending a commit or abort marker to every partition and, on
 * commit, applying the transaction's consumer offsets. The core follows the markers (open
 * transactions, last stable offset, aborted transactions: @strata/core transaction-state.ts).
 *
 * Every state change is stored (transaction.ts) before it is answered; requests for one
 * transactional id run one at a time. A timer aborts transactions open longer than their timeout
 * (bumping the epoch, which fences the producer that let it lapse), finishes transactions whose
 * markers could not all be written, and forgets ids idle for `idExpirationMs`.
 */
import {
  CONTROL_TYPE_ABORT,
  CONTROL_TYPE_COMMIT,
  encodeTransactionMarker,
  isStrataError,
  type Clock,
  type Core,
  type Logger,
} from '@strata/core';
import { KafkaErrorCode } from '../error-codes.js';
import { kafkaErrorCodeOf } from '../errors.js';
import { decodeKeySegment, type CommittedOffsetStore, type OffsetCommitEntry } from '../offsets/committed-offset-store.js';
import { decodeTransaction, encodeTransaction, transactionKey, TRANSACTIONS_KEY_PREFIX, type Transaction } from './transaction.js';

export interface TransactionCoordinatorOptions {
  readonly core: Core;
  readonly offsets: CommittedOffsetStore;
  readonly clock: Clock;
  readonly logger: Logger;
  /** Largest transaction timeout a producer may ask for (Kafka transaction.max.timeout.ms). */
  readonly timeoutMsMax: number;
  /** An id with no transaction for this long is forgotten (Kafka transactional.id.expiration.ms). */
  readonly idExpirationMs: number;
  /** How often timeouts, unfinished markers and expiry are looked at. */
  readonly checkIntervalMs: number;
  /** Transactional ids kept at once; past it new ids are refused (COORDINATOR_NOT_AVAILABLE). */
  readonly transactionalIdsMax: number;
}

export interface ProducerIdentity {
  readonly errorCode: number;
  readonly producerId: number;
  readonly producerEpoch: number;
}

export interface TopicPartition {
  readonly topic: string; // full core topic name
  readonly partition: number;
}

function copyOf(t: Transaction): Transaction {
  return {
    ...t,
    partitions: new Map([...t.partitions].map(([topic, partitions]) => [topic, new Set(partitions)])),
    groups: new Set(t.groups),
    offsets: new Map([...t.offsets].map(([group, entries]) => [group, entries.slice()])),
  };
}

/** `t` in `state` with nothing recorded: no partitions, groups or offsets (a transaction starting or ended). */
function withoutContents(t: Transaction, state: Transaction['state'], startedAtMs: number): Transaction {
  return { ...t, state, startedAtMs, partitions: new Map(), groups: new Set(), offsets: new Map() };
}

function isPrepare(t: Transaction): boolean {
  return t.state === 'PrepareCommit' || t.state === 'PrepareAbort';
}

export class TransactionCoordinator {
  private readonly transactions = new Map<string, Transaction>();
  /** Ids whose unfinished transaction holds consumer offsets: what requireStable OffsetFetches ask about. */
  private readonly holdingOffsets = new Set<string>();
  /** The request running for each transactional id; the next one waits for it. */
  private readonly running = new Map<string, Promise<unknown>>();
  private timer: NodeJS.Timeout | null = null;
  private checking = false;
  private closed = false;

  constructor(private readonly options: TransactionCoordinatorOptions) {}

  /** Loads every stored transaction and finishes those whose outcome was decided before a restart. */
  async load(): Promise<void> {
    const metadata = this.options.core.metadata;
    for (const segment of await metadata.children(TRANSACTIONS_KEY_PREFIX)) {
      const id = decodeKeySegment(segment);
      const stored = await metadata.get(`${TRANSACTIONS_KEY_PREFIX}/${segment}`);
      if (!stored) continue;
      const transaction = decodeTransaction(id, stored.value, stored.version);
      if (!transaction) {
        this.options.logger.warn('unreadable stored transaction skipped', { transactionalId: id });
        continue;
      }
      this.remember(transaction);
    }
    for (const transaction of [...this.transactions.values()]) {
      if (!isPrepare(transaction)) continue;
      await this.serialized(transaction.transactionalId, () => this.complete(transaction)).catch((error: unknown) =>
        this.options.logger.warn('could not finish a transaction after restart; retried later', { transactionalId: transaction.transactionalId, error }),
      );
    }
    this.timer = setInterval(() => void this.check(), this.options.checkIntervalMs);
    this.timer.unref();
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  get size(): number {
    return this.transactions.size;
  }

  /** The stored state of one id (DescribeTransactions). */
  describe(transactionalId: string): Readonly<Transaction> | undefined {
    return this.transactions.get(transactionalId);
  }

  /** Every id kept (ListTransactions). */
  list(): readonly Readonly<Transaction>[] {
    return [...this.transactions.values()];
  }

  // ---- InitProducerId --------------------------------------------------------------------------

  /**
   * A producer (re)starts with `transactionalId`: whatever it left is finished — a decided outcome
   * completed, an open transaction aborted — and the epoch is bumped, fencing earlier instances.
   * `producerId`/`producerEpoch` >= 0 (KIP-360) must be the identity the id has now, or the epoch
   * before it: a producer whose transaction the coordinator aborted on timeout (bumping the epoch)
   * comes back with the epoch it knew, as Kafka's lastProducerEpoch allows.
   */
  initProducer(transactionalId: string, timeoutMs: number, producerId: number, producerEpoch: number): Promise<ProducerIdentity> {
    const fail = (errorCode: number): ProducerIdentity => ({ errorCode, producerId: -1, producerEpoch: -1 });
    if (this.closed) return Promise.resolve(fail(KafkaErrorCode.COORDINATOR_NOT_AVAILABLE));
    if (transactionalId === '') return Promise.resolve(fail(KafkaErrorCode.INVALID_REQUEST));
    if (timeoutMs <= 0 || timeoutMs > this.options.timeoutMsMax) return Promise.resolve(fail(KafkaErrorCode.INVALID_TRANSACTION_TIMEOUT));
    return this.serialized(transactionalId, async () => {
      let t = this.transactions.get(transactionalId);
      if (!t && this.transactions.size >= this.options.transactionalIdsMax) return fail(KafkaErrorCode.COORDINATOR_NOT_AVAILABLE);
      if (t && producerId >= 0 && (producerId !== t.producerId || (producerEpoch !== t.producerEpoch && producerEpoch !== t.producerEpoch - 1))) {
        return fail(KafkaErrorCode.INVALID_PRODUCER_EPOCH);
      }
      try {
        if (t && isPrepare(t)) t = await this.complete(t);
        if (t && t.state === 'Ongoing') t = await this.abortWithBump(t, 'a new producer initialized the transactional id');
        const identity = await this.options.core.initProducer(transactionalId);
        const now = this.options.clock.now();
        const next: Transaction = {
          transactionalId,
          producerId: identity.producerId,
          producerEpoch: identity.producerEpoch,
          timeoutMs,
          state: 'Empty',
          partitions: new Map(),
          groups: new Set(),
          offsets: new Map(),
          startedAtMs: -1,
          updatedAtMs: now,
          version: t ? t.version : -1,
        };
        await this.store(next);
        return { errorCode: KafkaErrorCode.NONE, producerId: next.producerId, producerEpoch: next.producerEpoch };
      } catch (error) {
        this.options.logger.warn('InitProducerId failed', { transactionalId, error });
        return fail(kafkaErrorCodeOf(error));
      }
    });
  }

  // ---- AddPartitionsToTxn / AddOffsetsToTxn / TxnOffsetCommit ------------------------------------

  /** Adds partitions to the producer's transaction (starting it); NONE or the error for them all. */
  addPartitions(transactionalId: string, producerId: number, producerEpoch: number, partitions: readonly TopicPartition[]): Promise<number> {
    return this.update(transactionalId, producerId, producerEpoch, (t) => {
      for (const { topic, partition } of partitions) {
        let set = t.partitions.get(topic);
        if (!set) t.partitions.set(topic, (set = new Set()));
        set.add(partition);
      }
    });
  }

  /** AddOffsetsToTxn: the transaction will commit offsets of `groupId`. */
  addOffsets(transactionalId: string, producerId: number, producerEpoch: number, groupId: string): Promise<number> {
    return this.update(transactionalId, producerId, producerEpoch, (t) => void t.groups.add(groupId));
  }

  /** TxnOffsetCommit: offsets kept with the transaction, visible to the group only at commit. */
  commitOffsets(transactionalId: string, producerId: number, producerEpoch: number, groupId: string, entries: readonly OffsetCommitEntry[]): Promise<number> {
    return this.update(
      transactionalId,
      producerId,
      producerEpoch,
      (t) => {
        const kept = (t.offsets.get(groupId) ?? []).filter((old) => !entries.some((e) => e.topic === old.topic && e.partition === old.partition));
        t.offsets.set(groupId, [...kept, ...entries]);
      },
      (t) => (t.state === 'Ongoing' && t.groups.has(groupId) ? KafkaErrorCode.NONE : KafkaErrorCode.INVALID_TXN_STATE),
    );
  }

  // ---- EndTxn ----------------------------------------------------------------------------------

  /** Commits or aborts the producer's transaction: stored as decided, then markers, then complete. */
  endTransaction(transactionalId: string, producerId: number, producerEpoch: number, commit: boolean): Promise<number> {
    if (this.closed) return Promise.resolve(KafkaErrorCode.COORDINATOR_NOT_AVAILABLE);
    return this.serialized(transactionalId, async () => {
      const t = this.transactions.get(transactionalId);
      const identityError = this.identityError(t, producerId, producerEpoch);
      if (identityError !== KafkaErrorCode.NONE) return identityError;
      const current = t!;
      // A retried EndTxn whose first attempt went through (its response was lost).
      if (current.state === (commit ? 'CompleteCommit' : 'CompleteAbort')) return KafkaErrorCode.NONE;
      if (current.state !== 'Ongoing') return KafkaErrorCode.INVALID_TXN_STATE;
      try {
        const decided = copyOf(current);
        decided.state = commit ? 'PrepareCommit' : 'PrepareAbort';
        await this.store(decided);
        await this.complete(decided);
        return KafkaErrorCode.NONE;
      } catch (error) {
        // Decided and stored: the timer writes the rest; the producer's retry finds it complete.
        this.options.logger.warn('ending a transaction failed; retried later', { transactionalId, commit, error });
        return isStrataError(error) && error.retriable ? KafkaErrorCode.COORDINATOR_NOT_AVAILABLE : kafkaErrorCodeOf(error);
      }
    });
  }

  // ---- Produce ---------------------------------------------------------------------------------

  /**
   * Whether a transactional batch of `producerId`/`producerEpoch` may be appended to the partition:
   * the request names the transactional id that owns the producer, the epoch is current, and the
   * partition was added to its ongoing transaction. Synchronous: Produce issues its appends in order.
   */
  checkProduce(transactionalId: string | null, producerId: number, producerEpoch: number, topic: string, partition: number): number {
    if (transactionalId === null) return KafkaErrorCode.INVALID_TXN_STATE;
    const t = this.transactions.get(transactionalId);
    const identityError = this.identityError(t, producerId, producerEpoch);
    if (identityError !== KafkaErrorCode.NONE) return identityError;
    if (t!.state !== 'Ongoing' || t!.partitions.get(topic)?.has(partition) !== true) return KafkaErrorCode.INVALID_TXN_STATE;
    return KafkaErrorCode.NONE;
  }

  /**
   * Whether a transaction not yet complete holds an offset of `groupId` for the partition: an
   * OffsetFetch with requireStable (KIP-447, read_committed consumers) must not answer it yet.
   */
  hasPendingOffset(groupId: string, topic: string, partition: number): boolean {
    for (const id of this.holdingOffsets) {
      if (this.transactions.get(id)!.offsets.get(groupId)?.some((e) => e.topic === topic && e.partition === partition)) return true;
    }
    return false;
  }

  // ---- the timer -------------------------------------------------------------------------------

  /** Timeouts, unfinished markers, expired ids. Exposed for tests. */
  async check(): Promise<void> {
    if (this.checking || this.closed) return;
    this.checking = true;
    try {
      const now = this.options.clock.now();
      for (const t of [...this.transactions.values()]) {
        if (this.closed) return;
        const id = t.transactionalId;
        if (t.state === 'Ongoing' && now - t.startedAtMs > t.timeoutMs) {
          await this.serialized(id, async () => {
            const current = this.transactions.get(id);
            if (current?.state === 'Ongoing' && this.options.clock.now() - current.startedAtMs > current.timeoutMs) {
              await this.abortWithBump(current, `open longer than its timeout of ${current.timeoutMs} ms`);
            }
          }).catch((error: unknown) => this.options.logger.warn('could not abort a timed-out transaction; retried later', { transactionalId: id, error }));
        } else if (isPrepare(t)) {
          await this.serialized(id, async () => {
            const current = this.transactions.get(id);
            if (current && isPrepare(current)) await this.complete(current);
          }).catch((error: unknown) => this.options.logger.warn('could not finish a transaction; retried later', { transactionalId: id, error }));
        } else if ((t.state === 'Empty' || t.state === 'CompleteCommit' || t.state === 'CompleteAbort') && now - t.updatedAtMs > this.options.idExpirationMs) {
          await this.serialized(id, async () => {
            const current = this.transactions.get(id);
            if (current !== t) return;
            await this.options.core.metadata.delete(transactionKey(id), { expectedVersion: t.version });
            this.transactions.delete(id);
            this.holdingOffsets.delete(id);
          }).catch((error: unknown) => this.options.logger.warn('could not forget an expired transactional id', { transactionalId: id, error }));
        }
      }
    } finally {
      this.checking = false;
    }
  }

  // ---- internals -------------------------------------------------------------------------------

  private identityError(t: Transaction | undefined, producerId: number, producerEpoch: number): number {
    if (!t || t.producerId !== producerId) return KafkaErrorCode.INVALID_PRODUCER_ID_MAPPING;
    if (t.producerEpoch !== producerEpoch) return KafkaErrorCode.INVALID_PRODUCER_EPOCH;
    if (isPrepare(t)) return KafkaErrorCode.CONCURRENT_TRANSACTIONS;
    return KafkaErrorCode.NONE;
  }

  /** Validates the producer, applies `change` to a copy that becomes Ongoing, stores it, swaps it in. */
  private update(
    transactionalId: string,
    producerId: number,
    producerEpoch: number,
    change: (t: Transaction) => void,
    precondition: (t: Transaction) => number = () => KafkaErrorCode.NONE,
  ): Promise<number> {
    if (this.closed) return Promise.resolve(KafkaErrorCode.COORDINATOR_NOT_AVAILABLE);
    return this.serialized(transactionalId, async () => {
      const t = this.transactions.get(transactionalId);
      const identityError = this.identityError(t, producerId, producerEpoch);
      if (identityError !== KafkaErrorCode.NONE) return identityError;
      const preconditionError = precondition(t!);
      if (preconditionError !== KafkaErrorCode.NONE) return preconditionError;
      // A new transaction starts empty: what the last one recorded is gone with it.
      const next = t!.state === 'Ongoing' ? copyOf(t!) : withoutContents(t!, 'Ongoing', this.options.clock.now());
      change(next);
      try {
        await this.store(next);
        return KafkaErrorCode.NONE;
      } catch (error) {
        this.options.logger.warn('storing a transaction failed', { transactionalId, error });
        return kafkaErrorCodeOf(error);
      }
    });
  }

  /**
   * Aborts an open transaction on the producer's behalf (timeout, or a new producer with the id):
   * the epoch is bumped first and the markers carry it, so the old producer is fenced everywhere.
   */
  private async abortWithBump(t: Transaction, why: string): Promise<Transaction> {
    this.options.logger.info('aborting a transaction', { transactionalId: t.transactionalId, producerId: t.producerId, why });
    const bumped = await this.options.core.initProducer(t.transactionalId);
    const decided = copyOf(t);
    decided.state = 'PrepareAbort';
    // The markers must name the producer whose records they end; a producer id that ran out of
    // epochs got a new id, and its markers keep the old id with its last epoch.
    if (bumped.producerId === t.producerId) decided.producerEpoch = bumped.producerEpoch;
    await this.store(decided);
    const done = await this.complete(decided);
    if (bumped.producerId !== t.producerId) {
      const moved = copyOf(done);
      moved.producerId = bumped.producerId;
      moved.producerEpoch = bumped.producerEpoch;
      await this.store(moved);
      return moved;
    }
    return done;
  }

  /** Writes the decided outcome: markers to every partition, offsets on commit, then Complete. */
  private async complete(t: Transaction): Promise<Transaction> {
    const commit = t.state === 'PrepareCommit';
    const type = commit ? CONTROL_TYPE_COMMIT : CONTROL_TYPE_ABORT;
    const appends: Promise<unknown>[] = [];
    for (const [topic, partitions] of t.partitions) {
      for (const partition of partitions) {
        const marker = encodeTransactionMarker(t.producerId, t.producerEpoch, type, 0, this.options.clock.now());
        appends.push(
          this.options.core.append(topic, partition, { kind: 'batches', data: marker, transfer: true }).catch((error: unknown) => {
            // A topic deleted since has nothing left to end.
            if (isStrataError(error, 'UNKNOWN_TOPIC') || isStrataError(error, 'UNKNOWN_PARTITION')) return;
            throw error;
          }),
        );
      }
    }
    const results = await Promise.allSettled(appends);
    const failure = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failure) throw failure.reason;
    if (commit) for (const [group, entries] of t.offsets) await this.options.offsets.commit(group, entries);
    const done = withoutContents(t, commit ? 'CompleteCommit' : 'CompleteAbort', -1);
    await this.store(done);
    return done;
  }

  /** Stores `t` (compare-and-set on its version) and makes it the current state. */
  private async store(t: Transaction): Promise<void> {
    t.updatedAtMs = this.options.clock.now();
    t.version = await this.options.core.metadata.put(transactionKey(t.transactionalId), encodeTransaction(t), { expectedVersion: t.version });
    this.remember(t);
  }

  /** Makes `t` the id's current state, and keeps `holdingOffsets` in step with it. */
  private remember(t: Transaction): void {
    this.transactions.set(t.transactionalId, t);
    if ((t.state === 'Ongoing' || isPrepare(t)) && t.offsets.size > 0) this.holdingOffsets.add(t.transactionalId);
    else this.holdingOffsets.delete(t.transactionalId);
  }

  private serialized<T>(transactionalId: string, work: () => Promise<T>): Promise<T> {
    const previous = this.running.get(transactionalId) ?? Promise.resolve();
    const result = previous.then(work, work);
    const settled = result.then(
      () => {},
      () => {},
    );
    this.running.set(transactionalId, settled);
    void settled.then(() => {
      if (this.running.get(transactionalId) === settled) this.running.delete(transactionalId);
    });
    return result;
  }
}

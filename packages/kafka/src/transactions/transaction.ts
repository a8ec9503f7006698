/**
 * One transactional id's state as the transaction coordinator keeps it (Kafka's
 * TransactionMetadata), and its stored form: one MetadataStore key per transactional id under
 * `/strata/kafka/transactions/`, JSON (written a few times per transaction, never per record).
 *
 *   Empty ──AddPartitions/AddOffsets──▶ Ongoing ──EndTxn──▶ PrepareCommit | PrepareAbort
 *     ▲                                                         │ markers written, offsets applied
 *     └──────── CompleteCommit | CompleteAbort ◀────────────────┘
 *
 * A Prepare state is stored before the first marker is appended, so a restart finds every
 * transaction whose outcome was decided and writes its markers again (a marker for a transaction
 * already ended in a partition changes nothing there).
 */
import type { OffsetCommitEntry } from '../offsets/committed-offset-store.js';
import { encodeKeySegment } from '../offsets/committed-offset-store.js';

export const TRANSACTIONS_KEY_PREFIX = '/strata/kafka/transactions';

export type TransactionState = 'Empty' | 'Ongoing' | 'PrepareCommit' | 'PrepareAbort' | 'CompleteCommit' | 'CompleteAbort';

export interface Transaction {
  readonly transactionalId: string;
  producerId: number;
  producerEpoch: number;
  timeoutMs: number;
  state: TransactionState;
  /** Partitions written in the ongoing transaction: full topic name → partition indexes. */
  partitions: Map<string, Set<number>>;
  /** Groups added by AddOffsetsToTxn. */
  groups: Set<string>;
  /** Offsets committed in the transaction (TxnOffsetCommit) per group, applied only at commit. */
  offsets: Map<string, OffsetCommitEntry[]>;
  /** When the transaction became Ongoing (its timeout counts from here). */
  startedAtMs: number;
  updatedAtMs: number;
  /** The stored key's version; -1 before the first write. */
  version: number;
}

interface StoredTransactionJson {
  readonly producerId: number;
  readonly producerEpoch: number;
  readonly timeoutMs: number;
  readonly state: TransactionState;
  readonly partitions: [string, number[]][];
  readonly groups: string[];
  readonly offsets: [string, [string, number, number, number, string | null][]][];
  readonly startedAtMs: number;
  readonly updatedAtMs: number;
}

export const TRANSACTION_STATES: readonly TransactionState[] = ['Empty', 'Ongoing', 'PrepareCommit', 'PrepareAbort', 'CompleteCommit', 'CompleteAbort'];

export function transactionKey(transactionalId: string): string {
  return `${TRANSACTIONS_KEY_PREFIX}/${encodeKeySegment(transactionalId)}`;
}

export function encodeTransaction(transaction: Transaction): Buffer {
  const json: StoredTransactionJson = {
    producerId: transaction.producerId,
    producerEpoch: transaction.producerEpoch,
    timeoutMs: transaction.timeoutMs,
    state: transaction.state,
    partitions: [...transaction.partitions].map(([topic, partitions]) => [topic, [...partitions]]),
    groups: [...transaction.groups],
    offsets: [...transaction.offsets].map(([group, entries]) => [group, entries.map((e) => [e.topic, e.partition, e.offset, e.leaderEpoch, e.metadata])]),
    startedAtMs: transaction.startedAtMs,
    updatedAtMs: transaction.updatedAtMs,
  };
  return Buffer.from(JSON.stringify(json));
}

/** The stored transaction, or null when the value is not one (logged and skipped by the caller). */
export function decodeTransaction(transactionalId: string, value: Buffer, version: number): Transaction | null {
  let json: StoredTransactionJson;
  try {
    json = JSON.parse(value.toString('utf8')) as StoredTransactionJson;
  } catch {
    return null;
  }
  if (typeof json !== 'object' || json === null || !TRANSACTION_STATES.includes(json.state) || !Number.isSafeInteger(json.producerId)) return null;
  if (!Array.isArray(json.partitions) || !Array.isArray(json.groups) || !Array.isArray(json.offsets)) return null;
  return {
    transactionalId,
    producerId: json.producerId,
    producerEpoch: json.producerEpoch,
    timeoutMs: json.timeoutMs,
    state: json.state,
    partitions: new Map(json.partitions.map(([topic, partitions]) => [topic, new Set(partitions)])),
    groups: new Set(json.groups),
    offsets: new Map(
      json.offsets.map(([group, entries]) => [group, entries.map(([topic, partition, offset, leaderEpoch, metadata]) => ({ topic, partition, offset, leaderEpoch, metadata }))]),
    ),
    startedAtMs: json.startedAtMs,
    updatedAtMs: json.updatedAtMs,
    version,
  };
}

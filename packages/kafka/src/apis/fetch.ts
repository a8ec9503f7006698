/**
 * Fetch (key 1) v4-12 (v0-3 would need message format down-conversion: UNSUPPORTED_VERSION).
 *
 * Serves the stored record batches as they are; the first batch may start before fetchOffset
 * (clients skip those records). Long poll: when fewer than minBytes are ready, wait on
 * core.waitForData (woken by appends, not timers) up to maxWaitMs. Batches without records (left
 * by compaction) count for nothing toward minBytes: a read_committed answer of nothing but those
 * (the next records belong to an open transaction) would otherwise come back at once, and kafkajs,
 * which resolves no offset for it, would fetch again at once until the transaction ends.
 * maxBytes caps the response and partitionMaxBytes each partition, except that the first
 * partition with data always returns at least one whole batch (KIP-74). An error on any partition
 * answers at once. No fetch sessions (KIP-227): sessionId 0.
 *
 * Isolation (KIP-98): read_uncommitted reads up to the high watermark; read_committed only batches
 * below the last stable offset (the first offset of the oldest open transaction), and each partition
 * lists the aborted transactions overlapping what it returns, whose records the client drops.
 * Control batches (markers) are returned as stored; clients skip them.
 */
import { batchRecordCount, type PartitionPosition, type ReadResult } from '@strata/core';
import type { KafkaBroker } from '../broker.js';
import { KafkaErrorCode } from '../error-codes.js';
import { kafkaErrorCodeOf } from '../errors.js';
import { API_KEY } from '../protocol/messages/index.js';
import type { RecordsValue } from '../protocol/writer.js';
import type { FetchRequest, FetchResponse } from '../protocol/messages/fetch/types.js';
import type { Elem } from './elem.js';
import { AclOperation } from '../acl/acl-types.js';
import { topicAllowed } from '../acl/checks.js';
import { defineApi } from './api.js';
import { lookupTopic, partitionError, topicNameOfId, type TopicLookup } from './topic-lookup.js';

type FetchResponsePartitionData = Elem<Elem<FetchResponse['responses']>['partitions']>;

export const FETCH_FIRST_MAGIC2_VERSION = 4;
const READ_COMMITTED = 1;
/** Wake-ups of one long poll: appends to other offsets can wake us without giving us minBytes. */
const FETCH_POLL_ROUNDS_MAX = 1_000;

interface FetchTarget {
  readonly topicIndex: number;
  readonly full: string | null;
  readonly partition: number;
  readonly fetchOffset: number;
  readonly partitionMaxBytes: number;
  readonly errorCode: number;
}

function errorPartition(partitionIndex: number, errorCode: number): FetchResponsePartitionData {
  return { partitionIndex, errorCode, highWatermark: -1, lastStableOffset: -1, logStartOffset: -1, abortedTransactions: null, records: null };
}

async function readOnce(
  broker: KafkaBroker,
  targets: readonly FetchTarget[],
  maxBytes: number,
  readCommitted: boolean,
): Promise<{ partitions: FetchResponsePartitionData[]; bytes: number; recordBytes: number; failed: boolean; reads: ReadResult[] }> {
  let bytes = 0;
  /** Bytes of the batches that hold records: what minBytes counts. */
  let recordBytes = 0;
  let failed = false;
  const partitions: FetchResponsePartitionData[] = [];
  /** Core reads whose entries the partitions reference: released once the response is written. */
  const reads: ReadResult[] = [];
  for (const target of targets) {
    if (target.errorCode !== KafkaErrorCode.NONE || target.full === null) {
      failed = true;
      partitions.push(errorPartition(target.partition, target.errorCode));
      continue;
    }
    try {
      const offsets = broker.core.offsets(target.full, target.partition);
      const base = {
        partitionIndex: target.partition,
        errorCode: KafkaErrorCode.NONE,
        highWatermark: offsets.highWatermark,
        lastStableOffset: offsets.lastStableOffset,
        logStartOffset: offsets.logStartOffset,
        abortedTransactions: readCommitted ? [] : null,
        preferredReadReplica: -1,
      };
      if (target.fetchOffset < offsets.logStartOffset || target.fetchOffset > offsets.highWatermark) {
        failed = true;
        partitions.push({ ...base, errorCode: KafkaErrorCode.OFFSET_OUT_OF_RANGE, records: null });
        continue;
      }
      const budget = Math.min(target.partitionMaxBytes, maxBytes - bytes);
      const readableEnd = readCommitted ? offsets.lastStableOffset : offsets.highWatermark;
      if (target.fetchOffset >= readableEnd || (budget <= 0 && bytes > 0)) {
        partitions.push({ ...base, records: Buffer.alloc(0) });
        continue;
      }
      const result = await broker.core.read(target.full, target.partition, { offset: target.fetchOffset, maxBytes: Math.max(1, budget) });
      let entries = result.entries;
      let abortedTransactions: FetchResponsePartitionData['abortedTransactions'] = base.abortedTransactions;
      if (readCommitted) {
        const stable = result.lastStableOffset;
        if (entries.length > 0 && entries[entries.length - 1]!.baseOffset >= stable) entries = entries.filter((entry) => entry.baseOffset < stable);
        if (entries.length > 0) {
          const aborted = broker.core.abortedTransactions(target.full, target.partition, target.fetchOffset, entries[entries.length - 1]!.lastOffset);
          abortedTransactions = aborted.map((a) => ({ producerId: a.producerId, firstOffset: a.firstOffset }));
        }
        if (entries.length === 0) {
          result.release();
          partitions.push({ ...base, lastStableOffset: stable, records: Buffer.alloc(0) });
          continue;
        }
      }
      let size = 0;
      let sizeWithRecords = 0;
      for (const entry of entries) {
        size += entry.bytes.length;
        if (batchRecordCount(entry.bytes) > 0) sizeWithRecords += entry.bytes.length;
      }
      // Only the first partition with data may go over the limits (KIP-74).
      if (bytes > 0 && size > budget) {
        result.release(); // its entries are not sent
        partitions.push({ ...base, records: Buffer.alloc(0) });
        continue;
      }
      reads.push(result);
      bytes += size;
      recordBytes += sizeWithRecords;
      partitions.push({
        ...base,
        highWatermark: result.highWatermark,
        lastStableOffset: result.lastStableOffset,
        logStartOffset: result.logStartOffset,
        abortedTransactions,
        records: joinEntries(entries),
      });
    } catch (error) {
      failed = true;
      const errorCode = kafkaErrorCodeOf(error);
      if (errorCode === KafkaErrorCode.UNKNOWN_SERVER_ERROR) broker.logger.warn('fetch read failed', { topic: target.full, partition: target.partition, error });
      partitions.push(errorPartition(target.partition, errorCode));
    }
  }
  return { partitions, bytes, recordBytes, failed, reads };
}

function releaseAll(reads: readonly ReadResult[]): void {
  for (const read of reads) read.release();
}

/**
 * One records field from the entries read, without copying record bytes: entries that lie back to
 * back in one buffer (a catch-up read from a segment file) become one view, and entries in separate
 * buffers (tail-cache entries, one per append) stay separate chunks that the connection writes with
 * one writev. Joining them first would cost a fresh buffer of up to maxBytes per fetch (page faults
 * and GC pressure) and a memcpy of every byte, before the kernel copies them again.
 */
export function joinEntries(entries: ReadonlyArray<{ readonly bytes: Buffer }>): RecordsValue {
  if (entries.length === 1) return entries[0]!.bytes;
  const chunks: Buffer[] = [];
  let run = entries[0]!.bytes;
  let runLength = run.length;
  for (let i = 1; i < entries.length; i++) {
    const bytes = entries[i]!.bytes;
    if (bytes.buffer === run.buffer && bytes.byteOffset === run.byteOffset + runLength) {
      runLength += bytes.length;
      continue;
    }
    chunks.push(runLength === run.length ? run : Buffer.from(run.buffer, run.byteOffset, runLength));
    run = bytes;
    runLength = bytes.length;
  }
  const last = runLength === run.length ? run : Buffer.from(run.buffer, run.byteOffset, runLength);
  if (chunks.length === 0) return last;
  chunks.push(last);
  return chunks;
}

export const fetchApi = defineApi<FetchRequest, FetchResponse>({
  apiKey: API_KEY.Fetch,
  name: 'Fetch',
  minVersion: 0,
  maxVersion: 12,
  pipelined: true,
  async handle(ctx, request) {
    const { broker, apiVersion, signal } = ctx;
    if (apiVersion < FETCH_FIRST_MAGIC2_VERSION) return fetchErrorResponse(request, KafkaErrorCode.UNSUPPORTED_VERSION);
    const targets: FetchTarget[] = [];
    request.topics.forEach((topic, topicIndex) => {
      const lookup = lookupFetchTopic(broker, topic.topic);
      const refused = !topicAllowed(ctx, AclOperation.READ, topic.topic, lookup.full);
      for (const p of topic.partitions) {
        targets.push({
          topicIndex,
          full: lookup.ok ? lookup.full : null,
          partition: p.partition,
          fetchOffset: p.fetchOffset,
          partitionMaxBytes: Math.max(0, p.partitionMaxBytes),
          errorCode: refused ? KafkaErrorCode.TOPIC_AUTHORIZATION_FAILED : partitionError(lookup, p.partition),
        });
      }
    });
    const maxBytes = Math.min(request.maxBytes > 0 ? request.maxBytes : broker.config.fetchBytesMax, broker.config.fetchBytesMax);
    const maxWaitMs = Math.min(Math.max(0, request.maxWaitMs), broker.config.fetchWaitMsMax);
    const readCommitted = request.isolationLevel === READ_COMMITTED;
    const deadline = broker.clock.now() + maxWaitMs;

    let result = await readOnce(broker, targets, maxBytes, readCommitted);
    for (let round = 0; round < FETCH_POLL_ROUNDS_MAX; round++) {
      const remainingMs = deadline - broker.clock.now();
      if (result.failed || result.recordBytes >= Math.max(1, request.minBytes) || remainingMs <= 0 || signal.aborted) break;
      const positions: PartitionPosition[] = [];
      targets.forEach((t, i) => {
        if (t.full !== null) positions.push({ topic: t.full, partition: t.partition, offset: nextOffsetOf(result.partitions[i], t) });
      });
      if (positions.length === 0) break;
      const woken = await broker.core.waitForData(positions, remainingMs, signal);
      releaseAll(result.reads); // replaced before anything referenced it
      result = await readOnce(broker, targets, maxBytes, readCommitted);
      if (!woken) break;
    }
    // The response references the entries' bytes until the socket write completes.
    if (result.reads.length > 0) ctx.onResponseSent(releaseAll.bind(null, result.reads));

    return {
      throttleTimeMs: 0,
      errorCode: KafkaErrorCode.NONE,
      sessionId: 0,
      responses: request.topics.map((topic, topicIndex) => ({
        topic: topic.topic,
        partitions: result.partitions.filter((_, i) => targets[i]!.topicIndex === topicIndex),
      })),
    };
  },
  errorResponse: (_ctx, request, errorCode) => fetchErrorResponse(request, errorCode),
});

function fetchErrorResponse(request: FetchRequest | null, errorCode: number): FetchResponse {
  return {
    throttleTimeMs: 0,
    errorCode,
    sessionId: 0,
    responses: (request?.topics ?? []).map((t) => ({ topic: t.topic, partitions: t.partitions.map((p) => errorPartition(p.partition, errorCode)) })),
  };
}

const TOPIC_ID_TEXT = /^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i;

/**
 * Compat: @platformatic/kafka sends Fetch v12 with the topic *id* (as UUID text) in the
 * topic name field, its v13+ habit. A name that is not a topic but is a topic id of ours is
 * read as that topic; the response echoes the string it sent, which is what it matches on.
 */
function lookupFetchTopic(broker: KafkaBroker, name: string): TopicLookup {
  const lookup = lookupTopic(broker, name);
  if (lookup.ok || !TOPIC_ID_TEXT.test(name)) return lookup;
  const byId = topicNameOfId(broker, Buffer.from(name.replace(/-/g, ''), 'hex'));
  return byId === null ? lookup : lookupTopic(broker, byId);
}

/**
 * Where to wait for more data: past what this round already returned would be better, but a
 * client that asked for minBytes > what exists simply waits for the log end to move.
 */
function nextOffsetOf(partition: FetchResponsePartitionData | undefined, target: FetchTarget): number {
  const hw = partition?.highWatermark ?? -1;
  return hw >= 0 ? Math.max(hw, target.fetchOffset) : target.fetchOffset;
}

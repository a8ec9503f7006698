/**
 * A small in-memory stand-in for the core's log (tests only): partitions are arrays of encoded
 * record batches, appends notify onAppend listeners synchronously as the real core does. Enough
 * of `Omit<Core, 'subscriptions'>` to drive subscriptions and compaction without the log engine.
 */
import type { AppendEvent, AppendInput, AppendResult, Core, Entry, ReadOptions, ReadResult, TopicDescription, TopicEvent, TopicPolicies } from '../../src/core.js';
import { StrataError } from '../../src/errors.js';
import type { MetadataStore } from '../../src/metadata/metadata-store.js';
import { decodeRecordBatch, encodeRecordBatch, readBatchHeader, setBaseOffset, splitBatches } from '../../src/record-batch/index.js';

const POLICIES: TopicPolicies = {
  retentionMs: -1,
  retentionBytes: -1,
  ttlMs: 0,
  cleanupPolicy: 'delete',
  segmentBytesMax: 1 << 30,
  segmentMsMax: 1 << 30,
  segmentEntriesMax: 1 << 30,
  entryBytesMax: 1 << 20,
};

interface FakePartition {
  entries: Entry[];
  logStartOffset: number;
  highWatermark: number;
}

function unused(name: string): never {
  throw new Error(`fake core: ${name} is not used by these tests`);
}

export class FakeCore implements Omit<Core, 'subscriptions'> {
  readonly nodeId = 0;
  readonly partitions = new Map<string, FakePartition[]>();
  private readonly appendListeners = new Set<(event: AppendEvent) => void>();
  private readonly topicListeners = new Set<(event: TopicEvent) => void>();
  appendFailures = 0;
  /** Message TTL every topic reports in its policies. */
  ttlMs = 0;

  constructor(readonly metadata: MetadataStore) {}

  readonly topics = {
    create: async (name: string, options?: { partitions?: number }): Promise<TopicDescription> => {
      if (this.partitions.has(name)) throw new StrataError('TOPIC_EXISTS', name);
      const count = options?.partitions ?? 1;
      this.partitions.set(name, Array.from({ length: count }, () => ({ entries: [], logStartOffset: 0, highWatermark: 0 })));
      for (const listener of this.topicListeners) listener({ type: 'created', topic: name, partitions: count });
      return this.topics.describe(name);
    },
    delete: async (name: string): Promise<void> => {
      if (!this.partitions.delete(name)) throw new StrataError('UNKNOWN_TOPIC', name);
      for (const listener of this.topicListeners) listener({ type: 'deleted', topic: name });
    },
    list: (): string[] => [...this.partitions.keys()],
    describe: (name: string): TopicDescription => {
      const partitions = this.partitions.get(name);
      if (!partitions) throw new StrataError('UNKNOWN_TOPIC', name);
      return { name, partitions: partitions.length, overrides: {}, policies: { ...POLICIES, ttlMs: this.ttlMs }, createdAtMs: 0 };
    },
    exists: (name: string): boolean => this.partitions.has(name),
    setPartitionCount: async (): Promise<TopicDescription> => unused('setPartitionCount'),
    updatePolicies: async (): Promise<TopicDescription> => unused('updatePolicies'),
  };

  readonly namespaces = {
    create: async () => unused('namespaces.create'),
    delete: async () => unused('namespaces.delete'),
    list: () => unused('namespaces.list'),
    describe: () => unused('namespaces.describe'),
    updatePolicies: async () => unused('namespaces.updatePolicies'),
  };

  partition(topic: string, partition: number): FakePartition {
    const found = this.partitions.get(topic)?.[partition];
    if (!found) throw new StrataError('UNKNOWN_TOPIC', `${topic}-${partition}`);
    return found;
  }

  async append(topic: string, partition: number, input: AppendInput): Promise<AppendResult> {
    const log = this.partition(topic, partition);
    if (this.appendFailures > 0) {
      this.appendFailures--;
      throw new StrataError('STORAGE_ERROR', 'injected append failure');
    }
    const batches =
      input.kind === 'messages'
        ? [encodeRecordBatch(input.messages, input.compression ? { compression: input.compression } : {})]
        : splitBatches(input.data).map((batch) => Buffer.from(batch));
    const baseOffset = log.highWatermark;
    for (const bytes of batches) {
      const header = readBatchHeader(bytes);
      setBaseOffset(bytes, log.highWatermark);
      const entry = { baseOffset: log.highWatermark, lastOffset: log.highWatermark + header.lastOffsetDelta, bytes };
      log.entries.push(entry);
      log.highWatermark = entry.lastOffset + 1;
    }
    const lastOffset = log.highWatermark - 1;
    for (const listener of this.appendListeners) listener({ topic, partition, baseOffset, lastOffset });
    return { baseOffset, lastOffset, logAppendTimeMs: Date.now(), logStartOffset: log.logStartOffset, duplicate: false };
  }

  async read(topic: string, partition: number, options: ReadOptions): Promise<ReadResult> {
    const log = this.partition(topic, partition);
    if (options.offset < log.logStartOffset || options.offset > log.highWatermark) {
      throw new StrataError('OFFSET_OUT_OF_RANGE', `${options.offset}`);
    }
    const entries: Entry[] = [];
    let bytes = 0;
    for (const entry of log.entries) {
      if (entry.lastOffset < options.offset) continue;
      if (entries.length > 0 && (bytes + entry.bytes.length > options.maxBytes || entries.length >= (options.maxEntries ?? Infinity))) break;
      entries.push(entry);
      bytes += entry.bytes.length;
    }
    // Nothing pooled here: release has nothing to give back.
    return { entries, logStartOffset: log.logStartOffset, highWatermark: log.highWatermark, lastStableOffset: log.highWatermark, release: () => {} };
  }

  offsets(topic: string, partition: number) {
    const log = this.partition(topic, partition);
    return { logStartOffset: log.logStartOffset, highWatermark: log.highWatermark, lastStableOffset: log.highWatermark };
  }

  async offsetOfMaxTimestamp(): Promise<null> {
    return null; // not used by the subscription tests
  }

  producers(): [] {
    return []; // the fake keeps no producer state
  }

  abortedTransactions(): [] {
    return []; // the fake takes no transactional batches
  }

  async offsetForTimestamp(topic: string, partition: number, timestampMs: number) {
    for (const entry of this.partition(topic, partition).entries) {
      for (const message of decodeRecordBatch(entry.bytes).messages) {
        if (message.timestamp >= timestampMs) return { offset: message.offset, timestamp: message.timestamp };
      }
    }
    return null;
  }

  async deleteRecordsBefore(topic: string, partition: number, beforeOffset: number): Promise<number> {
    const log = this.partition(topic, partition);
    log.entries = log.entries.filter((entry) => entry.lastOffset >= beforeOffset);
    log.logStartOffset = Math.max(log.logStartOffset, beforeOffset);
    return log.logStartOffset;
  }

  async waitForData(): Promise<boolean> {
    return unused('waitForData');
  }

  async initProducer(): Promise<{ producerId: number; producerEpoch: number }> {
    return unused('initProducer');
  }

  onAppend(listener: (event: AppendEvent) => void): () => void {
    this.appendListeners.add(listener);
    return () => void this.appendListeners.delete(listener);
  }

  onTopicEvent(listener: (event: TopicEvent) => void): () => void {
    this.topicListeners.add(listener);
    return () => void this.topicListeners.delete(listener);
  }

  /** The fake's storage never fails: no listener is ever called. */
  onStorageFailure(): () => void {
    return () => {};
  }

  async close(): Promise<void> {}
}

/** All messages of a partition (tests). */
export function allMessages(core: FakeCore, topic: string, partition = 0) {
  return core.partition(topic, partition).entries.flatMap((entry) => decodeRecordBatch(entry.bytes).messages);
}

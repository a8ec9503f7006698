/**
 * The core for MQTT tests: the real `openCore` when @strata/core exports it, otherwise a small
 * in-memory log (record batches encoded by the core's codec) with the core's real embedded metadata
 * store. Both keep their state in `dataDir` / the returned `memory`, so a test can "restart" by
 * closing and reopening on the same state.
 */
import * as coreModule from '@strata/core';
import {
  encodeRecordBatch,
  formatTopicName,
  silentLogger,
  StrataError,
  systemClock,
  type AppendEvent,
  type AppendInput,
  type AppendResult,
  type Core,
  type Entry,
  type MetadataStore,
  type ReadOptions,
  type ReadResult,
  type Subscriptions,
  type TopicDescription,
  type TopicEvent,
  type TopicPolicies,
} from '@strata/core';

const POLICIES: TopicPolicies = {
  retentionMs: -1,
  retentionBytes: -1,
  ttlMs: 0,
  cleanupPolicy: 'delete',
  segmentBytesMax: 1 << 30,
  segmentMsMax: 1 << 30,
  segmentEntriesMax: 1 << 30,
  entryBytesMax: 8 << 20,
};

interface MemoryPartition {
  entries: Entry[];
  next: number;
}

/** What survives a simulated restart of the in-memory core. */
export interface MemoryState {
  readonly topics: Map<string, { partitions: MemoryPartition[]; createdAtMs: number }>;
}

export function newMemoryState(): MemoryState {
  return { topics: new Map() };
}

type OpenCore = (options: { dataDir: string; fsync?: { kind: 'always' } }) => Promise<Core>;

/** True when the real core is available. */
export const realCoreAvailable = typeof (coreModule as Record<string, unknown>)['openCore'] === 'function';

export async function openTestCore(dataDir: string, memory: MemoryState): Promise<Core> {
  if (realCoreAvailable) {
    const open = (coreModule as unknown as { openCore: OpenCore }).openCore;
    return open({ dataDir });
  }
  return openMemoryCore(dataDir, memory);
}

async function openMemoryCore(dataDir: string, memory: MemoryState): Promise<Core> {
  const m = coreModule as unknown as {
    openEmbeddedMetadataStore: (o: { dir: string }) => Promise<MetadataStore>;
    createSubscriptions?: (deps: unknown) => Promise<Subscriptions & { close(): Promise<void> }>;
  };
  const metadata = await m.openEmbeddedMetadataStore({ dir: `${dataDir}/metadata` });
  const appendListeners = new Set<(e: AppendEvent) => void>();
  const topicListeners = new Set<(e: TopicEvent) => void>();
  const full = (name: string): string => (name.startsWith('persistent://') ? name : formatTopicName('public', 'default', name));
  const partitionOf = (topic: string, partition: number): MemoryPartition => {
    const t = memory.topics.get(full(topic));
    if (t === undefined) throw new StrataError('UNKNOWN_TOPIC', `unknown topic ${topic}`);
    const p = t.partitions[partition];
    if (p === undefined) throw new StrataError('UNKNOWN_PARTITION', `unknown partition ${partition}`);
    return p;
  };
  const describe = (name: string): TopicDescription => {
    const t = memory.topics.get(full(name));
    if (t === undefined) throw new StrataError('UNKNOWN_TOPIC', `unknown topic ${name}`);
    return { name: full(name), partitions: t.partitions.length, overrides: {}, policies: POLICIES, createdAtMs: t.createdAtMs };
  };
  let closed = false;
  const base: Omit<Core, 'subscriptions'> = {
    nodeId: 0,
    metadata,
    topics: {
      async create(name, options) {
        const n = full(name);
        if (memory.topics.has(n)) throw new StrataError('TOPIC_EXISTS', n);
        const count = options?.partitions ?? 1;
        memory.topics.set(n, { partitions: Array.from({ length: count }, () => ({ entries: [], next: 0 })), createdAtMs: Date.now() });
        for (const l of topicListeners) l({ type: 'created', topic: n, partitions: count });
        return describe(n);
      },
      async delete(name) {
        memory.topics.delete(full(name));
        for (const l of topicListeners) l({ type: 'deleted', topic: full(name) });
      },
      list: () => [...memory.topics.keys()],
      describe,
      exists: (name) => memory.topics.has(full(name)),
      async setPartitionCount(name, partitions) {
        const t = memory.topics.get(full(name))!;
        while (t.partitions.length < partitions) t.partitions.push({ entries: [], next: 0 });
        for (const l of topicListeners) l({ type: 'partitions', topic: full(name), partitions });
        return describe(name);
      },
      async updatePolicies(name) {
        return describe(name);
      },
    },
    namespaces: undefined as unknown as Core['namespaces'],
    async append(topic: string, partition: number, input: AppendInput): Promise<AppendResult> {
      if (closed) throw new StrataError('CLOSED', 'closed');
      const p = partitionOf(topic, partition);
      if (input.kind !== 'messages') throw new StrataError('INVALID_ARGUMENT', 'memory core: messages only');
      await new Promise((resolve) => setImmediate(resolve)); // an append is never synchronous
      const baseOffset = p.next;
      const bytes = encodeRecordBatch(input.messages, { baseOffset });
      const lastOffset = baseOffset + input.messages.length - 1;
      p.entries.push({ baseOffset, lastOffset, bytes });
      p.next = lastOffset + 1;
      for (const l of appendListeners) l({ topic: full(topic), partition, baseOffset, lastOffset });
      return { baseOffset, lastOffset, logAppendTimeMs: Date.now(), logStartOffset: 0, duplicate: false };
    },
    async read(topic: string, partition: number, options: ReadOptions): Promise<ReadResult> {
      const p = partitionOf(topic, partition);
      if (options.offset > p.next) throw new StrataError('OFFSET_OUT_OF_RANGE', 'offset out of range');
      const entries: Entry[] = [];
      let bytes = 0;
      for (const e of p.entries) {
        if (e.lastOffset < options.offset) continue;
        if (entries.length > 0 && (bytes + e.bytes.length > options.maxBytes || entries.length >= (options.maxEntries ?? Infinity))) break;
        entries.push(e);
        bytes += e.bytes.length;
      }
      return { entries, logStartOffset: 0, highWatermark: p.next, lastStableOffset: p.next };
    },
    offsets(topic: string, partition: number) {
      const p = partitionOf(topic, partition);
      return { logStartOffset: 0, highWatermark: p.next, lastStableOffset: p.next };
    },
    async offsetForTimestamp() {
      return null;
    },
    async deleteRecordsBefore() {
      return 0;
    },
    async waitForData(positions, waitMs) {
      const deadline = Date.now() + waitMs;
      while (Date.now() < deadline) {
        if (positions.some((pos) => partitionOf(pos.topic, pos.partition).next > pos.offset)) return true;
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      return false;
    },
    async initProducer() {
      return { producerId: 1, producerEpoch: 0 };
    },
    onAppend(listener) {
      appendListeners.add(listener);
      return () => appendListeners.delete(listener);
    },
    onTopicEvent(listener) {
      topicListeners.add(listener);
      return () => topicListeners.delete(listener);
    },
    async close() {
      closed = true;
      await subscriptions?.close();
      await metadata.close();
    },
  };
  let subscriptions: (Subscriptions & { close(): Promise<void> }) | undefined;
  let create = m.createSubscriptions;
  if (create === undefined) {
    const mod = (await import(new URL('../../../core/dist/src/subscription/subscriptions.js', import.meta.url).href)) as typeof m;
    create = mod.createSubscriptions;
  }
  subscriptions = await create!({ core: base, metadata, clock: systemClock, logger: silentLogger });
  return { ...base, subscriptions } as Core;
}

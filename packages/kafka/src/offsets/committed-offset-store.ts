/**
 * Committed consumer-group offsets, durable in the core MetadataStore (one key per group under
 * `/strata/kafka/groups/`), so they survive a restart. All groups are loaded at start; commits update
 * memory at once and resolve when a write that includes them is durable. Writes of one group are
 * serialized and coalesced: commits that arrive while a write is in flight share the next write.
 */
import { isStrataError, type Clock, type MetadataStore } from '@strata/core';

export interface CommittedOffset {
  readonly offset: number;
  readonly leaderEpoch: number;
  readonly metadata: string | null;
  readonly commitTimestampMs: number;
}

export interface OffsetCommitEntry {
  readonly topic: string; // full core topic name
  readonly partition: number;
  readonly offset: number;
  readonly leaderEpoch: number;
  readonly metadata: string | null;
}

interface GroupOffsets {
  /** topic → partition → committed */
  readonly topics: Map<string, Map<number, CommittedOffset>>;
  queued: Promise<void> | null; // a write not started yet: later commits join it
  inFlight: Promise<void> | null;
}

export const GROUPS_KEY_PREFIX = '/strata/kafka/groups';

/** Keeps [A-Za-z0-9_-]; everything else %XX of its UTF-8 bytes, so any group id is one key segment. */
export function encodeKeySegment(value: string): string {
  let out = '';
  for (const byte of Buffer.from(value, 'utf8')) {
    const c = String.fromCharCode(byte);
    out += /[A-Za-z0-9_-]/.test(c) ? c : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

export function decodeKeySegment(segment: string): string {
  return decodeURIComponent(segment);
}

interface StoredGroupJson {
  readonly offsets: Record<string, Record<string, [number, number, string | null, number]>>;
}

export class CommittedOffsetStore {
  private readonly groups = new Map<string, GroupOffsets>();

  constructor(
    private readonly metadata: MetadataStore,
    private readonly clock: Clock,
  ) {}

  async load(): Promise<void> {
    for (const segment of await this.metadata.children(GROUPS_KEY_PREFIX)) {
      const stored = await this.metadata.get(`${GROUPS_KEY_PREFIX}/${segment}`);
      if (!stored) continue;
      const groupId = decodeKeySegment(segment);
      const json = JSON.parse(stored.value.toString('utf8')) as StoredGroupJson;
      const state = this.state(groupId);
      for (const [topic, partitions] of Object.entries(json.offsets)) {
        const map = new Map<number, CommittedOffset>();
        for (const [partition, [offset, leaderEpoch, metadata, commitTimestampMs]] of Object.entries(partitions)) {
          map.set(Number(partition), { offset, leaderEpoch, metadata, commitTimestampMs });
        }
        state.topics.set(topic, map);
      }
    }
  }

  /** Groups that have committed offsets. */
  groupIds(): string[] {
    return [...this.groups.entries()].filter(([, g]) => g.topics.size > 0).map(([id]) => id);
  }

  hasOffsets(groupId: string): boolean {
    return (this.groups.get(groupId)?.topics.size ?? 0) > 0;
  }

  get(groupId: string, topic: string, partition: number): CommittedOffset | undefined {
    return this.groups.get(groupId)?.topics.get(topic)?.get(partition);
  }

  /** Every committed offset of the group, topics in insertion order. */
  list(groupId: string): Array<{ topic: string; partition: number; committed: CommittedOffset }> {
    const out: Array<{ topic: string; partition: number; committed: CommittedOffset }> = [];
    for (const [topic, partitions] of this.groups.get(groupId)?.topics ?? []) {
      for (const [partition, committed] of [...partitions].sort((a, b) => a[0] - b[0])) out.push({ topic, partition, committed });
    }
    return out;
  }

  async commit(groupId: string, entries: readonly OffsetCommitEntry[]): Promise<void> {
    const state = this.state(groupId);
    const now = this.clock.now();
    for (const e of entries) {
      let partitions = state.topics.get(e.topic);
      if (!partitions) state.topics.set(e.topic, (partitions = new Map()));
      partitions.set(e.partition, { offset: e.offset, leaderEpoch: e.leaderEpoch, metadata: e.metadata, commitTimestampMs: now });
    }
    return this.flush(groupId, state);
  }

  /** Removes some (or, without `partitions`, all) of a group's offsets. */
  async delete(groupId: string, partitions?: ReadonlyArray<{ topic: string; partition: number }>): Promise<void> {
    const state = this.groups.get(groupId);
    if (!state) return;
    if (partitions) {
      for (const { topic, partition } of partitions) {
        const map = state.topics.get(topic);
        map?.delete(partition);
        if (map && map.size === 0) state.topics.delete(topic);
      }
    } else {
      state.topics.clear();
    }
    return this.flush(groupId, state);
  }

  /** Drops a deleted topic's offsets from every group (Kafka does the same on topic deletion). */
  async forgetTopic(topic: string): Promise<void> {
    const writes: Promise<void>[] = [];
    for (const [groupId, state] of this.groups) {
      if (state.topics.delete(topic)) writes.push(this.flush(groupId, state));
    }
    await Promise.all(writes);
  }

  /** When the group last committed (the newest commit of any partition), or -1 without offsets. */
  lastCommitMs(groupId: string): number {
    let last = -1;
    for (const partitions of this.groups.get(groupId)?.topics.values() ?? []) {
      for (const committed of partitions.values()) last = Math.max(last, committed.commitTimestampMs);
    }
    return last;
  }

  private state(groupId: string): GroupOffsets {
    let state = this.groups.get(groupId);
    if (!state) this.groups.set(groupId, (state = { topics: new Map(), queued: null, inFlight: null }));
    return state;
  }

  private flush(groupId: string, state: GroupOffsets): Promise<void> {
    if (state.queued) return state.queued;
    const previous = (state.inFlight ?? Promise.resolve()).catch(() => {});
    const write: Promise<void> = previous.then(async () => {
      state.queued = null;
      state.inFlight = write;
      try {
        await this.writeGroup(groupId, state);
      } finally {
        if (state.inFlight === write) state.inFlight = null;
      }
    });
    state.queued = write;
    return write;
  }

  private async writeGroup(groupId: string, state: GroupOffsets): Promise<void> {
    const key = `${GROUPS_KEY_PREFIX}/${encodeKeySegment(groupId)}`;
    if (state.topics.size === 0) {
      try {
        await this.metadata.delete(key);
      } catch (error) {
        if (!isStrataError(error, 'NOT_FOUND')) throw error;
      }
      return;
    }
    const offsets: StoredGroupJson['offsets'] = {};
    for (const [topic, partitions] of state.topics) {
      const out: Record<string, [number, number, string | null, number]> = {};
      for (const [p, c] of partitions) out[p] = [c.offset, c.leaderEpoch, c.metadata, c.commitTimestampMs];
      offsets[topic] = out;
    }
    await this.metadata.put(key, Buffer.from(JSON.stringify({ offsets } satisfies StoredGroupJson)));
  }
}

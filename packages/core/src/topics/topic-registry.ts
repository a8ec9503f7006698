/**
 * Tenants, namespaces and topics, persisted in the MetadataStore and mirrored in memory so that
 * list/describe/exists are synchronous. Keys:
 *
 *   /strata/namespaces/<tenant>/<ns>        {"policies": {...}}  (the namespace's own settings)
 *   /strata/topics/<tenant>/<ns>/<local>    {"id", "partitions", "overrides", "createdAtMs"}
 *   /strata/core/next-topic-id              next numeric topic id (never reused: a recreated
 *                                           topic must not replay an old incarnation's journal)
 *
 * Path parts are URI-encoded. The log itself is told about changes through `LogHooks`.
 */
import type { NamespaceDescription, TopicDescription, TopicEvent, TopicPolicies } from '../core.js';
import { isStrataError, StrataError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { MetadataStore } from '../metadata/metadata-store.js';
import { DEFAULT_NAMESPACE, DEFAULT_TENANT, isValidNamespacePart, resolveTopicName } from '../names.js';
import { applyPatch, mergePolicies, validatePolicies, type PoliciesPatch } from './policies.js';

const NAMESPACES_ROOT = '/strata/namespaces';
const TOPICS_ROOT = '/strata/topics';
const NEXT_TOPIC_ID_KEY = '/strata/core/next-topic-id';
/** Topic partitions accepted by one create or grow. */
export const TOPIC_PARTITIONS_MAX = 10_000;

interface StoredTopic {
  id: number;
  partitions: number;
  overrides: Partial<TopicPolicies>;
  createdAtMs: number;
}

interface NamespaceRecord {
  policies: Partial<TopicPolicies>;
  version: number;
}

interface TopicRecord extends StoredTopic {
  name: string;
  namespace: string;
  version: number;
}

export interface TopicLayoutView {
  readonly topicId: number;
  readonly name: string;
  readonly partitions: number;
  readonly policies: TopicPolicies;
}

/** What the registry asks of the log when topics change. */
export interface LogHooks {
  addPartitions(topic: TopicLayoutView, from: number): Promise<void>;
  removeTopic(name: string): Promise<void>;
  setPolicies(name: string, policies: TopicPolicies): void;
}

function enc(part: string): string {
  return encodeURIComponent(part);
}

function parseJson<T>(value: Buffer, what: string): T {
  try {
    return JSON.parse(value.toString('utf8')) as T;
  } catch (error) {
    throw new StrataError('STORAGE_ERROR', `unreadable metadata for ${what}`, { cause: error });
  }
}

function splitNamespace(name: string): [string, string] {
  const parts = typeof name === 'string' ? name.split('/') : [];
  if (parts.length !== 2 || !isValidNamespacePart(parts[0]!) || !isValidNamespacePart(parts[1]!)) {
    throw new StrataError('INVALID_NAME', `namespace must be tenant/namespace: ${String(name)}`);
  }
  return [parts[0]!, parts[1]!];
}

export class TopicRegistry {
  private readonly namespaces = new Map<string, NamespaceRecord>();
  private readonly topics = new Map<string, TopicRecord>();
  /** Names being created or deleted: a second concurrent change fails instead of interleaving. */
  private readonly busy = new Set<string>();
  private readonly listeners = new Set<(event: TopicEvent) => void>();
  private hooks: LogHooks | null = null;

  private constructor(
    private readonly metadata: MetadataStore,
    private readonly basePolicies: TopicPolicies,
    private readonly logger: Logger,
    private readonly now: () => number,
  ) {}

  static async load(metadata: MetadataStore, basePolicies: TopicPolicies, logger: Logger, now: () => number): Promise<TopicRegistry> {
    const registry = new TopicRegistry(metadata, basePolicies, logger, now);
    for (const tenant of await metadata.children(NAMESPACES_ROOT)) {
      for (const ns of await metadata.children(`${NAMESPACES_ROOT}/${tenant}`)) {
        const stored = await metadata.get(`${NAMESPACES_ROOT}/${tenant}/${ns}`);
        if (!stored) continue;
        const value = parseJson<{ policies?: Partial<TopicPolicies> }>(stored.value, `namespace ${tenant}/${ns}`);
        registry.namespaces.set(`${decodeURIComponent(tenant)}/${decodeURIComponent(ns)}`, { policies: value.policies ?? {}, version: stored.version });
      }
    }
    for (const tenant of await metadata.children(TOPICS_ROOT)) {
      for (const ns of await metadata.children(`${TOPICS_ROOT}/${tenant}`)) {
        for (const local of await metadata.children(`${TOPICS_ROOT}/${tenant}/${ns}`)) {
          const stored = await metadata.get(`${TOPICS_ROOT}/${tenant}/${ns}/${local}`);
          if (!stored) continue;
          const value = parseJson<StoredTopic>(stored.value, `topic ${local}`);
          const namespace = `${decodeURIComponent(tenant)}/${decodeURIComponent(ns)}`;
          const name = `persistent://${namespace}/${decodeURIComponent(local)}`;
          registry.topics.set(name, { ...value, name, namespace, version: stored.version });
        }
      }
    }
    const defaultNamespace = `${DEFAULT_TENANT}/${DEFAULT_NAMESPACE}`;
    if (!registry.namespaces.has(defaultNamespace)) await registry.createNamespace(defaultNamespace);
    return registry;
  }

  attach(hooks: LogHooks): void {
    this.hooks = hooks;
  }

  onTopicEvent(listener: (event: TopicEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private emit(event: TopicEvent): void {
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch (error) {
        this.logger.error('onTopicEvent listener threw', { error });
      }
    }
  }

  private get log(): LogHooks {
    if (!this.hooks) throw new StrataError('STORAGE_ERROR', 'topic registry is not attached to a log');
    return this.hooks;
  }

  layouts(): TopicLayoutView[] {
    return [...this.topics.values()].map((topic) => this.layoutOf(topic));
  }

  private layoutOf(topic: TopicRecord): TopicLayoutView {
    return { topicId: topic.id, name: topic.name, partitions: topic.partitions, policies: this.effectiveTopicPolicies(topic) };
  }

  private namespacePolicies(namespace: string): TopicPolicies {
    return mergePolicies(this.basePolicies, this.namespaces.get(namespace)?.policies ?? {});
  }

  private effectiveTopicPolicies(topic: TopicRecord): TopicPolicies {
    return mergePolicies(this.namespacePolicies(topic.namespace), topic.overrides);
  }

  // ---------------------------------------------------------------- topics

  /** Full canonical name of a topic given full or short (public/default), without checking existence. */
  canonical(name: string): string {
    return resolveTopicName(name).full;
  }

  private topicKey(full: string): string {
    const parsed = resolveTopicName(full);
    return `${TOPICS_ROOT}/${enc(parsed.tenant)}/${enc(parsed.namespace)}/${enc(parsed.local)}`;
  }

  private requireTopic(name: string): TopicRecord {
    const topic = this.topics.get(name) ?? this.topics.get(this.canonical(name));
    if (!topic) throw new StrataError('UNKNOWN_TOPIC', `unknown topic ${name}`);
    return topic;
  }

  describeTopic(name: string): TopicDescription {
    const topic = this.requireTopic(name);
    return {
      name: topic.name,
      partitions: topic.partitions,
      overrides: { ...topic.overrides },
      policies: this.effectiveTopicPolicies(topic),
      createdAtMs: topic.createdAtMs,
    };
  }

  topicExists(name: string): boolean {
    try {
      return this.topics.has(this.canonical(name));
    } catch {
      return false;
    }
  }

  listTopics(namespace?: string): string[] {
    if (namespace !== undefined) splitNamespace(namespace);
    const names: string[] = [];
    for (const topic of this.topics.values()) if (namespace === undefined || topic.namespace === namespace) names.push(topic.name);
    return names.sort();
  }

  async createTopic(name: string, options: { partitions?: number; overrides?: Partial<TopicPolicies> } = {}): Promise<TopicDescription> {
    const parsed = resolveTopicName(name);
    const full = parsed.full;
    const partitions = options.partitions ?? 1;
    if (!Number.isSafeInteger(partitions) || partitions < 1 || partitions > TOPIC_PARTITIONS_MAX) {
      throw new StrataError('INVALID_PARTITION_COUNT', `partition count ${partitions} must be 1..${TOPIC_PARTITIONS_MAX}`);
    }
    const overrides = applyPatch({}, validatePolicies(options.overrides ?? {}));
    const namespace = `${parsed.tenant}/${parsed.namespace}`;
    if (!this.namespaces.has(namespace)) throw new StrataError('UNKNOWN_NAMESPACE', `unknown namespace ${namespace}`);
    if (this.topics.has(full) || this.busy.has(full)) throw new StrataError('TOPIC_EXISTS', `topic ${full} already exists`);
    this.busy.add(full);
    try {
      const id = await this.allocateTopicId();
      const stored: StoredTopic = { id, partitions, overrides, createdAtMs: this.now() };
      let version: number;
      try {
        version = await this.metadata.put(this.topicKey(full), Buffer.from(JSON.stringify(stored)), { expectedVersion: -1 });
      } catch (error) {
        if (isStrataError(error, 'BAD_VERSION')) throw new StrataError('TOPIC_EXISTS', `topic ${full} already exists`);
        throw error;
      }
      const record: TopicRecord = { ...stored, name: full, namespace, version };
      this.topics.set(full, record);
      await this.log.addPartitions(this.layoutOf(record), 0);
      this.emit({ type: 'created', topic: full, partitions });
      return this.describeTopic(full);
    } finally {
      this.busy.delete(full);
    }
  }

  private async allocateTopicId(): Promise<number> {
    for (;;) {
      const stored = await this.metadata.get(NEXT_TOPIC_ID_KEY);
      const next = stored ? Number(stored.value.toString('utf8')) : 1;
      try {
        await this.metadata.put(NEXT_TOPIC_ID_KEY, Buffer.from(String(next + 1)), { expectedVersion: stored ? stored.version : -1 });
        return next;
      } catch (error) {
        if (!isStrataError(error, 'BAD_VERSION')) throw error;
      }
    }
  }

  async deleteTopic(name: string): Promise<void> {
    const topic = this.requireTopic(name);
    if (this.busy.has(topic.name)) throw new StrataError('UNKNOWN_TOPIC', `topic ${topic.name} is being changed`);
    this.busy.add(topic.name);
    try {
      await this.metadata.delete(this.topicKey(topic.name)).catch((error: unknown) => {
        if (!isStrataError(error, 'NOT_FOUND')) throw error;
      });
      this.topics.delete(topic.name);
      await this.log.removeTopic(topic.name);
      this.emit({ type: 'deleted', topic: topic.name });
    } finally {
      this.busy.delete(topic.name);
    }
  }

  async setPartitionCount(name: string, partitions: number): Promise<TopicDescription> {
    const topic = this.requireTopic(name);
    if (!Number.isSafeInteger(partitions) || partitions < topic.partitions || partitions > TOPIC_PARTITIONS_MAX) {
      throw new StrataError('INVALID_PARTITION_COUNT', `partition count of ${topic.name} can grow from ${topic.partitions} up to ${TOPIC_PARTITIONS_MAX}, not to ${partitions}`);
    }
    if (partitions === topic.partitions) return this.describeTopic(topic.name);
    const previous = topic.partitions;
    await this.putTopic(topic, { ...topic, partitions });
    topic.partitions = partitions;
    await this.log.addPartitions(this.layoutOf(topic), previous);
    this.emit({ type: 'partitions', topic: topic.name, partitions });
    return this.describeTopic(topic.name);
  }

  async updateTopicPolicies(name: string, patch: PoliciesPatch): Promise<TopicDescription> {
    const topic = this.requireTopic(name);
    const overrides = applyPatch(topic.overrides, validatePolicies(patch));
    await this.putTopic(topic, { ...topic, overrides });
    topic.overrides = overrides;
    this.log.setPolicies(topic.name, this.effectiveTopicPolicies(topic));
    this.emit({ type: 'policies', topic: topic.name });
    return this.describeTopic(topic.name);
  }

  private async putTopic(topic: TopicRecord, next: StoredTopic): Promise<void> {
    const stored: StoredTopic = { id: next.id, partitions: next.partitions, overrides: next.overrides, createdAtMs: next.createdAtMs };
    topic.version = await this.metadata.put(this.topicKey(topic.name), Buffer.from(JSON.stringify(stored)), { expectedVersion: topic.version });
  }

  // ---------------------------------------------------------------- namespaces

  private namespaceKey(name: string): string {
    const [tenant, ns] = splitNamespace(name);
    return `${NAMESPACES_ROOT}/${enc(tenant)}/${enc(ns)}`;
  }

  async createNamespace(name: string, policies: Partial<TopicPolicies> = {}): Promise<NamespaceDescription> {
    const key = this.namespaceKey(name);
    const own = applyPatch({}, validatePolicies(policies));
    if (this.namespaces.has(name)) throw new StrataError('NAMESPACE_EXISTS', `namespace ${name} already exists`);
    let version: number;
    try {
      version = await this.metadata.put(key, Buffer.from(JSON.stringify({ policies: own })), { expectedVersion: -1 });
    } catch (error) {
      if (isStrataError(error, 'BAD_VERSION')) throw new StrataError('NAMESPACE_EXISTS', `namespace ${name} already exists`);
      throw error;
    }
    this.namespaces.set(name, { policies: own, version });
    return this.describeNamespace(name);
  }

  async deleteNamespace(name: string): Promise<void> {
    const key = this.namespaceKey(name);
    if (!this.namespaces.has(name)) throw new StrataError('UNKNOWN_NAMESPACE', `unknown namespace ${name}`);
    if (this.listTopics(name).length > 0) throw new StrataError('NAMESPACE_NOT_EMPTY', `namespace ${name} still has topics`);
    await this.metadata.delete(key).catch((error: unknown) => {
      if (!isStrataError(error, 'NOT_FOUND')) throw error;
    });
    this.namespaces.delete(name);
  }

  listNamespaces(tenant?: string): string[] {
    const names = [...this.namespaces.keys()];
    return names.filter((name) => tenant === undefined || name.startsWith(`${tenant}/`)).sort();
  }

  describeNamespace(name: string): NamespaceDescription {
    splitNamespace(name);
    if (!this.namespaces.has(name)) throw new StrataError('UNKNOWN_NAMESPACE', `unknown namespace ${name}`);
    return { name, policies: this.namespacePolicies(name) };
  }

  async updateNamespacePolicies(name: string, patch: Partial<TopicPolicies>): Promise<NamespaceDescription> {
    const record = this.namespaces.get(name);
    if (!record) throw new StrataError('UNKNOWN_NAMESPACE', `unknown namespace ${name}`);
    const policies = applyPatch(record.policies, validatePolicies(patch));
    record.version = await this.metadata.put(this.namespaceKey(name), Buffer.from(JSON.stringify({ policies })), { expectedVersion: record.version });
    record.policies = policies;
    for (const topic of this.topics.values()) {
      if (topic.namespace !== name) continue;
      this.log.setPolicies(topic.name, this.effectiveTopicPolicies(topic));
      this.emit({ type: 'policies', topic: topic.name });
    }
    return this.describeNamespace(name);
  }
}

/**
 * `openCore`: the store every protocol handler shares (design brief §4). Wires the embedded
 * MetadataStore (<dataDir>/metadata), the topic registry, the log engine (journal, group commit,
 * segments, recovery; <dataDir>/journal and <dataDir>/log) and then the subscriptions, which read
 * the log through this same Core.
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import type {
  AbortedTransaction,
  PartitionProducer,
  AppendEvent,
  AppendInput,
  AppendResult,
  Core,
  CoreOptions,
  FsyncPolicy,
  JournalIo,
  NamespaceAdmin,
  PartitionOffsets,
  PartitionPosition,
  ReadOptions,
  ReadResult,
  TopicAdmin,
  TopicEvent,
  TopicPolicies,
} from './core.js';
import { StrataError } from './errors.js';
import { TOPIC_SCHEME } from './names.js';
import { systemClock, type Clock } from './handler.js';
import { DEFAULT_STORAGE_TUNING, DEFAULT_TOPIC_POLICIES, resolveLimits, type StorageTuning } from './limits.js';
import { segmentWritersFor, threadPoolSize } from './thread-pool.js';
import { silentLogger, type Logger } from './logger.js';
import { LogManager } from './log/log-manager.js';
import type { PartitionLog } from './log/partition-log.js';
import type { SegmentStorage } from './storage/segment-storage.js';
import { openEmbeddedMetadataStore } from './metadata/embedded-metadata-store.js';
import type { MetadataStore } from './metadata/metadata-store.js';
import { createSubscriptions, type SubscriptionsService } from './subscription/subscriptions.js';
import type { Subscriptions } from './subscription/types.js';
import { ProducerIds } from './topics/producer-ids.js';
import { TopicRegistry } from './topics/topic-registry.js';
import { mergePolicies, validatePolicies } from './topics/policies.js';

const LOCK_FILE = 'LOCK';

/** Internal knobs for tests and the benchmark; not part of CoreOptions. */
export interface CoreInternals {
  readonly tuning?: Partial<StorageTuning>;
  /**
   * Where segment files live (storage/segment-storage.ts); default LocalSegmentStorage under
   * <dataDir>/log. The core takes ownership: closing the core closes it. The journal stays local.
   */
  readonly segmentStorage?: SegmentStorage;
}

function validateFsync(policy: FsyncPolicy | undefined): FsyncPolicy {
  if (!policy) return { kind: 'always' };
  if (policy.kind === 'always') return policy;
  if (policy.kind === 'interval' && Number.isSafeInteger(policy.intervalMs) && policy.intervalMs > 0) return policy;
  throw new StrataError('INVALID_ARGUMENT', `invalid fsync policy ${JSON.stringify(policy)}`);
}

function validateJournalIo(io: JournalIo | undefined): JournalIo {
  if (io === undefined) return 'auto';
  if (io === 'auto' || io === 'event-loop' || io === 'thread-pool') return io;
  throw new StrataError('INVALID_ARGUMENT', `invalid journalIo ${JSON.stringify(io)} (auto, event-loop or thread-pool)`);
}

export async function openCore(options: CoreOptions, internals: CoreInternals = {}): Promise<Core> {
  return openCoreImpl(options, internals);
}

/** Same as openCore, typed as the implementation (tests and the benchmark reach the log engine). */
export async function openCoreImpl(options: CoreOptions, internals: CoreInternals = {}): Promise<CoreImpl> {
  if (!options || typeof options.dataDir !== 'string' || options.dataDir.length === 0) {
    throw new StrataError('INVALID_ARGUMENT', 'CoreOptions.dataDir is required');
  }
  const dataDir = path.resolve(options.dataDir);
  const logger = (options.logger ?? silentLogger).child({ component: 'core' });
  const clock = options.clock ?? systemClock;
  const limits = resolveLimits(options.limits);
  const fsync = validateFsync(options.fsync);
  const tuning = { ...DEFAULT_STORAGE_TUNING, segmentWritesConcurrencyMax: segmentWritersFor(threadPoolSize()), ...internals.tuning };
  const journalIo = validateJournalIo(options.journalIo);
  const basePolicies = mergePolicies(DEFAULT_TOPIC_POLICIES, validatePolicies(options.defaultPolicies ?? {}) as Partial<TopicPolicies>);

  await fsp.mkdir(dataDir, { recursive: true });
  const releaseLock = await lockDataDir(dataDir);
  let metadata: MetadataStore | null = null;
  let log: LogManager | null = null;
  try {
    metadata = await openEmbeddedMetadataStore({ dir: path.join(dataDir, 'metadata'), logger });
    const registry = await TopicRegistry.load(metadata, basePolicies, logger, () => clock.now());
    const segmentStorage = internals.segmentStorage;
    log = await LogManager.open(
      { dataDir, limits, tuning, fsync, journalIo, logger, now: () => clock.now(), ...(segmentStorage ? { segmentStorage } : {}) },
      registry.layouts(),
    );
    const logManager = log;
    registry.attach({
      addPartitions: (topic, from) => logManager.addPartitions(topic, from),
      removeTopic: (name) => logManager.removeTopic(name),
      setPolicies: (name, policies) => logManager.setPolicies(name, policies),
    });
    const core = new CoreImpl(options.nodeId ?? 0, metadata, registry, log, new ProducerIds(metadata), clock, logger, releaseLock);
    const subscriptions = await createSubscriptions({ core, metadata, clock, logger });
    core.attachSubscriptions(subscriptions);
    log.startRetention((topic, partition) => subscriptions.slowestOffset(topic, partition));
    return core;
  } catch (error) {
    await log?.close().catch(() => undefined);
    await metadata?.close().catch(() => undefined);
    await releaseLock();
    throw error;
  }
}

/**
 * One process per data directory: a LOCK file holding the owner's pid. A lock left by a process
 * that no longer exists (kill -9) is taken over.
 */
async function lockDataDir(dataDir: string): Promise<() => Promise<void>> {
  const file = path.join(dataDir, LOCK_FILE);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const handle = await fsp.open(file, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL, 0o644);
      await handle.writeFile(`${process.pid}\n`);
      await handle.close();
      let released = false;
      return async () => {
        if (released) return;
        released = true;
        await fsp.rm(file, { force: true });
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const owner = Number((await fsp.readFile(file, 'utf8').catch(() => '')).trim());
      if (Number.isSafeInteger(owner) && owner > 0 && isAlive(owner)) {
        throw new StrataError('STORAGE_ERROR', `data directory ${dataDir} is in use by process ${owner}${owner === process.pid ? ' (this one)' : ''}`);
      }
      await fsp.rm(file, { force: true });
    }
  }
  throw new StrataError('STORAGE_ERROR', `could not lock data directory ${dataDir}`);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export class CoreImpl implements Core {
  readonly topics: TopicAdmin;
  readonly namespaces: NamespaceAdmin;
  private subscriptionsService: SubscriptionsService | null = null;
  private closing: Promise<void> | null = null;

  constructor(
    readonly nodeId: number,
    readonly metadata: MetadataStore,
    readonly registry: TopicRegistry,
    readonly log: LogManager,
    private readonly producerIds: ProducerIds,
    readonly clock: Clock,
    private readonly logger: Logger,
    private readonly releaseLock: () => Promise<void>,
  ) {
    this.topics = {
      create: (name, options) => registry.createTopic(name, options),
      delete: (name) => registry.deleteTopic(name),
      list: (namespace) => registry.listTopics(namespace),
      describe: (name) => registry.describeTopic(name),
      exists: (name) => registry.topicExists(name),
      setPartitionCount: (name, partitions) => registry.setPartitionCount(name, partitions),
      updatePolicies: (name, patch) => registry.updateTopicPolicies(name, patch),
    };
    this.namespaces = {
      create: (name, policies) => registry.createNamespace(name, policies),
      delete: (name) => registry.deleteNamespace(name),
      list: (tenant) => registry.listNamespaces(tenant),
      describe: (name) => registry.describeNamespace(name),
      updatePolicies: (name, patch) => registry.updateNamespacePolicies(name, patch),
    };
  }

  attachSubscriptions(subscriptions: SubscriptionsService): void {
    this.subscriptionsService = subscriptions;
  }

  get subscriptions(): Subscriptions {
    if (!this.subscriptionsService) throw new StrataError('CLOSED', 'subscriptions are not available yet');
    return this.subscriptionsService;
  }

  /** Accepts full names and short ones (in public/default). */
  private logOf(topic: string, partition: number): PartitionLog {
    let log = this.log.findLog(topic, partition);
    if (log === undefined && typeof topic === 'string' && !topic.startsWith(TOPIC_SCHEME)) {
      let canonical: string | null = null;
      try {
        canonical = this.registry.canonical(topic);
      } catch {
        // an invalid short name is an unknown topic
      }
      if (canonical !== null) log = this.log.findLog(canonical, partition);
    }
    if (log) return log;
    if (log === null) throw new StrataError('UNKNOWN_PARTITION', `topic ${topic} has no partition ${partition}`);
    throw new StrataError('UNKNOWN_TOPIC', `unknown topic ${topic}`);
  }

  private checkOpen(): void {
    if (this.closing) throw new StrataError('CLOSED', 'core is closed');
  }

  /** Not async (one promise fewer per append, the hottest call): errors still arrive as rejections. */
  append(topic: string, partition: number, input: AppendInput): Promise<AppendResult> {
    try {
      this.checkOpen();
      return this.log.append(this.logOf(topic, partition), input);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  async read(topic: string, partition: number, options: ReadOptions): Promise<ReadResult> {
    this.checkOpen();
    return this.log.read(this.logOf(topic, partition), options);
  }

  offsets(topic: string, partition: number): PartitionOffsets {
    return this.log.offsets(this.logOf(topic, partition));
  }

  producers(topic: string, partition: number): PartitionProducer[] {
    const log = this.logOf(topic, partition);
    const open = log.transactions?.open;
    const seen = new Set<number>();
    const producers: PartitionProducer[] = [];
    for (const [producerId, producerEpoch, batches] of log.producerSnapshot()) {
      seen.add(producerId);
      const last = batches[batches.length - 1];
      producers.push({ producerId, producerEpoch, lastSequence: last ? last.lastSequence : -1, currentTransactionStartOffset: open?.get(producerId) ?? -1 });
    }
    // A transaction whose producer state was forgotten (producersPerPartitionMax) is still open here.
    for (const [producerId, first] of open ?? []) {
      if (!seen.has(producerId)) producers.push({ producerId, producerEpoch: -1, lastSequence: -1, currentTransactionStartOffset: first });
    }
    return producers;
  }

  abortedTransactions(topic: string, partition: number, fromOffset: number, toOffset: number): AbortedTransaction[] {
    return this.logOf(topic, partition).abortedTransactions(fromOffset, toOffset);
  }

  async offsetOfMaxTimestamp(topic: string, partition: number): Promise<{ offset: number; timestamp: number } | null> {
    this.checkOpen();
    const log = this.logOf(topic, partition);
    // Each segment keeps its largest batch timestamp; the first record at the largest of them is
    // then an offset-by-timestamp lookup (no record has a later timestamp).
    let maxTimestamp = -1;
    for (const segment of log.segments) if (segment.maxTimestamp > maxTimestamp) maxTimestamp = segment.maxTimestamp;
    return maxTimestamp < 0 ? null : this.log.offsetForTimestamp(log, maxTimestamp);
  }

  async offsetForTimestamp(topic: string, partition: number, timestampMs: number): Promise<{ offset: number; timestamp: number } | null> {
    this.checkOpen();
    return this.log.offsetForTimestamp(this.logOf(topic, partition), timestampMs);
  }

  async deleteRecordsBefore(topic: string, partition: number, beforeOffset: number): Promise<number> {
    this.checkOpen();
    return this.log.deleteRecordsBefore(this.logOf(topic, partition), beforeOffset);
  }

  async waitForData(positions: readonly PartitionPosition[], waitMs: number, signal?: AbortSignal): Promise<boolean> {
    this.checkOpen();
    const canonical = positions.map((position) => {
      try {
        return { ...position, topic: this.logOf(position.topic, position.partition).topic };
      } catch {
        return position;
      }
    });
    return this.log.waitForData(canonical, waitMs, signal);
  }

  async initProducer(transactionalId?: string | null): Promise<{ producerId: number; producerEpoch: number }> {
    this.checkOpen();
    return this.producerIds.init(transactionalId);
  }

  onAppend(listener: (event: AppendEvent) => void): () => void {
    return this.log.onAppend(listener);
  }

  onStorageFailure(listener: (error: StrataError) => void): () => void {
    return this.log.onStorageFailure(listener);
  }

  onTopicEvent(listener: (event: TopicEvent) => void): () => void {
    return this.registry.onTopicEvent(listener);
  }

  /** Runs retention once now (tests; the server runs it on a timer). */
  async enforceRetention(): Promise<number> {
    const subscriptions = this.subscriptionsService;
    return this.log.enforceRetention((topic, partition) => subscriptions?.slowestOffset(topic, partition) ?? null);
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      try {
        await this.subscriptionsService?.close();
      } catch (error) {
        this.logger.error('closing subscriptions failed', { error });
      }
      await this.log.close();
      await this.metadata.close();
      await this.releaseLock();
    })();
    return this.closing;
  }
}

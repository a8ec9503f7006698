/**
 * The registry of subscriptions (the `Subscriptions` of the Core): opens, lists and deletes them,
 * loads every persisted cursor at start (so `slowestOffset`, which retention calls, knows them all
 * without I/O), wakes subscriptions on appends, and drops them with their topic.
 */
import type { Core } from '../core.js';
import { isStrataError, StrataError } from '../errors.js';
import type { Clock } from '../handler.js';
import type { Logger } from '../logger.js';
import type { MetadataStore } from '../metadata/metadata-store.js';
import { decodeCursor, encodeCursor, SUBSCRIPTIONS_ROOT, subscriptionKey } from './cursor-state.js';
import { SubscriptionImpl, type SubscriptionDeps } from './subscription.js';
import { defaultSubscriptionLimits, type SubscriptionLimits } from './subscription-limits.js';
import type { Subscription, SubscriptionOptions, Subscriptions } from './types.js';

export interface SubscriptionsService extends Subscriptions {
  /** Persists every cursor and stops dispatch; consumers are closed with reason 'closed'. */
  close(): Promise<void>;
}

function partitionKey(topic: string, partition: number): string {
  return `${topic}\u0000${partition}`;
}

export async function createSubscriptions(deps: {
  core: Omit<Core, 'subscriptions'>;
  metadata: MetadataStore;
  clock: Clock;
  logger: Logger;
  limits?: Partial<SubscriptionLimits>;
}): Promise<SubscriptionsService> {
  const registry = new SubscriptionRegistry({
    core: deps.core,
    metadata: deps.metadata,
    clock: deps.clock,
    logger: deps.logger.child({ component: 'subscriptions' }),
    limits: { ...defaultSubscriptionLimits, ...deps.limits },
  });
  await registry.load();
  return registry;
}

class SubscriptionRegistry implements SubscriptionsService {
  private readonly byPartition = new Map<string, Map<string, SubscriptionImpl>>();
  /**
   * Partitions with subscriptions, per topic: the append listener runs for every append of every
   * topic, and most topics (Kafka's, MQTT's non-persistent ones) have none; a lookup by the topic's
   * own string skips building a partition key for them.
   */
  private readonly partitionsByTopic = new Map<string, number>();
  private readonly opening = new Map<string, Promise<SubscriptionImpl>>();
  private readonly unsubscribe: (() => void)[] = [];
  private closed = false;

  constructor(private readonly deps: SubscriptionDeps) {
    this.unsubscribe.push(
      deps.core.onAppend((event) => {
        if (!this.partitionsByTopic.has(event.topic)) return;
        const subscriptions = this.byPartition.get(partitionKey(event.topic, event.partition));
        if (subscriptions) for (const subscription of subscriptions.values()) subscription.onAppend();
      }),
      deps.core.onTopicEvent((event) => {
        if (event.type === 'deleted') void this.dropTopic(event.topic);
      }),
    );
  }

  async load(): Promise<void> {
    const { metadata, logger } = this.deps;
    for (const encodedTopic of await metadata.children(SUBSCRIPTIONS_ROOT)) {
      const topic = decodeURIComponent(encodedTopic);
      for (const partitionName of await metadata.children(`${SUBSCRIPTIONS_ROOT}/${encodedTopic}`)) {
        const partition = Number(partitionName);
        if (!Number.isSafeInteger(partition) || partition < 0) continue;
        for (const encodedName of await metadata.children(`${SUBSCRIPTIONS_ROOT}/${encodedTopic}/${partitionName}`)) {
          const name = decodeURIComponent(encodedName);
          const stored = await metadata.get(subscriptionKey(topic, partition, name));
          if (!stored) continue;
          let highWatermark: number;
          try {
            highWatermark = this.deps.core.offsets(topic, partition).highWatermark;
          } catch {
            // The topic (or partition) was deleted and the crash came before its cursors were: a
            // topic created later with this name must not inherit them (its offsets start again).
            logger.info('dropping the cursor of a deleted topic', { topic, partition, name });
            await metadata.delete(subscriptionKey(topic, partition, name)).catch(() => undefined);
            continue;
          }
          try {
            const cursor = decodeCursor(stored.value);
            // A cursor is never past the end of the log (only delivered, hence durable, offsets are acked).
            const markDeleteOffset = Math.min(cursor.markDeleteOffset, highWatermark);
            this.add(new SubscriptionImpl(topic, partition, name, cursor.options, markDeleteOffset, cursor.ackedRanges, this.deps));
          } catch (error) {
            logger.error('skipping unreadable subscription cursor', { topic, partition, name, error });
          }
        }
      }
    }
  }

  private add(subscription: SubscriptionImpl): void {
    const key = partitionKey(subscription.topic, subscription.partition);
    let subscriptions = this.byPartition.get(key);
    if (!subscriptions) {
      this.byPartition.set(key, (subscriptions = new Map()));
      this.partitionsByTopic.set(subscription.topic, (this.partitionsByTopic.get(subscription.topic) ?? 0) + 1);
    }
    subscriptions.set(subscription.name, subscription);
  }

  private find(topic: string, partition: number, name: string): SubscriptionImpl | undefined {
    return this.byPartition.get(partitionKey(topic, partition))?.get(name);
  }

  async open(topic: string, partition: number, name: string, options: SubscriptionOptions): Promise<Subscription> {
    if (this.closed) throw new StrataError('CLOSED', 'subscriptions are closed');
    if (name.length === 0) throw new StrataError('INVALID_ARGUMENT', 'subscription name must not be empty');
    const existing = this.find(topic, partition, name);
    // The partition must exist (throws UNKNOWN_TOPIC / UNKNOWN_PARTITION otherwise).
    const offsets = this.deps.core.offsets(topic, partition);
    if (existing) {
      existing.updateOptions(options);
      return existing;
    }
    const openKey = `${partitionKey(topic, partition)}\u0000${name}`;
    const inFlight = this.opening.get(openKey);
    if (inFlight) return inFlight.then((subscription) => (subscription.updateOptions(options), subscription));
    const creating = (async () => {
      const initial = options.initialPosition === 'earliest' ? offsets.logStartOffset : offsets.highWatermark;
      const key = subscriptionKey(topic, partition, name);
      // Durable before it is used: a consumer that saw the subscription must find it after a crash.
      await this.deps.metadata.put(key, encodeCursor({ options, markDeleteOffset: initial, ackedRanges: [] }), { expectedVersion: -1 }).catch(
        (error: unknown) => {
          if (!isStrataError(error, 'BAD_VERSION')) throw error;
        },
      );
      const subscription = new SubscriptionImpl(topic, partition, name, options, initial, [], this.deps);
      this.add(subscription);
      return subscription;
    })();
    this.opening.set(openKey, creating);
    try {
      return await creating;
    } finally {
      this.opening.delete(openKey);
    }
  }

  list(topic: string, partition: number): string[] {
    return [...(this.byPartition.get(partitionKey(topic, partition))?.keys() ?? [])].sort();
  }

  async delete(topic: string, partition: number, name: string): Promise<void> {
    const subscription = this.find(topic, partition, name);
    if (!subscription) throw new StrataError('UNKNOWN_SUBSCRIPTION', `no subscription ${name} on ${topic}-${partition}`);
    await this.remove(subscription, 'subscription deleted');
  }

  private async remove(subscription: SubscriptionImpl, reason: string): Promise<void> {
    const key = partitionKey(subscription.topic, subscription.partition);
    const subscriptions = this.byPartition.get(key);
    subscriptions?.delete(subscription.name);
    if (subscriptions?.size === 0) {
      this.byPartition.delete(key);
      const partitions = (this.partitionsByTopic.get(subscription.topic) ?? 1) - 1;
      if (partitions > 0) this.partitionsByTopic.set(subscription.topic, partitions);
      else this.partitionsByTopic.delete(subscription.topic);
    }
    await subscription.shutdown({ deleting: true, reason });
    await this.deps.metadata.delete(subscriptionKey(subscription.topic, subscription.partition, subscription.name)).catch((error: unknown) => {
      if (!isStrataError(error, 'NOT_FOUND')) throw error;
    });
  }

  private async dropTopic(topic: string): Promise<void> {
    const doomed: SubscriptionImpl[] = [];
    for (const subscriptions of this.byPartition.values()) {
      for (const subscription of subscriptions.values()) if (subscription.topic === topic) doomed.push(subscription);
    }
    for (const subscription of doomed) {
      await this.remove(subscription, 'topic deleted').catch((error: unknown) =>
        this.deps.logger.warn('failed to delete subscription of a deleted topic', { topic, error }),
      );
    }
  }

  slowestOffset(topic: string, partition: number): number | null {
    const subscriptions = this.byPartition.get(partitionKey(topic, partition));
    if (!subscriptions) return null;
    let slowest: number | null = null;
    for (const subscription of subscriptions.values()) {
      if (slowest === null || subscription.markDeleteOffset < slowest) slowest = subscription.markDeleteOffset;
    }
    return slowest;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const unsubscribe of this.unsubscribe) unsubscribe();
    const all = [...this.byPartition.values()].flatMap((subscriptions) => [...subscriptions.values()]);
    await Promise.all(all.map((subscription) => subscription.shutdown({ deleting: false, reason: 'closed' })));
  }
}

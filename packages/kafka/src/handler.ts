/**
 * The Kafka protocol handler (KoP): a ProtocolHandler that the server starts with the core and hands
 * connections on the `kafka` listener (default port 9092).
 */
import { randomUUID } from 'node:crypto';
import type { Duplex } from 'node:stream';
import type { AdvertisedListener, ConnectionInfo, HandlerContext, ListenerSpec, ProtocolHandler } from '@strata/core';
import { API_HANDLERS } from './apis/index.js';
import type { KafkaBroker } from './broker.js';
import { parseKafkaConfig } from './config.js';
import { KafkaConnection } from './connection.js';
import { GroupCoordinator } from './group/group-coordinator.js';
import { createTopicNaming } from './naming.js';
import { CommittedOffsetStore } from './offsets/committed-offset-store.js';
import { TransactionCoordinator } from './transactions/transaction-coordinator.js';
import { Authorizer } from './acl/authorizer.js';
import { FramePool } from './protocol/frame-pool.js';
import { TopicIdIndex } from './topic-ids.js';

export const KAFKA_LISTENER_ID = 'kafka';
export const KAFKA_DEFAULT_PORT = 9092;
const CLUSTER_ID_KEY = '/strata/kafka/cluster-id';

export class KafkaHandler implements ProtocolHandler {
  readonly name = 'kafka';
  readonly listeners: readonly ListenerSpec[] = [
    { id: KAFKA_LISTENER_ID, defaultPort: KAFKA_DEFAULT_PORT, description: 'Kafka wire protocol' },
  ];
  private broker: KafkaBroker | null = null;
  private readonly connections = new Set<KafkaConnection>();
  private unsubscribe: (() => void) | null = null;
  private retentionTimer: NodeJS.Timeout | null = null;
  private closed = false;
  private transactions: TransactionCoordinator | null = null;

  async start(context: HandlerContext): Promise<void> {
    const config = parseKafkaConfig(context.config);
    const { core } = context;
    const offsets = new CommittedOffsetStore(core.metadata, context.clock);
    await offsets.load();
    const groups = new GroupCoordinator({
      sessionTimeoutMsMin: config.groupSessionTimeoutMsMin,
      sessionTimeoutMsMax: config.groupSessionTimeoutMsMax,
      initialRebalanceDelayMs: config.groupInitialRebalanceDelayMs,
      membersMax: config.groupMembersMax,
      groupsMax: config.groupsMax,
      hasOffsets: (groupId) => offsets.hasOffsets(groupId),
    });
    const transactions = new TransactionCoordinator({
      core,
      offsets,
      clock: context.clock,
      logger: context.logger.child({ component: 'transactions' }),
      timeoutMsMax: config.transactionTimeoutMsMax,
      idExpirationMs: config.transactionalIdExpirationMs,
      checkIntervalMs: config.transactionCheckIntervalMs,
      transactionalIdsMax: config.transactionalIdsMax,
    });
    await transactions.load();
    let authorizer: Authorizer | null = null;
    if (config.authorization !== null) {
      authorizer = new Authorizer(core.metadata, {
        superUsers: config.authorization.superUsers,
        allowIfNoAcl: config.authorization.allowIfNoAcl,
        configured: config.authorization.acls,
        aclsMax: config.authorization.aclsMax,
      });
      await authorizer.load();
    }
    this.transactions = transactions;
    const bound = context.listeners.get(KAFKA_LISTENER_ID);
    const topicIds = new TopicIdIndex(core);
    this.broker = {
      core,
      config,
      naming: createTopicNaming(config.defaultNamespace, config.namespaceSeparator),
      groups,
      offsets,
      transactions,
      authorizer,
      topicIds,
      logger: context.logger,
      clock: context.clock,
      nodeId: core.nodeId,
      clusterId: await this.clusterId(context),
      host: config.advertisedHost ?? context.advertisedHost,
      port: config.advertisedPort ?? bound?.port ?? KAFKA_DEFAULT_PORT,
      framePool: new FramePool(),
    };
    this.unsubscribe = core.onTopicEvent((event) => {
      topicIds.invalidate();
      if (event.type === 'deleted') {
        offsets.forgetTopic(event.topic).catch((error) => context.logger.warn('could not drop offsets of a deleted topic', { error }));
      }
    });
    this.retentionTimer = setInterval(() => void this.expireOffsets(), config.offsetsRetentionCheckMs);
    this.retentionTimer.unref();
    context.logger.info('kafka handler started', { host: this.broker.host, port: this.broker.port, nodeId: this.broker.nodeId });
  }

  /**
   * KIP-211: a group's committed offsets expire `offsetsRetentionMs` after its last commit, but only
   * while the group has no members (a live group keeps its offsets however old).
   */
  async expireOffsets(): Promise<void> {
    const broker = this.broker;
    if (!broker || this.closed) return;
    const horizon = broker.clock.now() - broker.config.offsetsRetentionMs;
    for (const groupId of broker.offsets.groupIds()) {
      const state = broker.groups.state(groupId);
      if (state !== null && state !== 'Empty') continue;
      const last = broker.offsets.lastCommitMs(groupId);
      if (last < 0 || last >= horizon) continue;
      try {
        await broker.offsets.delete(groupId);
        broker.logger.info('expired committed offsets of an empty group', { group: groupId, lastCommitMs: last });
      } catch (error) {
        broker.logger.warn('could not expire committed offsets', { group: groupId, error });
      }
    }
  }

  /** A cluster id made once and kept in the metadata store (Metadata v2+, DescribeCluster). */
  private async clusterId(context: HandlerContext): Promise<string> {
    const stored = await context.core.metadata.get(CLUSTER_ID_KEY);
    if (stored) return stored.value.toString('utf8');
    const id = Buffer.from(randomUUID().replace(/-/g, ''), 'hex').toString('base64url');
    try {
      await context.core.metadata.put(CLUSTER_ID_KEY, Buffer.from(id), { expectedVersion: -1 });
      return id;
    } catch {
      const again = await context.core.metadata.get(CLUSTER_ID_KEY);
      return again ? again.value.toString('utf8') : id;
    }
  }

  handleConnection(stream: Duplex, info: ConnectionInfo): void {
    const broker = this.broker;
    if (!broker || this.closed || this.connections.size >= broker.config.connectionsMax) {
      broker?.logger.warn('refusing kafka connection', { remote: info.remoteAddress, connections: this.connections.size });
      stream.destroy();
      return;
    }
    try {
      const connection = new KafkaConnection(broker, API_HANDLERS, stream, info, (c) => this.connections.delete(c));
      if (!connection.isClosed) this.connections.add(connection);
    } catch (error) {
      broker.logger.error('could not set up kafka connection', { error });
      stream.destroy();
    }
  }

  advertise(): AdvertisedListener[] {
    if (!this.broker) return [];
    return [{ listenerId: KAFKA_LISTENER_ID, protocol: 'kafka', host: this.broker.host, port: this.broker.port }];
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.unsubscribe?.();
    if (this.retentionTimer) clearInterval(this.retentionTimer);
    // Stop reading everywhere first (drain's synchronous part), then answer pending JoinGroup/SyncGroup
    // waits so no drain waits out a rebalance; then let each connection answer what it read. The
    // server closes the core only after this resolves, so in-flight appends complete and are answered.
    const drainMs = this.broker?.config.shutdownDrainMsMax ?? 0;
    const drains = [...this.connections].map((connection) => connection.drain(drainMs));
    this.broker?.groups.close();
    this.transactions?.close();
    await Promise.all(drains);
    this.connections.clear();
  }
}

export function createKafkaHandler(): ProtocolHandler {
  return new KafkaHandler();
}

/**
 * What every API handler shares: the core, config, naming, the group coordinator, the offset store
 * and the identity we advertise. One per handler instance (one per server).
 */
import { createHash } from 'node:crypto';
import type { Clock, Core, Logger } from '@strata/core';
import type { KafkaConfig } from './config.js';
import type { GroupCoordinator } from './group/group-coordinator.js';
import type { TopicNaming } from './naming.js';
import type { FramePool } from './protocol/frame-pool.js';
import type { CommittedOffsetStore } from './offsets/committed-offset-store.js';
import type { Authorizer } from './acl/authorizer.js';
import type { TopicIdIndex } from './topic-ids.js';
import type { TransactionCoordinator } from './transactions/transaction-coordinator.js';

export interface KafkaBroker {
  readonly core: Core;
  readonly config: KafkaConfig;
  readonly naming: TopicNaming;
  readonly groups: GroupCoordinator;
  readonly offsets: CommittedOffsetStore;
  readonly transactions: TransactionCoordinator;
  /** Kafka ACLs, or null when `authorization` is not configured (everything allowed). */
  readonly authorizer: Authorizer | null;
  readonly topicIds: TopicIdIndex;
  readonly logger: Logger;
  readonly clock: Clock;
  readonly nodeId: number;
  readonly clusterId: string;
  /** Host and port clients should connect to (Metadata brokers, FindCoordinator). */
  readonly host: string;
  readonly port: number;
  /** Reused buffers for large Produce frames, shared by the connections (protocol/frame-pool.ts). */
  readonly framePool: FramePool;
}

/**
 * A stable topic id (Metadata v10+, DeleteTopics v6): derived from the full name and creation time,
 * so it survives restarts and a re-created topic gets a new one. Never the all-zero "no id".
 */
export function topicIdOf(fullName: string, createdAtMs: number): Buffer {
  const id = createHash('sha256').update(`${fullName}\u0000${createdAtMs}`).digest().subarray(0, 16);
  id[0] = id[0]! | 1;
  return Buffer.from(id);
}

export const ZERO_UUID = Buffer.alloc(16);

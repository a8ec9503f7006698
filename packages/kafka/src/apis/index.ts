/** The API table: every Kafka API this handler serves, keyed by API key. ApiVersions advertises it. */
import type { ApiHandler } from './api.js';
import { addOffsetsToTxnApi } from './add-offsets-to-txn.js';
import { addPartitionsToTxnApi } from './add-partitions-to-txn.js';
import { alterConfigsApi } from './alter-configs.js';
import { createAclsApi } from './create-acls.js';
import { deleteAclsApi } from './delete-acls.js';
import { describeAclsApi } from './describe-acls.js';
import { describeProducersApi } from './describe-producers.js';
import { describeTransactionsApi } from './describe-transactions.js';
import { listTransactionsApi } from './list-transactions.js';
import { createApiVersionsApi } from './api-versions.js';
import { createPartitionsApi } from './create-partitions.js';
import { createTopicsApi } from './create-topics.js';
import { deleteGroupsApi } from './delete-groups.js';
import { deleteRecordsApi } from './delete-records.js';
import { deleteTopicsApi } from './delete-topics.js';
import { describeClusterApi } from './describe-cluster.js';
import { describeConfigsApi } from './describe-configs.js';
import { describeGroupsApi } from './describe-groups.js';
import { endTxnApi } from './end-txn.js';
import { fetchApi } from './fetch.js';
import { findCoordinatorApi } from './find-coordinator.js';
import { heartbeatApi } from './heartbeat.js';
import { incrementalAlterConfigsApi } from './incremental-alter-configs.js';
import { initProducerIdApi } from './init-producer-id.js';
import { joinGroupApi } from './join-group.js';
import { leaveGroupApi } from './leave-group.js';
import { listGroupsApi } from './list-groups.js';
import { listOffsetsApi } from './list-offsets.js';
import { metadataApi } from './metadata.js';
import { offsetCommitApi } from './offset-commit.js';
import { offsetDeleteApi } from './offset-delete.js';
import { offsetFetchApi } from './offset-fetch.js';
import { offsetForLeaderEpochApi } from './offset-for-leader-epoch.js';
import { produceApi } from './produce.js';
import { saslAuthenticateApi } from './sasl-authenticate.js';
import { saslHandshakeApi } from './sasl-handshake.js';
import { syncGroupApi } from './sync-group.js';
import { txnOffsetCommitApi } from './txn-offset-commit.js';

const table = new Map<number, ApiHandler>();
const apiVersionsApi = createApiVersionsApi(() => table.values());

for (const api of [
  produceApi,
  fetchApi,
  listOffsetsApi,
  metadataApi,
  offsetCommitApi,
  offsetFetchApi,
  findCoordinatorApi,
  joinGroupApi,
  heartbeatApi,
  leaveGroupApi,
  syncGroupApi,
  describeGroupsApi,
  listGroupsApi,
  apiVersionsApi,
  createTopicsApi,
  deleteTopicsApi,
  deleteRecordsApi,
  initProducerIdApi,
  addPartitionsToTxnApi,
  addOffsetsToTxnApi,
  endTxnApi,
  txnOffsetCommitApi,
  describeAclsApi,
  createAclsApi,
  deleteAclsApi,
  describeProducersApi,
  describeTransactionsApi,
  listTransactionsApi,
  offsetForLeaderEpochApi,
  describeConfigsApi,
  alterConfigsApi,
  createPartitionsApi,
  deleteGroupsApi,
  incrementalAlterConfigsApi,
  offsetDeleteApi,
  describeClusterApi,
  saslHandshakeApi,
  saslAuthenticateApi,
] as ApiHandler[]) {
  table.set(api.apiKey, api);
}

export const API_HANDLERS: ReadonlyMap<number, ApiHandler> = table;

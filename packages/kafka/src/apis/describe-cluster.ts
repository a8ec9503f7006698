/** DescribeCluster (key 60) v0-1 (KIP-700): one broker, which is also the controller. */
import { KafkaErrorCode } from '../error-codes.js';
import { API_KEY } from '../protocol/messages/index.js';
import type { DescribeClusterRequest, DescribeClusterResponse } from '../protocol/messages/describe-cluster/types.js';
import { AclOperation } from '../acl/acl-types.js';
import { clusterError } from '../acl/checks.js';
import { defineApi } from './api.js';

const ENDPOINT_TYPE_BROKERS = 1;

export const describeClusterApi = defineApi<DescribeClusterRequest, DescribeClusterResponse>({
  apiKey: API_KEY.DescribeCluster,
  name: 'DescribeCluster',
  minVersion: 0,
  maxVersion: 1,
  pipelined: false,
  authorize: (ctx) => clusterError(ctx, AclOperation.DESCRIBE),
  handle: ({ broker }, request) => {
    if (request.endpointType !== ENDPOINT_TYPE_BROKERS) {
      return { throttleTimeMs: 0, errorCode: KafkaErrorCode.INVALID_REQUEST, errorMessage: 'only broker endpoints', endpointType: request.endpointType, clusterId: broker.clusterId, brokers: [] };
    }
    return {
      throttleTimeMs: 0,
      errorCode: KafkaErrorCode.NONE,
      errorMessage: null,
      endpointType: ENDPOINT_TYPE_BROKERS,
      clusterId: broker.clusterId,
      controllerId: broker.nodeId,
      brokers: [{ brokerId: broker.nodeId, host: broker.host, port: broker.port, rack: null }],
    };
  },
  errorResponse: ({ broker }, _request, errorCode) => ({ errorCode, clusterId: broker.clusterId, brokers: [] }),
});

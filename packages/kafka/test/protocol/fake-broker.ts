// A minimal single-node "broker" built only from the protocol codecs, for capturing what real clients
// send and checking that they accept what our encoders write. It answers ApiVersions, Metadata
// (one broker, the listed topics with one partition each), Produce (batches kept in memory with their
// base offsets assigned), ListOffsets (earliest/latest) and Fetch (every batch from the offset on, no
// waiting); nothing else. Not a model of the real broker: only enough for client round trips.
import net from 'node:net';
import { once } from 'node:events';
import { FrameDecoder } from '../../src/protocol/frame.js';
import { API_KEY, apis, messageCodecs } from '../../src/protocol/messages/index.js';
import type { FetchRequest, ListOffsetsRequest, ProduceRequest } from '../../src/protocol/messages/index.js';
import { Reader } from '../../src/protocol/reader.js';
import { decodeRequestHeader, encodeResponseHeader, responseHeaderVersion } from '../../src/protocol/request-header.js';
import { Writer } from '../../src/protocol/writer.js';

export interface CapturedRequest {
  apiKey: number;
  apiVersion: number;
  /** The whole frame without its size prefix: header + body. */
  frame: Buffer;
  body: unknown;
}

export interface FakeBrokerOptions {
  /** Advertised [min, max] per API key; ApiVersions is always added. */
  advertised: ReadonlyMap<number, [number, number]>;
  topics: readonly string[];
}

const FRAME_BYTES_MAX = 1024 * 1024;

/** Record batch v2 layout (docs/implementation "Record Batch"): base offset at 0, length at 8, last offset delta at 23. */
const BATCH_LENGTH_OFFSET = 8;
const BATCH_LAST_OFFSET_DELTA_OFFSET = 23;
const BATCH_OVERHEAD_BYTES = 12;

interface PartitionLog {
  batches: Array<{ baseOffset: number; lastOffset: number; bytes: Buffer }>;
  nextOffset: number;
}

export class FakeBroker {
  readonly captured: CapturedRequest[] = [];
  private readonly logs = new Map<string, PartitionLog>();
  private server: net.Server;
  private sockets = new Set<net.Socket>();
  port = 0;

  constructor(private readonly options: FakeBrokerOptions) {
    this.server = net.createServer((socket) => this.serve(socket));
  }

  async start(): Promise<void> {
    this.server.listen(0, '127.0.0.1');
    await once(this.server, 'listening');
    this.port = (this.server.address() as net.AddressInfo).port;
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private serve(socket: net.Socket): void {
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    const frames = new FrameDecoder(FRAME_BYTES_MAX);
    socket.on('data', (chunk: Buffer) => {
      try {
        for (const frame of frames.push(chunk)) {
          const response = this.answer(Buffer.from(frame));
          if (response) socket.write(response);
        }
      } catch {
        socket.destroy();
      }
    });
  }

  private answer(frame: Buffer): Buffer | null {
    const r = new Reader(frame);
    const header = decodeRequestHeader(r);
    const codecs = messageCodecs.get(header.apiKey)?.versions.get(header.apiVersion);
    const body = codecs ? codecs.decodeRequest(r) : null;
    this.captured.push({ apiKey: header.apiKey, apiVersion: header.apiVersion, frame, body });
    const w = new Writer();
    w.int32(0); // size, patched below
    encodeResponseHeader(w, header.correlationId, responseHeaderVersion(header.apiKey, header.apiVersion));
    const v = header.apiVersion;
    switch (header.apiKey) {
      case API_KEY.ApiVersions: {
        const apiKeys = [...this.options.advertised].map(([apiKey, [minVersion, maxVersion]]) => ({ apiKey, minVersion, maxVersion }));
        apiKeys.unshift({ apiKey: API_KEY.ApiVersions, minVersion: 0, maxVersion: 3 });
        if (!codecs) {
          // KIP-511: an unknown ApiVersions version is answered in the v0 format with UNSUPPORTED_VERSION.
          apis.ApiVersions.versions.get(0)!.encodeResponse(w, { errorCode: 35, apiKeys });
        } else {
          apis.ApiVersions.versions.get(v)!.encodeResponse(w, { errorCode: 0, apiKeys });
        }
        break;
      }
      case API_KEY.Metadata:
        apis.Metadata.versions.get(v)!.encodeResponse(w, {
          brokers: [{ nodeId: 0, host: '127.0.0.1', port: this.port, rack: null }],
          clusterId: 'fake-cluster',
          controllerId: 0,
          topics: this.options.topics.map((name) => ({
            errorCode: 0,
            name,
            isInternal: false,
            partitions: [{ errorCode: 0, partitionIndex: 0, leaderId: 0, leaderEpoch: -1, replicaNodes: [0], isrNodes: [0], offlineReplicas: [] }],
          })),
        });
        break;
      case API_KEY.Produce: {
        const request = body as ProduceRequest;
        const responses = request.topicData.map((topic) => ({
          name: topic.name,
          partitionResponses: topic.partitionData.map((p) => ({
            index: p.index,
            errorCode: 0,
            baseOffset: this.append(topic.name, p.index, p.records),
            logStartOffset: 0,
          })),
        }));
        if (request.acks === 0) return null;
        apis.Produce.versions.get(v)!.encodeResponse(w, { responses });
        break;
      }
      case API_KEY.ListOffsets: {
        const request = body as ListOffsetsRequest;
        apis.ListOffsets.versions.get(v)!.encodeResponse(w, {
          topics: request.topics.map((topic) => ({
            name: topic.name,
            partitions: topic.partitions.map((p) => {
              // -2 = earliest, -1 = latest; a real timestamp is answered with latest (no time index here).
              const offset = p.timestamp === -2 ? 0 : this.log(topic.name, p.partitionIndex).nextOffset;
              return { partitionIndex: p.partitionIndex, errorCode: 0, oldStyleOffsets: [offset], timestamp: -1, offset, leaderEpoch: -1 };
            }),
          })),
        });
        break;
      }
      case API_KEY.Fetch: {
        const request = body as FetchRequest;
        apis.Fetch.versions.get(v)!.encodeResponse(w, {
          responses: request.topics.map((topic) => ({
            topic: topic.topic,
            partitions: topic.partitions.map((p) => {
              const log = this.log(topic.topic, p.partition);
              const batches = log.batches.filter((batch) => batch.lastOffset >= p.fetchOffset).map((batch) => batch.bytes);
              return {
                partitionIndex: p.partition,
                errorCode: p.fetchOffset > log.nextOffset ? 1 : 0, // OFFSET_OUT_OF_RANGE
                highWatermark: log.nextOffset,
                lastStableOffset: log.nextOffset,
                logStartOffset: 0,
                abortedTransactions: null,
                preferredReadReplica: -1,
                records: Buffer.concat(batches),
              };
            }),
          })),
        });
        break;
      }
      default:
        return null;
    }
    w.int32At(0, w.length - 4);
    return Buffer.from(w.finish());
  }

  private log(topic: string, partition: number): PartitionLog {
    const key = `${topic}/${partition}`;
    let log = this.logs.get(key);
    if (!log) {
      log = { batches: [], nextOffset: 0 };
      this.logs.set(key, log);
    }
    return log;
  }

  /** Splits a records blob into batches, assigns base offsets, returns the first one. */
  private append(topic: string, partition: number, records: Buffer | null): number {
    const log = this.log(topic, partition);
    const firstOffset = log.nextOffset;
    let at = 0;
    while (records && records.length - at >= BATCH_OVERHEAD_BYTES) {
      const size = BATCH_OVERHEAD_BYTES + records.readInt32BE(at + BATCH_LENGTH_OFFSET);
      if (size > records.length - at || size < BATCH_LAST_OFFSET_DELTA_OFFSET + 4) break;
      const bytes = Buffer.from(records.subarray(at, at + size));
      const baseOffset = log.nextOffset;
      bytes.writeBigInt64BE(BigInt(baseOffset), 0); // the CRC does not cover the base offset
      const lastOffset = baseOffset + bytes.readInt32BE(BATCH_LAST_OFFSET_DELTA_OFFSET);
      log.batches.push({ baseOffset, lastOffset, bytes });
      log.nextOffset = lastOffset + 1;
      at += size;
    }
    return firstOffset;
  }
}

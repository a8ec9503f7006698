// A minimal single-node "broker" built only from the protocol codecs, for capturing what real clients
// send and checking that they accept what our encoders write. It answers ApiVersions, Metadata
// (one broker, the listed topics with one partition each) and Produce (offset 0); nothing else.
import net from 'node:net';
import { once } from 'node:events';
import { FrameDecoder } from '../../src/protocol/frame.js';
import { API_KEY, apis, messageCodecs } from '../../src/protocol/messages/index.js';
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

export class FakeBroker {
  readonly captured: CapturedRequest[] = [];
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
            partitions: [{ errorCode: 0, partitionIndex: 0, leaderId: 0, leaderEpoch: 0, replicaNodes: [0], isrNodes: [0], offlineReplicas: [] }],
          })),
        });
        break;
      case API_KEY.Produce: {
        const request = body as { acks: number; topicData: Array<{ name: string; partitionData: Array<{ index: number }> }> };
        if (request.acks === 0) return null;
        apis.Produce.versions.get(v)!.encodeResponse(w, {
          responses: request.topicData.map((topic) => ({
            name: topic.name,
            partitionResponses: topic.partitionData.map((p) => ({ index: p.index, errorCode: 0, baseOffset: 0, logStartOffset: 0 })),
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
}

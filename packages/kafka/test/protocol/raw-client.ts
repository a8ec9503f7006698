/**
 * KafkaTestClient: a raw Kafka client for tests, built only from the protocol codecs. It sends one
 * request of any API and version (typed body in, typed response out), pipelines requests and matches
 * responses by correlation id in order, and can write arbitrary bytes for bad-input tests.
 *
 *   const client = await KafkaTestClient.connect(port);
 *   const res = await client.request('Metadata', 12, { topics: null, allowAutoTopicCreation: false, ... });
 *   const raw = await client.requestRaw(API_KEY.ApiVersions, 4, Buffer.alloc(0));  // undecoded body
 *   client.writeRaw(Buffer.from('00000004deadbeef', 'hex')); await client.waitForClose();
 *   client.close();
 *
 * It works over any duplex stream (`new KafkaTestClient(stream)`), so it also drives a handler through
 * an in-memory pair. Every wait is bounded by `timeoutMs` (default 5 s).
 */
import net from 'node:net';
import { once } from 'node:events';
import type { Duplex } from 'node:stream';
import { encodeFrame, FrameDecoder } from '../../src/protocol/frame.js';
import { API_KEY, apis, type ApiName, type VersionCodecs } from '../../src/protocol/messages/index.js';
import { Reader } from '../../src/protocol/reader.js';
import { decodeResponseHeader, encodeRequestHeader, responseHeaderVersion } from '../../src/protocol/request-header.js';
import { Writer } from '../../src/protocol/writer.js';

type Codecs<A extends ApiName> = (typeof apis)[A]['versions'] extends ReadonlyMap<number, VersionCodecs<infer Q, infer S>> ? [Q, S] : never;
export type RequestOf<A extends ApiName> = Codecs<A>[0];
export type ResponseOf<A extends ApiName> = Codecs<A>[1];

export interface RawResponse {
  correlationId: number;
  /** The response body after its header (decode it with the codec of your choice). */
  body: Buffer;
}

export interface KafkaTestClientOptions {
  clientId?: string | null;
  /** Largest response frame accepted. */
  frameBytesMax?: number;
  /** Bound on every wait. */
  timeoutMs?: number;
}

interface Pending {
  correlationId: number;
  headerVersion: number;
  resolve: (response: RawResponse) => void;
  reject: (error: Error) => void;
  timer: NodeJS.Timeout;
}

const FRAME_BYTES_MAX_DEFAULT = 64 * 1024 * 1024;
const TIMEOUT_MS_DEFAULT = 5_000;

export class KafkaTestClient {
  readonly clientId: string | null;
  private readonly timeoutMs: number;
  private readonly frames: FrameDecoder;
  private readonly pending: Pending[] = [];
  private nextCorrelationId = 1;
  private closedError: Error | null = null;
  private readonly closed: Promise<void>;

  constructor(
    readonly stream: Duplex,
    options: KafkaTestClientOptions = {},
  ) {
    this.clientId = options.clientId === undefined ? 'strata-test' : options.clientId;
    this.timeoutMs = options.timeoutMs ?? TIMEOUT_MS_DEFAULT;
    this.frames = new FrameDecoder(options.frameBytesMax ?? FRAME_BYTES_MAX_DEFAULT);
    stream.on('data', (chunk: Buffer) => this.onData(chunk));
    this.closed = new Promise<void>((resolve) => {
      const done = (reason: string) => {
        this.fail(new Error(`connection ${reason}`));
        resolve();
      };
      stream.once('close', () => done('closed'));
      stream.once('end', () => done('ended by the server'));
      stream.once('error', (error) => done(`error: ${error.message}`));
    });
  }

  static async connect(port: number, host = '127.0.0.1', options: KafkaTestClientOptions = {}): Promise<KafkaTestClient> {
    const socket = net.connect(port, host);
    socket.setNoDelay(true);
    await once(socket, 'connect');
    return new KafkaTestClient(socket, options);
  }

  /** Sends one typed request and decodes the typed response of the same version. */
  async request<A extends ApiName>(api: A, version: number, body: RequestOf<A>): Promise<ResponseOf<A>> {
    const codecs = apis[api].versions.get(version) as VersionCodecs<RequestOf<A>, ResponseOf<A>> | undefined;
    if (!codecs) throw new Error(`no codecs for ${api} v${version}`);
    const w = new Writer();
    codecs.encodeRequest(w, body);
    const raw = await this.requestRaw(API_KEY[api], version, w.finish());
    return codecs.decodeResponse(new Reader(raw.body));
  }

  /** Sends a typed request that gets no response (Produce with acks=0). */
  send<A extends ApiName>(api: A, version: number, body: RequestOf<A>): number {
    const codecs = apis[api].versions.get(version) as VersionCodecs<RequestOf<A>, ResponseOf<A>> | undefined;
    if (!codecs) throw new Error(`no codecs for ${api} v${version}`);
    const w = new Writer();
    codecs.encodeRequest(w, body);
    return this.write(API_KEY[api], version, w.finish());
  }

  /**
   * Sends a request with a raw body (any API key and version, even ones we have no codecs for) and
   * returns the undecoded response body. The response header version follows the request's API
   * version (ApiVersions: always v0).
   */
  requestRaw(apiKey: number, apiVersion: number, body: Buffer): Promise<RawResponse> {
    if (this.closedError) return Promise.reject(this.closedError);
    const correlationId = this.write(apiKey, apiVersion, body);
    return new Promise<RawResponse>((resolve, reject) => {
      const timer = setTimeout(() => {
        const index = this.pending.findIndex((p) => p.correlationId === correlationId);
        if (index >= 0) this.pending.splice(index, 1);
        reject(new Error(`no response to correlation id ${correlationId} (api ${apiKey} v${apiVersion}) within ${this.timeoutMs} ms`));
      }, this.timeoutMs);
      this.pending.push({ correlationId, headerVersion: responseHeaderVersion(apiKey, apiVersion), resolve, reject, timer });
    });
  }

  /** Writes bytes as they are: garbage, truncated or oversized frames. */
  writeRaw(bytes: Buffer): void {
    this.stream.write(bytes);
  }

  /** Resolves when the server closes the connection; rejects after `timeoutMs` if it stays open. */
  async waitForClose(timeoutMs = this.timeoutMs): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`connection still open after ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      await Promise.race([this.closed, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  get isClosed(): boolean {
    return this.closedError !== null;
  }

  close(): void {
    this.stream.destroy();
  }

  private write(apiKey: number, apiVersion: number, body: Buffer): number {
    const correlationId = this.nextCorrelationId++;
    const header = new Writer(64);
    encodeRequestHeader(header, { apiKey, apiVersion, correlationId, clientId: this.clientId });
    this.stream.write(encodeFrame([header.finish(), body]));
    return correlationId;
  }

  private onData(chunk: Buffer): void {
    let frames: Buffer[];
    try {
      frames = this.frames.push(chunk);
    } catch (error) {
      this.fail(error as Error);
      this.stream.destroy();
      return;
    }
    for (const frame of frames) {
      const pending = this.pending.shift();
      if (!pending) {
        this.fail(new Error(`unexpected response frame of ${frame.length} bytes`));
        return;
      }
      clearTimeout(pending.timer);
      try {
        const r = new Reader(frame);
        const { correlationId } = decodeResponseHeader(r, pending.headerVersion);
        if (correlationId !== pending.correlationId) {
          throw new Error(`response out of order: correlation id ${correlationId}, expected ${pending.correlationId}`);
        }
        pending.resolve({ correlationId, body: frame.subarray(r.offset) });
      } catch (error) {
        pending.reject(error as Error);
      }
    }
  }

  private fail(error: Error): void {
    if (!this.closedError) this.closedError = error;
    for (const pending of this.pending.splice(0)) {
      clearTimeout(pending.timer);
      pending.reject(error);
    }
  }
}

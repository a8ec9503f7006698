/**
 * A minimal Kafka client over a raw socket for protocol-level tests: sends any bytes, encodes
 * requests with the generated codecs, and collects response frames.
 */
import { connect, type Socket } from 'node:net';
import { FrameDecoder, encodeFrame } from '../../src/protocol/frame.js';
import { messageCodecs } from '../../src/protocol/messages/index.js';
import { Reader } from '../../src/protocol/reader.js';
import { decodeResponseHeader, encodeRequestHeader, responseHeaderVersion } from '../../src/protocol/request-header.js';
import { Writer } from '../../src/protocol/writer.js';

export class RawClient {
  private readonly frames = new FrameDecoder(256 * 1024 * 1024);
  private readonly received: Buffer[] = [];
  private waiters: Array<() => void> = [];
  closed = false;

  private constructor(readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.received.push(...this.frames.push(chunk));
      this.wake();
    });
    socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
    socket.on('error', () => {});
  }

  static async connect(port: number): Promise<RawClient> {
    const socket = connect(port, '127.0.0.1');
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    return new RawClient(socket);
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }

  static encode(apiKey: number, apiVersion: number, correlationId: number, body: unknown): Buffer {
    const w = new Writer();
    encodeRequestHeader(w, { apiKey, apiVersion, correlationId, clientId: 'raw' });
    messageCodecs.get(apiKey)!.versions.get(apiVersion)!.encodeRequest(w, body as never);
    return encodeFrame([w.finish()]);
  }

  send(bytes: Buffer): void {
    this.socket.write(bytes);
  }

  request(apiKey: number, apiVersion: number, correlationId: number, body: unknown): void {
    this.send(RawClient.encode(apiKey, apiVersion, correlationId, body));
  }

  /** Next response frame, or null if the connection closed first (or `ms` passed). */
  async nextFrame(ms = 5_000): Promise<Buffer | null> {
    const deadline = Date.now() + ms;
    while (this.received.length === 0) {
      if (this.closed || Date.now() > deadline) return null;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.max(1, deadline - Date.now()));
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    return this.received.shift()!;
  }

  async response<T = any>(apiKey: number, apiVersion: number, ms = 5_000): Promise<{ correlationId: number; body: T } | null> {
    const frame = await this.nextFrame(ms);
    if (!frame) return null;
    const r = new Reader(frame);
    const { correlationId } = decodeResponseHeader(r, responseHeaderVersion(apiKey, apiVersion));
    return { correlationId, body: messageCodecs.get(apiKey)!.versions.get(apiVersion)!.decodeResponse(r) as T };
  }

  /** Resolves true once the server has closed the connection (within `ms`). */
  async closedWithin(ms: number): Promise<boolean> {
    const deadline = Date.now() + ms;
    while (!this.closed && Date.now() < deadline) await this.nextFrame(Math.max(1, deadline - Date.now()));
    return this.closed;
  }

  close(): void {
    this.socket.destroy();
  }
}

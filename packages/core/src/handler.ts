/**
 * The protocol handler contract (design brief §3). A handler is a plug-in: a name, the listeners it
 * wants, start(context), handleConnection(stream, info) for any duplex stream (socket, TLS socket, an
 * in-memory pair in tests), advertise(), and an idempotent close(). The server owns sockets and ports;
 * a handler owns bytes on a stream.
 */
import type { Duplex } from 'node:stream';
import type { Core } from './core.js';
import type { Logger } from './logger.js';

export interface ListenerSpec {
  /** Unique across the server: 'kafka', 'mqtt', 'mqtt-ws', 'amqp', ... also the CLI flag `--<id>-port`. */
  readonly id: string;
  readonly defaultPort: number;
  readonly description: string;
}

export interface ConnectionInfo {
  readonly listenerId: string;
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly localAddress: string;
  readonly localPort: number;
  readonly tls: boolean;
  /**
   * The subject of the client certificate the TLS handshake verified against the listener's CA, as
   * an RFC 2253 distinguished name (`CN=alice,OU=eng,O=Example`, most specific first, as Kafka's
   * X500Principal names it); absent without one.
   */
  readonly peerCertificateSubject?: string;
}

/**
 * An X.509 subject as Node prints it (`C=US\nO=Example\nCN=alice`, one RDN a line, in certificate
 * order) as an RFC 2253 name: RDNs reversed, comma-separated, with `,`, `+`, `"`, `\\`, `<`, `>`, `;`
 * escaped.
 */
export function rfc2253Name(subject: string): string {
  return subject
    .split('\n')
    .filter((line) => line !== '')
    .reverse()
    .map((rdn) => {
      const equals = rdn.indexOf('=');
      if (equals < 0) return rdn;
      return `${rdn.slice(0, equals)}=${rdn.slice(equals + 1).replace(/[,+"\\<>;]/g, (c) => `\\${c}`)}`;
    })
    .join(',');
}

/** The addresses a plain TCP socket accepted on `listenerId` carries, as a ConnectionInfo. */
export function tcpConnectionInfo(listenerId: string, socket: { remoteAddress?: string | undefined; remotePort?: number | undefined; localAddress?: string | undefined; localPort?: number | undefined }): ConnectionInfo {
  return {
    listenerId,
    remoteAddress: socket.remoteAddress ?? '',
    remotePort: socket.remotePort ?? 0,
    localAddress: socket.localAddress ?? '',
    localPort: socket.localPort ?? 0,
    tls: false,
  };
}

export interface BoundAddress {
  readonly listenerId: string;
  readonly host: string;
  readonly port: number;
}

export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

export interface HandlerContext {
  readonly core: Core;
  /** This handler's own config section, already merged from file, env and flags (plain data). */
  readonly config: Readonly<Record<string, unknown>>;
  readonly logger: Logger;
  readonly clock: Clock;
  /** Aborted when the server shuts down. */
  readonly signal: AbortSignal;
  /** Where the server bound this handler's listeners (known before start is called). */
  readonly listeners: ReadonlyMap<string, BoundAddress>;
  /** Host name clients should use to reach this server (config `advertisedHost`, default the bind host). */
  readonly advertisedHost: string;
}

export interface AdvertisedListener {
  readonly listenerId: string;
  readonly protocol: string;
  readonly host: string;
  readonly port: number;
}

export interface ProtocolHandler {
  readonly name: string;
  readonly listeners: readonly ListenerSpec[];
  start(context: HandlerContext): Promise<void>;
  /** Takes ownership of the stream; must never throw (errors close this connection only). */
  handleConnection(stream: Duplex, info: ConnectionInfo): void;
  advertise(): AdvertisedListener[];
  /** Stops accepting work, closes connections, releases resources. Idempotent. */
  close(): Promise<void>;
}

/** What a handler package exports for the server: a factory. */
export type ProtocolHandlerFactory = () => ProtocolHandler;

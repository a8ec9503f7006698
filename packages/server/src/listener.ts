/**
 * One bound listener: a TCP server on host:port that hands each accepted socket to its handler.
 * The server owns sockets and ports; the handler owns the bytes (core/src/handler.ts). Connections
 * beyond `connectionsMax` are closed at accept by Node (`server.maxConnections`) and counted.
 *
 * With `tls` the listener is a TLS server: the handler gets the TLSSocket once its handshake is
 * done (it reads and writes plaintext, as on TCP); a failed or slow handshake (over
 * TLS_HANDSHAKE_MS_MAX) closes that socket and is logged, and never reaches the handler.
 */
import { readFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { createSecureContext, Server as TlsServer, type TLSSocket } from 'node:tls';
import type { BoundAddress, ListenerSpec, Logger } from '@strata/core';
import { ConfigError } from './config/config-error.js';
import type { ListenerConfig, ListenerTls } from './config/server-config.js';

/** A TLS handshake not done by then closes the socket (Node's default is 120 s). */
export const TLS_HANDSHAKE_MS_MAX = 10_000;

/** The TLS server's options from the listener's PEM files; a bad file is a config mistake naming its key. */
function tlsOptions(listenerId: string, tls: ListenerTls): ConstructorParameters<typeof TlsServer>[0] {
  const read = (name: string, file: string): Buffer => {
    try {
      return readFileSync(file);
    } catch (error) {
      throw new ConfigError(`listeners.${listenerId}.tls.${name}`, `cannot read listeners.${listenerId}.tls.${name} ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
    }
  };
  const options = {
    cert: read('cert', tls.certFile),
    key: read('key', tls.keyFile),
    ...(tls.caFile !== null ? { ca: read('ca', tls.caFile) } : {}),
    minVersion: 'TLSv1.2' as const,
    requestCert: tls.clientCertificates !== 'none',
    rejectUnauthorized: tls.clientCertificates === 'require',
    handshakeTimeout: TLS_HANDSHAKE_MS_MAX,
  };
  try {
    createSecureContext(options); // the same checks the server makes, now, with the key named
  } catch (error) {
    throw new ConfigError(`listeners.${listenerId}.tls`, `listeners.${listenerId}.tls: ${(error as Error).message} (cert ${tls.certFile}, key ${tls.keyFile})`);
  }
  return options;
}

/** A listener that could not be bound (port in use, address not available): exit code 1. */
export class ListenError extends Error {
  readonly code: string;
  constructor(message: string, code: string) {
    super(message);
    this.name = 'ListenError';
    this.code = code;
  }
}

/** Interval between "connections refused" warnings per listener, so a flood makes one line a second. */
const dropWarningIntervalMs = 1_000;

export interface ListenerBinding {
  readonly spec: ListenerSpec;
  readonly address: BoundAddress;
  connectionCount(): number;
  /** From now on accepted sockets go to `onConnection`; sockets accepted earlier are handed over first. */
  open(onConnection: (socket: Socket) => void): void;
  /** Stops accepting; resolves when the TCP server is closed (after its sockets are gone). */
  stopAccepting(): Promise<void>;
  /** Destroys the sockets still open (after the handler had its chance to close them cleanly). */
  destroyConnections(): void;
}

/** Two listeners on one port would race for it; refuse before binding anything (Pulsar does too). */
export function checkPortCollisions(listeners: ReadonlyMap<string, ListenerConfig>): void {
  const byPort = new Map<number, string>();
  for (const [id, config] of listeners) {
    if (config.port === 0) continue; // every port-0 listener gets its own free port
    const other = byPort.get(config.port);
    if (other !== undefined) {
      throw new ConfigError(`listeners.${id}.port`, `listeners ${other} and ${id} both want port ${config.port}; give each its own port`);
    }
    byPort.set(config.port, id);
  }
}

/** `host:port`, with IPv6 hosts in brackets (`[::1]:9092`), as the listener lines print it. */
export function formatHostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/**
 * An event logged at most once per dropWarningIntervalMs, with how many happened since the last
 * line: `log(count, ...args)` runs for the first event and then for the first one a second later.
 */
function countedLog<A extends unknown[]>(log: (count: number, ...args: A) => void): (...args: A) => void {
  let since = 0;
  let lastLogMs = 0;
  return (...args: A) => {
    since++;
    const nowMs = Date.now();
    if (nowMs - lastLogMs < dropWarningIntervalMs) return;
    log(since, ...args);
    since = 0;
    lastLogMs = nowMs;
  };
}

export async function bindListener(spec: ListenerSpec, config: ListenerConfig, host: string, logger: Logger): Promise<ListenerBinding> {
  const server: Server = config.tls === null ? createServer({ noDelay: true }) : new TlsServer({ ...tlsOptions(spec.id, config.tls), noDelay: true });
  server.maxConnections = config.connectionsMax;
  const sockets = new Set<Socket>();
  const early: Socket[] = [];
  let dispatch: ((socket: Socket) => void) | null = null;

  const accepted = (socket: Socket): void => {
    if (dispatch === null) early.push(socket); // bounded: at most connectionsMax sockets are open
    else dispatch(socket);
  };
  // The TCP connection is counted (and destroyed at shutdown) from accept; with TLS the handler
  // gets the TLSSocket once its handshake is done.
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    if (config.tls === null) accepted(socket);
  });
  if (config.tls !== null) {
    server.on('secureConnection', (socket: TLSSocket) => accepted(socket));
    // As for refused connections: a scanner or a misconfigured client retrying must not flood the log.
    const handshakeFailed = countedLog((failed, socket: TLSSocket, error: Error) =>
      logger.info('TLS handshake failed', { listener: spec.id, remote: `${socket.remoteAddress ?? ''}:${socket.remotePort ?? 0}`, error: error.message, failed }),
    );
    server.on('tlsClientError', (error: Error, socket: TLSSocket) => {
      handshakeFailed(socket, error);
      socket.destroy();
    });
  }
  server.on(
    'drop',
    countedLog((refused) => logger.warn('connection refused: connectionsMax reached', { listener: spec.id, connectionsMax: config.connectionsMax, refused })),
  );
  await new Promise<void>((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException): void => {
      const code = error.code ?? 'ERROR';
      const reason = code === 'EADDRINUSE' ? 'address already in use' : code === 'EACCES' ? 'permission denied' : error.message;
      reject(new ListenError(`cannot bind listener ${spec.id} on ${formatHostPort(host, config.port)}: ${reason} (${code})`, code));
    };
    server.once('error', onError);
    server.listen({ port: config.port, host, exclusive: true }, () => {
      server.off('error', onError);
      resolve();
    });
  });
  server.on('error', (error) => logger.error('listener error', { listener: spec.id, error }));
  const bound = server.address();
  if (bound === null || typeof bound === 'string') throw new ListenError(`listener ${spec.id} has no TCP address`, 'ENOADDR');
  const address: BoundAddress = { listenerId: spec.id, host: bound.address, port: bound.port };

  let stopped: Promise<void> | null = null;
  return {
    spec,
    address,
    connectionCount: () => sockets.size,
    open(onConnection) {
      dispatch = onConnection;
      for (const socket of early.splice(0)) if (!socket.destroyed) onConnection(socket);
    },
    stopAccepting() {
      stopped ??= new Promise<void>((resolve) => server.close(() => resolve()));
      return stopped;
    },
    destroyConnections() {
      for (const socket of sockets) socket.destroy();
    },
  };
}

/**
 * Hosts protocol handlers on one core: opens the core, binds every handler's listeners, starts the
 * handlers with their HandlerContext, hands accepted sockets to them, and shuts all of it down in
 * order (stop accepting → handlers close → core closes, so in-flight appends finish).
 */
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import {
  createLogger,
  openCore,
  systemClock,
  rfc2253Name,
  tcpConnectionInfo,
  type AdvertisedListener,
  type BoundAddress,
  type Clock,
  type ConnectionInfo,
  type Core,
  type CoreOptions,
  type HandlerContext,
  type Logger,
  type ProtocolHandler,
} from '@strata/core';
import { ConfigError } from './config/config-error.js';
import { resolveConfig } from './config/resolve-config.js';
import { advertisedHostOf, type ServerConfig } from './config/server-config.js';
import { builtinHandlerFactories } from './handlers.js';
import { checkHandlerShape } from './handler-modules.js';
import { bindListener, checkPortCollisions, type ListenerBinding } from './listener.js';

export type OpenCore = (options: CoreOptions) => Promise<Core>;

export interface ServerDependencies {
  readonly logger?: Logger;
  readonly clock?: Clock;
  /** Default: openCore from @strata/core. Tests may pass a stand-in. */
  readonly openCore?: OpenCore;
  /**
   * The core's storage failed (an fsync reported an error: docs/storage.md "When an fsync fails").
   * The server has begun its shutdown (`stopped` settles when it is done); the CLI exits non-zero
   * then, so that a supervisor restarts it and recovery repairs the segments from the journal.
   */
  readonly onStorageFailure?: (error: Error, stopped: Promise<void>) => void;
}

export interface RunningServer {
  readonly config: ServerConfig;
  readonly core: Core;
  /** Listener id → where it is bound (port resolved when the config said 0). */
  readonly addresses: ReadonlyMap<string, BoundAddress>;
  readonly handlers: readonly ProtocolHandler[];
  /** Graceful shutdown; idempotent (every call returns the same promise). */
  close(): Promise<void>;
}

/** A handler whose start() failed: the server does not run half a protocol set. */
export class HandlerStartError extends Error {
  constructor(handlerName: string, cause: unknown) {
    super(`handler ${handlerName} failed to start: ${cause instanceof Error ? cause.message : String(cause)}`);
    this.name = 'HandlerStartError';
    this.cause = cause;
  }
}

/** Handler names and listener ids must be unique: they are config keys and flag names. */
export function checkHandlerSet(handlers: readonly ProtocolHandler[]): void {
  const names = new Set<string>();
  const listenerOwners = new Map<string, string>();
  for (const handler of handlers) {
    checkHandlerShape(handler, `handler ${String((handler as { name?: unknown }).name)}`);
    if (names.has(handler.name)) throw new ConfigError(handler.name, `two handlers are named ${handler.name}`);
    names.add(handler.name);
    for (const spec of handler.listeners) {
      const owner = listenerOwners.get(spec.id);
      if (owner !== undefined) throw new ConfigError(`listeners.${spec.id}`, `handlers ${owner} and ${handler.name} both declare listener ${spec.id}`);
      listenerOwners.set(spec.id, handler.name);
    }
  }
}

export async function launchServer(
  config: ServerConfig,
  handlers: readonly ProtocolHandler[],
  dependencies: ServerDependencies = {},
): Promise<RunningServer> {
  checkHandlerSet(handlers);
  checkPortCollisions(config.listeners);
  const logger = dependencies.logger ?? createLogger({ level: config.logLevel });
  const clock = dependencies.clock ?? systemClock;
  const abort = new AbortController();
  const advertisedHost = advertisedHostOf(config);

  const bindings: { handler: ProtocolHandler; binding: ListenerBinding }[] = [];
  /** Handlers whose start() was called (even if it failed): each gets close() to release what it holds. */
  const started: ProtocolHandler[] = [];
  let core: Core | null = null;
  let closing: Promise<void> | null = null;

  const shutdown = (): Promise<void> => {
    closing ??= (async () => {
      logger.info('server stopping');
      abort.abort();
      const stopped = bindings.map(({ binding }) => binding.stopAccepting());
      const results = await Promise.allSettled(started.map((handler) => handler.close()));
      results.forEach((result, index) => {
        if (result.status === 'rejected') logger.error('handler close failed', { handler: started[index]?.name, error: result.reason });
      });
      for (const { binding } of bindings) binding.destroyConnections();
      await Promise.all(stopped);
      await core?.close();
      logger.info('server stopped');
    })();
    return closing;
  };

  try {
    // Bind first: a port in use fails in milliseconds, before storage recovery runs. Connections that
    // arrive meanwhile wait in the listener (at most connectionsMax) until their handler has started.
    for (const handler of handlers) {
      for (const spec of handler.listeners) {
        const listenerConfig = config.listeners.get(spec.id);
        if (listenerConfig === undefined) throw new ConfigError(`listeners.${spec.id}`, `no config for listener ${spec.id}`);
        bindings.push({ handler, binding: await bindListener(spec, listenerConfig, config.host, logger) });
      }
    }
    core = await (dependencies.openCore ?? openCore)({
      dataDir: config.dataDir,
      nodeId: config.nodeId,
      fsync: config.fsync,
      journalIo: config.journalIo,
      logger: logger.child({ component: 'core' }),
      clock,
      limits: config.limits,
      defaultPolicies: config.policies,
    });
    for (const handler of handlers) {
      const own = new Map(bindings.filter((b) => b.handler === handler).map((b) => [b.binding.spec.id, b.binding.address]));
      const context: HandlerContext = {
        core: core,
        config: config.handlerSections.get(handler.name) ?? {},
        logger: logger.child({ handler: handler.name }),
        clock,
        signal: abort.signal,
        listeners: own,
        advertisedHost,
      };
      started.push(handler);
      try {
        await handler.start(context);
      } catch (error) {
        throw new HandlerStartError(handler.name, error);
      }
    }
  } catch (error) {
    await shutdown().catch((closeError) => logger.error('cleanup after failed start', { error: closeError }));
    throw error;
  }

  let connectionsAccepted = 0;
  for (const { handler, binding } of bindings) {
    const handlerLogger = logger.child({ handler: handler.name, listener: binding.spec.id });
    binding.open((socket) => {
      // Accepted in the instant between a shutdown starting and the listener closing: not handed over.
      if (closing !== null) socket.destroy();
      else dispatchConnection(handler, binding, socket, handlerLogger, ++connectionsAccepted);
    });
  }

  // After a failed fsync the core refuses appends until a restart has rewritten its segments from
  // the journal (PostgreSQL's model: stop, never retry the fsync). Also told when it failed already.
  core.onStorageFailure((error) => {
    logger.error('storage failed (an fsync reported an error); shutting down: a restart repairs the segments from the journal', { error });
    dependencies.onStorageFailure?.(error, shutdown());
  });

  const addresses = new Map(bindings.map(({ binding }) => [binding.spec.id, binding.address]));
  logger.info('server started', {
    dataDir: config.dataDir,
    listeners: Object.fromEntries([...addresses].map(([id, a]) => [id, `${a.host}:${a.port}`])),
    advertised: started.flatMap((handler) => advertisedBy(handler, logger)).map((a) => `${a.listenerId}=${a.protocol}://${a.host}:${a.port}`),
  });
  return { config, core, addresses, handlers, close: shutdown };
}

/** What a handler tells clients; a handler bug here is logged, not fatal. */
function advertisedBy(handler: ProtocolHandler, logger: Logger): AdvertisedListener[] {
  try {
    return handler.advertise();
  } catch (error) {
    logger.warn('advertise() threw', { handler: handler.name, error });
    return [];
  }
}

function dispatchConnection(handler: ProtocolHandler, binding: ListenerBinding, socket: Socket, logger: Logger, connectionId: number): void {
  const tlsSocket = socket as Socket & Partial<Pick<TLSSocket, 'encrypted' | 'authorized' | 'getPeerX509Certificate'>>;
  const encrypted = tlsSocket.encrypted === true;
  // Only a certificate the handshake verified against the listener's CA names anyone.
  const peer = encrypted && tlsSocket.authorized === true ? tlsSocket.getPeerX509Certificate?.() : undefined;
  const info: ConnectionInfo = {
    ...tcpConnectionInfo(binding.spec.id, socket),
    tls: encrypted,
    ...(peer ? { peerCertificateSubject: rfc2253Name(peer.subject) } : {}),
  };
  const connectionLogger = logger.child({ connectionId, remote: `${info.remoteAddress}:${info.remotePort}` });
  // A reset by the peer must never crash the process, whatever the handler listens for.
  socket.on('error', (error) => connectionLogger.debug('socket error', { error }));
  socket.once('close', () => connectionLogger.debug('connection closed'));
  connectionLogger.debug('connection accepted');
  try {
    handler.handleConnection(socket, info);
  } catch (error) {
    // The contract says handleConnection never throws; if it does, only this connection pays.
    connectionLogger.error('handleConnection threw; connection closed', { error });
    socket.destroy();
  }
}

export interface StartServerOptions {
  readonly dataDir: string;
  /** Default: the built-in registry (packages/server/src/handlers.ts). */
  readonly handlers?: readonly ProtocolHandler[];
  /**
   * Same shape as the YAML file (`host`, `fsync`, `listeners`, `limits`, `policies`, `<handler>: {...}`),
   * validated the same way. Listeners not given a port here bind port 0 (a free port).
   */
  readonly config?: Readonly<Record<string, unknown>>;
  readonly logger?: Logger;
  readonly clock?: Clock;
  readonly openCore?: OpenCore;
  readonly onStorageFailure?: ServerDependencies['onStorageFailure'];
}

/** In-process server for tests: free ports by default, returns the bound addresses. */
export async function startServer(options: StartServerOptions): Promise<RunningServer> {
  const handlers = options.handlers ?? builtinHandlerFactories.map((create) => create());
  checkHandlerSet(handlers);
  const given = (options.config ?? {}) as Record<string, unknown>;
  const givenListeners = (given['listeners'] ?? {}) as Record<string, Record<string, unknown>>;
  const listeners: Record<string, unknown> = { ...givenListeners };
  for (const handler of handlers) {
    for (const spec of handler.listeners) listeners[spec.id] = { port: 0, ...(givenListeners[spec.id] ?? {}) };
  }
  const config = resolveConfig(
    { flags: new Map(), env: {}, file: { path: 'startServer options', content: { ...given, dataDir: options.dataDir, listeners } } },
    { handlerNames: handlers.map((h) => h.name), listeners: handlers.flatMap((h) => h.listeners) },
  );
  return launchServer(config, handlers, {
    // Tests want quiet output: warnings and errors only, unless the options ask for a level.
    logger: options.logger ?? createLogger({ level: given['logLevel'] === undefined ? 'warn' : config.logLevel }),
    ...(options.clock ? { clock: options.clock } : {}),
    ...(options.openCore ? { openCore: options.openCore } : {}),
    ...(options.onStorageFailure ? { onStorageFailure: options.onStorageFailure } : {}),
  });
}

/**
 * Test harness: a real core in a temp dir plus the Kafka handler behind a TCP server on
 * 127.0.0.1:0, wired the way the server wires it. `restart()` closes both and opens them again on
 * the same data dir and port (durability tests).
 */
import { createServer, type Server, type Socket } from 'node:net';
import { createLogger, openCore, silentLogger, systemClock, tcpConnectionInfo, type Core, type CoreInternals, type FsyncPolicy, type JournalIo, type Logger } from '@strata/core';
import { makeTempDir } from '@strata/testing';
import { createKafkaHandler } from '../../src/index.js';
import type { ProtocolHandler } from '@strata/core';

export interface KafkaTestServer {
  readonly port: number;
  readonly bootstrap: string;
  core: Core;
  handler: ProtocolHandler;
  readonly dataDir: string;
  restart(): Promise<void>;
  close(): Promise<void>;
}

export interface KafkaTestServerOptions {
  readonly config?: Record<string, unknown>;
  readonly logger?: Logger;
  /** The core's journal I/O mode (benchmarks compare both); default the core's. */
  readonly journalIo?: JournalIo;
  /** The core's internals (benchmarks: journal file size). */
  readonly coreInternals?: CoreInternals;
  /** The core's fsync policy; default the core's (`always`). */
  readonly fsync?: FsyncPolicy;
}

export async function startKafkaServer(options: KafkaTestServerOptions = {}): Promise<KafkaTestServer> {
  const dir = await makeTempDir('strata-kafka-test-');
  const logger = options.logger ?? (process.env['STRATA_TEST_LOG'] ? createLogger({ level: 'debug' }) : silentLogger);
  const sockets = new Set<Socket>();
  let current: { core: Core; handler: ProtocolHandler; abort: AbortController } | null = null;

  const server: Server = createServer((socket) => {
    if (!current) return void socket.destroy();
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.setNoDelay(true);
    current.handler.handleConnection(socket, tcpConnectionInfo('kafka', socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;

  async function open(): Promise<void> {
    const core = await openCore(
      { dataDir: dir.path, logger, ...(options.journalIo ? { journalIo: options.journalIo } : {}), ...(options.fsync ? { fsync: options.fsync } : {}) },
      options.coreInternals,
    );
    const handler = createKafkaHandler();
    const abort = new AbortController();
    await handler.start({
      core,
      config: options.config ?? {},
      logger: logger.child({ handler: 'kafka' }),
      clock: systemClock,
      signal: abort.signal,
      listeners: new Map([['kafka', { listenerId: 'kafka', host: '127.0.0.1', port }]]),
      advertisedHost: '127.0.0.1',
    });
    current = { core, handler, abort };
  }

  async function shutdown(): Promise<void> {
    if (!current) return;
    const { core, handler, abort } = current;
    current = null;
    abort.abort();
    await handler.close();
    for (const s of sockets) s.destroy();
    await core.close();
  }

  await open();
  const result: KafkaTestServer = {
    port,
    bootstrap: `127.0.0.1:${port}`,
    get core() {
      return current!.core;
    },
    get handler() {
      return current!.handler;
    },
    dataDir: dir.path,
    async restart() {
      await shutdown();
      await open();
    },
    async close() {
      await shutdown();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await dir.remove();
    },
  } as KafkaTestServer;
  return result;
}

/**
 * A tiny ProtocolHandler for the server's own tests: listener `echo` echoes bytes back, listener
 * `echo-upper` echoes them upper-cased. Config section `echo: { greeting: "..." }` is written first
 * on every connection, proving HandlerContext.config arrives. The CLI tests load this compiled file
 * with `--handler-module`.
 */
import type { Duplex } from 'node:stream';
import type { AdvertisedListener, ConnectionInfo, HandlerContext, ProtocolHandler } from '@strata/core';

export interface EchoHandler extends ProtocolHandler {
  readonly context: HandlerContext | null;
  readonly connections: ConnectionInfo[];
  readonly closeCalls: number;
}

export function createEchoHandler(options: { failStart?: boolean; onClose?: () => Promise<void> } = {}): EchoHandler {
  let context: HandlerContext | null = null;
  const connections: ConnectionInfo[] = [];
  const streams = new Set<Duplex>();
  let closeCalls = 0;
  return {
    name: 'echo',
    listeners: [
      { id: 'echo', defaultPort: 17007, description: 'echoes bytes (test handler)' },
      { id: 'echo-upper', defaultPort: 17008, description: 'echoes bytes upper-cased (test handler)' },
    ],
    get context() {
      return context;
    },
    connections,
    get closeCalls() {
      return closeCalls;
    },
    async start(ctx) {
      if (options.failStart) throw new Error('echo refuses to start');
      context = ctx;
    },
    handleConnection(stream, info) {
      connections.push(info);
      streams.add(stream);
      stream.once('close', () => streams.delete(stream));
      const greeting = context?.config['greeting'];
      if (typeof greeting === 'string') stream.write(greeting);
      const upper = info.listenerId === 'echo-upper';
      stream.on('data', (chunk: Buffer) => stream.write(upper ? Buffer.from(chunk.toString('latin1').toUpperCase(), 'latin1') : chunk));
      stream.on('end', () => stream.end());
    },
    advertise(): AdvertisedListener[] {
      if (context === null) return [];
      const ctx = context;
      return [...ctx.listeners.values()].map((a) => ({ listenerId: a.listenerId, protocol: 'echo', host: ctx.advertisedHost, port: a.port }));
    },
    async close() {
      closeCalls++;
      await options.onClose?.();
      for (const stream of streams) stream.end();
    },
  };
}

export default function createHandler(): ProtocolHandler {
  return createEchoHandler();
}

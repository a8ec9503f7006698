/**
 * A test handler that writes through the core: every newline-terminated line received on listener
 * `append` becomes one message appended to partition 0 of `topic`, and the reply is the offset
 * (`<offset>\n`) once the append is durable. close() waits for the appends in flight, as the
 * contract asks of every handler.
 */
import type { Duplex } from 'node:stream';
import type { HandlerContext, ProtocolHandler } from '@strata/core';

export const APPEND_TOPIC = 'persistent://public/default/server-append-test';

export interface AppendHandler extends ProtocolHandler {
  /** Offsets whose append resolved (in completion order). */
  readonly acked: number[];
  readonly failures: unknown[];
  /** Appends started. */
  issued(): number;
}

/** `onIssued` runs synchronously after each append is started: tests use it to act while it is in flight. */
export function createAppendHandler(options: { onIssued?: (issued: number) => void } = {}): AppendHandler {
  let issued = 0;
  let context: HandlerContext | null = null;
  const inFlight = new Set<Promise<void>>();
  const streams = new Set<Duplex>();
  const acked: number[] = [];
  const failures: unknown[] = [];
  let closing = false;
  return {
    name: 'append',
    listeners: [{ id: 'append', defaultPort: 17009, description: 'appends lines to a topic (test handler)' }],
    acked,
    failures,
    issued: () => issued,
    async start(ctx) {
      context = ctx;
      if (!ctx.core.topics.exists(APPEND_TOPIC)) await ctx.core.topics.create(APPEND_TOPIC, { partitions: 1 });
    },
    handleConnection(stream) {
      streams.add(stream);
      stream.once('close', () => streams.delete(stream));
      let pending = '';
      stream.on('data', (chunk: Buffer) => {
        pending += chunk.toString('utf8');
        let newline: number;
        while ((newline = pending.indexOf('\n')) !== -1) {
          const line = pending.slice(0, newline);
          pending = pending.slice(newline + 1);
          if (closing || context === null) continue; // stop taking work once closing
          const core = context.core;
          const append = core
            .append(APPEND_TOPIC, 0, { kind: 'messages', messages: [{ key: null, value: Buffer.from(line), headers: [], timestamp: Date.now() }] })
            .then(
              (result) => {
                acked.push(result.baseOffset);
                if (!stream.destroyed) stream.write(`${result.baseOffset}\n`);
              },
              (error: unknown) => void failures.push(error),
            )
            .finally(() => inFlight.delete(append));
          inFlight.add(append);
          issued++;
          options.onIssued?.(issued);
        }
      });
      stream.on('error', () => undefined);
    },
    advertise: () => [],
    async close() {
      closing = true;
      await Promise.all([...inFlight]);
      for (const stream of streams) stream.end();
    },
  };
}

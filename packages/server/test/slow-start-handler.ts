/**
 * A handler plug-in whose start() takes a while, logging when it begins: the CLI tests send SIGTERM
 * while the server is still starting. Loaded with `--handler-module`.
 */
import type { ProtocolHandler } from '@strata/core';

export const SLOW_START_MS = 1_500;

export default function createHandler(): ProtocolHandler {
  return {
    name: 'slow',
    listeners: [{ id: 'slow', defaultPort: 17012, description: 'starts slowly (test handler)' }],
    async start(context) {
      context.logger.info('slow handler starting');
      await new Promise((resolve) => setTimeout(resolve, SLOW_START_MS));
    },
    handleConnection(stream) {
      stream.destroy();
    },
    advertise: () => [],
    async close() {},
  };
}

/**
 * A handler plug-in with a bug outside any connection's reach: it throws asynchronously on the first
 * connection. The CLI must log it as a structured line and exit 1. Loaded with `--handler-module`.
 */
import type { ProtocolHandler } from '@strata/core';

export default function createHandler(): ProtocolHandler {
  return {
    name: 'buggy',
    listeners: [{ id: 'buggy', defaultPort: 17011, description: 'throws asynchronously (test handler)' }],
    async start() {},
    handleConnection(stream) {
      stream.destroy();
      setImmediate(() => {
        throw new Error('async handler bug');
      });
    },
    advertise: () => [],
    async close() {},
  };
}

/**
 * A handler plug-in whose close() never finishes, for the CLI's forced-exit paths: a second signal,
 * and shutdownMsMax. Loaded with `--handler-module`.
 */
import type { ProtocolHandler } from '@strata/core';

export default function createHandler(): ProtocolHandler {
  return {
    name: 'stuck',
    listeners: [{ id: 'stuck', defaultPort: 17010, description: 'a handler that never finishes closing (test handler)' }],
    async start() {},
    handleConnection(stream) {
      stream.destroy();
    },
    advertise: () => [],
    close: () => new Promise<void>(() => undefined),
  };
}

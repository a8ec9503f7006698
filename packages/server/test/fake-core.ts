/**
 * A stand-in Core for unit tests of the hosting logic (binding, dispatch, shutdown order) that need no
 * storage: it records the options it was opened with and when it was closed. Tests that need storage
 * use the real openCore.
 */
import type { Core, CoreOptions } from '@strata/core';
import type { OpenCore } from '../src/start-server.js';

export interface FakeCoreProbe {
  readonly openCore: OpenCore;
  readonly opened: CoreOptions[];
  /** Order of events across core and handlers, e.g. ['core:close']. */
  readonly events: string[];
  /** Calls the opened core's onStorageFailure listeners, as the real core does after a failed fsync. */
  failStorage(error: Error): void;
}

export function fakeCore(events: string[] = []): FakeCoreProbe {
  const opened: CoreOptions[] = [];
  const storageListeners = new Set<(error: Error) => void>();
  return {
    opened,
    events,
    failStorage: (error) => {
      for (const listener of storageListeners) listener(error);
    },
    openCore: async (options) => {
      opened.push(options);
      events.push('core:open');
      const core = {
        nodeId: options.nodeId ?? 0,
        close: async () => {
          events.push('core:close');
        },
        onStorageFailure: (listener: (error: Error) => void) => {
          storageListeners.add(listener);
          return () => storageListeners.delete(listener);
        },
      };
      return core as unknown as Core;
    },
  };
}

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
}

export function fakeCore(events: string[] = []): FakeCoreProbe {
  const opened: CoreOptions[] = [];
  return {
    opened,
    events,
    openCore: async (options) => {
      opened.push(options);
      events.push('core:open');
      const core = {
        nodeId: options.nodeId ?? 0,
        close: async () => {
          events.push('core:close');
        },
      };
      return core as unknown as Core;
    },
  };
}

/**
 * A handler plug-in that breaks fdatasync for the whole process on its first connection and then
 * appends one message: with `--fsync interval:<ms>` the journal's interval fsync fails, the core
 * enters its failed storage state, and the CLI must exit non-zero. Loaded with `--handler-module`.
 */
import fs from 'node:fs';
import type { Core, ProtocolHandler } from '@strata/core';

export const FAILING_FSYNC_TOPIC = 'persistent://public/default/fsync-failure';

function eio(): NodeJS.ErrnoException {
  return Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO', errno: -5, syscall: 'fdatasync' });
}

export default function createHandler(): ProtocolHandler {
  let core: Core | null = null;
  return {
    name: 'failing-fsync',
    listeners: [{ id: 'failing-fsync', defaultPort: 17011, description: 'breaks fdatasync on its first connection (test handler)' }],
    async start(context) {
      core = context.core;
      if (!core.topics.list().includes(FAILING_FSYNC_TOPIC)) await core.topics.create(FAILING_FSYNC_TOPIC);
    },
    handleConnection(stream) {
      // fs-async and the journal look these up at call time (the journal's fdatasync, both paths).
      (fs as { fdatasync: unknown }).fdatasync = (_fd: number, callback: (error: Error) => void) => process.nextTick(callback, eio());
      (fs as { fdatasyncSync: unknown }).fdatasyncSync = () => {
        throw eio();
      };
      core!
        .append(FAILING_FSYNC_TOPIC, 0, { kind: 'messages', messages: [{ key: null, value: Buffer.from('acknowledged'), headers: [], timestamp: Date.now() }] })
        .then(
          () => stream.end('appended\n'),
          (error: unknown) => stream.end(`append failed: ${String(error)}\n`),
        );
    },
    advertise: () => [],
    close: async () => {},
  };
}

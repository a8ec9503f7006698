/**
 * Strata's MQTT handler alone in its own process, for the benchmark (so the load generator does not
 * share its event loop): a core in a temp dir (fsync `always`), the handler on 127.0.0.1:<port>.
 * Usage: node bench-server.js <port> [interval:<ms>]; prints "ready" when listening; SIGTERM closes it.
 */
// First: UV_THREADPOOL_SIZE as strata serve sets it (the script runs again with it when unset).
import './server-thread-pool.js';
import { createServer } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openCore, silentLogger, systemClock, tcpConnectionInfo } from '@strata/core';
import { BENCH_JOURNAL_FILE_BYTES, warmUpJournal } from '@strata/testing';
import { MqttHandler } from '../src/index.js';

const port = Number(process.argv[2]);
/** Optional: `interval:<ms>` group-commit fsync instead of the default `always`. */
const fsyncArg = process.argv[3];
const fsync = fsyncArg?.startsWith('interval:') ? { kind: 'interval' as const, intervalMs: Number(fsyncArg.slice(9)) } : { kind: 'always' as const };
const dataDir = await mkdtemp(join(tmpdir(), 'strata-mqtt-bench-'));
// STRATA_JOURNAL_IO=event-loop|thread-pool: another journal I/O mode than the default auto (CoreOptions.journalIo).
const requestedIo = process.env['STRATA_JOURNAL_IO'];
const journalIo = requestedIo === 'thread-pool' || requestedIo === 'event-loop' ? requestedIo : 'auto';
// The core's steady state (recycled journal files), as in a running server: @strata/testing warm-up-journal.ts.
// STRATA_BENCH_COLD=1 measures a fresh data directory instead.
const core = await openCore({ dataDir, fsync, journalIo }, { tuning: { journalFileBytesMax: BENCH_JOURNAL_FILE_BYTES } });
if (process.env['STRATA_BENCH_COLD'] !== '1') await warmUpJournal(core);
const handler = new MqttHandler();
const abort = new AbortController();
await handler.start({
  core,
  // STRATA_BENCH_MQTT_CONFIG='{"inflightMax":256}': the handler's `mqtt:` section, to compare settings.
  config: JSON.parse(process.env['STRATA_BENCH_MQTT_CONFIG'] ?? '{}') as Record<string, unknown>,
  logger: silentLogger,
  clock: systemClock,
  signal: abort.signal,
  listeners: new Map([['mqtt', { listenerId: 'mqtt', host: '127.0.0.1', port }]]),
  advertisedHost: '127.0.0.1',
});
const server = createServer((socket) => {
  socket.setNoDelay(true);
  handler.handleConnection(socket, tcpConnectionInfo('mqtt', socket));
});
server.maxConnections = 50_000;
server.listen(port, '127.0.0.1', () => process.stdout.write('ready\n'));

async function shutdown(): Promise<void> {
  server.close();
  await handler.close();
  await core.close();
  await rm(dataDir, { recursive: true, force: true });
  process.exit(0);
}
process.on('SIGTERM', () => void shutdown());
// "gc" on stdin: collect garbage so the benchmark's RSS reading is live memory (needs --expose-gc).
process.stdin.on('data', (chunk: Buffer) => {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (chunk.toString().includes('gc') && gc !== undefined) gc();
});
process.on('SIGINT', () => void shutdown());

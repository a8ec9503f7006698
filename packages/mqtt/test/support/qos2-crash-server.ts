/**
 * Child process of qos2-crash.test.ts: the MQTT handler on the real core in its own process, on a data
 * dir (argv[2]), TCP listener on 127.0.0.1 port 0. argv[3] picks where the process SIGKILLs itself:
 * - `after-append`: a persistent session's QoS 2 message is durable, its packet id not yet recorded;
 * - `before-append`: its in-doubt entry is durable, the append not yet started;
 * - `none`: runs until the parent stops it (SIGTERM closes gracefully, SIGKILL is a crash).
 * Prints "port <n>" and then "ready" once clients can connect.
 */
import fs from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { openCore, silentLogger, systemClock, tcpConnectionInfo, type BoundAddress } from '@strata/core';
import { MqttHandler, type MqttFaults } from '../../src/index.js';

/** Whatever the parent does, this process does not outlive it by much. */
const CHILD_LIFETIME_MS_MAX = 60_000;

const dataDir = process.argv[2]!;
const crashAt = process.argv[3] ?? 'none';
const crash = (): void => {
  fs.writeSync(1, `crash ${crashAt}\n`);
  process.kill(process.pid, 'SIGKILL');
};
const faults: MqttFaults = crashAt === 'after-append' ? { afterQos2Append: crash } : crashAt === 'before-append' ? { beforeQos2Append: crash } : {};

const core = await openCore({ dataDir, logger: silentLogger });
const handler = new MqttHandler({ faults });
const server = createServer((socket) => handler.handleConnection(socket, tcpConnectionInfo('mqtt', socket)));
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const port = (server.address() as AddressInfo).port;
const abort = new AbortController();
await handler.start({
  core,
  config: {},
  logger: silentLogger,
  clock: systemClock,
  signal: abort.signal,
  listeners: new Map<string, BoundAddress>([['mqtt', { listenerId: 'mqtt', host: '127.0.0.1', port }]]),
  advertisedHost: '127.0.0.1',
});
process.once('SIGTERM', () => {
  server.close();
  void handler
    .close()
    .then(() => core.close())
    .then(() => process.exit(0));
});
setTimeout(() => process.exit(3), CHILD_LIFETIME_MS_MAX).unref();
fs.writeSync(1, `port ${port}\nready\n`);

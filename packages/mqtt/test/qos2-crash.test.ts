/**
 * Inbound QoS 2 exactly once across a kill -9 of the server process (3.1.1 §4.3.3, MQTT 5 §4.3.3,
 * src/qos2-recovery.ts). An mqtt.js publisher with a persistent session sends one QoS 2 PUBLISH; the
 * server process (test/support/qos2-crash-server.ts) SIGKILLs itself at an exact point:
 * - after the append is durable and before the packet id is recorded: the re-send after the restart
 *   must NOT be stored again;
 * - after the in-doubt entry and before the append: the re-send MUST be stored, once.
 * The server then starts again on the same data dir, mqtt.js reconnects by itself (same client id,
 * clean=false) through a small TCP relay that follows the new process's port, and re-sends the
 * PUBLISH. The core topic and a persistent subscriber must each have the message exactly once.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { connect as netConnect, createServer, type AddressInfo, type Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import mqtt from 'mqtt';
import { decodeRecordBatch, openCore, silentLogger, type Core } from '@strata/core';
import { makeTempDir } from '@strata/testing';
import { packetIdsKey, type StoredPacketIds } from '../src/session-store.js';
import { collect, connect, endClient, sleep } from './harness.js';

const CHILD_SCRIPT = fileURLToPath(new URL('./support/qos2-crash-server.js', import.meta.url));
const MQTT_TOPIC = 'persistent://public/default/mqtt';
/** A child that neither gets ready nor dies by then is killed. */
const CHILD_GUARD_MS = 30_000;

interface Child {
  readonly port: number;
  readonly output: string[];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  kill(signal: NodeJS.Signals): void;
}

function startChild(dataDir: string, crashAt: 'after-append' | 'before-append' | 'none'): Promise<Child> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CHILD_SCRIPT, dataDir, crashAt], { stdio: ['ignore', 'pipe', 'pipe'] });
    const guard = setTimeout(() => child.kill('SIGKILL'), CHILD_GUARD_MS);
    const output: string[] = [];
    let stderr = '';
    let pending = '';
    let port = 0;
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((done) =>
      child.once('exit', (code, signal) => {
        clearTimeout(guard);
        done({ code, signal });
      }),
    );
    let ready = false;
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      pending += chunk;
      let newline: number;
      while ((newline = pending.indexOf('\n')) !== -1) {
        const line = pending.slice(0, newline);
        pending = pending.slice(newline + 1);
        output.push(line);
        if (line.startsWith('port ')) port = Number(line.slice(5));
        if (line === 'ready' && !ready) {
          ready = true;
          resolve({ port, output, exited, kill: (signal) => child.kill(signal) });
        }
      }
    });
    void exited.then((status) => {
      if (!ready) reject(new Error(`crash server exited before ready (${status.code}/${status.signal}): ${stderr}`));
    });
  });
}

/** A TCP relay on a fixed port of ours to whichever server process runs now, so mqtt.js can reconnect by itself. */
async function startRelay(): Promise<{ port: number; target: { port: number }; close(): Promise<void> }> {
  const target = { port: 0 };
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = netConnect(target.port, '127.0.0.1');
    sockets.add(client).add(upstream);
    const done = (): void => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    for (const s of [client, upstream]) {
      s.on('error', done);
      s.on('close', done);
    }
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    target,
    close: () =>
      new Promise((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** Opens the store in this process (the server is not running) and reads what the test checks. */
async function inspect(dataDir: string, clientId: string): Promise<{ payloads: string[]; packetIds: StoredPacketIds | null }> {
  const core: Core = await openCore({ dataDir, logger: silentLogger });
  try {
    const payloads: string[] = [];
    const { highWatermark } = core.offsets(MQTT_TOPIC, 0);
    if (highWatermark > 0) {
      const read = await core.read(MQTT_TOPIC, 0, { offset: 0, maxBytes: 1 << 20 });
      for (const entry of read.entries) for (const m of decodeRecordBatch(entry.bytes).messages) payloads.push(m.value?.toString() ?? '');
    }
    const stored = await core.metadata.get(packetIdsKey(clientId));
    return { payloads, packetIds: stored === null ? null : (JSON.parse(stored.value.toString()) as StoredPacketIds) };
  } finally {
    await core.close();
  }
}

for (const crashAt of ['after-append', 'before-append'] as const) {
  for (const protocolVersion of [4, 5] as const) {
    const name =
      crashAt === 'after-append'
        ? 'kill -9 between the QoS 2 append and its packet-id record: the re-send is not stored again'
        : 'kill -9 before the QoS 2 append: the re-send is stored, once';
    test(`${name} (mqtt.js, MQTT ${protocolVersion === 4 ? '3.1.1' : '5'})`, async (t) => {
      const dir = await makeTempDir('strata-mqtt-q2crash-');
      const relay = await startRelay();
      let child: Child | null = null;
      let publisher: mqtt.MqttClient | null = null;
      t.after(async () => {
        publisher?.end(true);
        child?.kill('SIGKILL');
        await child?.exited;
        await relay.close();
        await dir.remove();
      });
      const url = `mqtt://127.0.0.1:${relay.port}`;
      const sessionOptions = protocolVersion === 5 ? { protocolVersion, properties: { sessionExpiryInterval: 3600 } } : { protocolVersion };

      child = await startChild(dir.path, crashAt);
      relay.target.port = child.port;
      // A persistent subscriber: its cursor keeps what is published while it is away, across the restart.
      const watcher = await connect(url, { clientId: 'q2c-watcher', clean: false, ...sessionOptions });
      await watcher.subscribeAsync('q2c/#', { qos: 2 });
      await endClient(watcher);

      // reconnectPeriod: mqtt.js reconnects on its own and re-sends the unacknowledged QoS 2 PUBLISH.
      publisher = mqtt.connect(url, { clientId: 'q2c-pub', clean: false, reconnectPeriod: 100, connectTimeout: 2000, ...sessionOptions });
      publisher.on('error', () => {}); // refused reconnects while the server is down
      const completed = new Promise<Error | undefined>((resolve) => {
        publisher!.once('connect', () => publisher!.publish('q2c/x', 'exactly once', { qos: 2 }, (error) => resolve(error ?? undefined)));
      });
      const status = await child.exited;
      assert.equal(status.signal, 'SIGKILL', 'the server killed itself at the crash point');
      assert.ok(child.output.includes(`crash ${crashAt}`));

      // The crash state: in doubt, and the message stored or not, as intended.
      const crashed = await inspect(dir.path, 'q2c-pub');
      assert.deepEqual(crashed.payloads, crashAt === 'after-append' ? ['exactly once'] : []);
      assert.equal(crashed.packetIds?.inbound.length ?? 0, 0, 'the id was not recorded as stored');
      assert.deepEqual(
        crashed.packetIds?.inDoubt?.map((e) => e.topic),
        [MQTT_TOPIC],
        'the in-doubt entry was durable before the append',
      );

      child = await startChild(dir.path, 'none');
      relay.target.port = child.port;
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<Error>((resolve) => (timer = setTimeout(() => resolve(new Error('no PUBCOMP within 10 s of the restart')), 10_000)));
      const result = await Promise.race([completed, timeout]);
      clearTimeout(timer);
      assert.equal(result, undefined, 'mqtt.js completed the QoS 2 flow after reconnecting');
      await endClient(publisher);
      publisher = null;

      const back = await connect(url, { clientId: 'q2c-watcher', clean: false, ...sessionOptions });
      const got = collect(back);
      await got.wait(1);
      await sleep(300); // a duplicate would follow within this
      assert.deepEqual(got.messages.map((m) => m.payload.toString()), ['exactly once'], 'the subscriber got it exactly once');
      await endClient(back);

      child.kill('SIGTERM');
      assert.deepEqual(await child.exited, { code: 0, signal: null });
      const after = await inspect(dir.path, 'q2c-pub');
      assert.deepEqual(after.payloads, ['exactly once'], 'the core topic holds it exactly once');
    });
  }
}

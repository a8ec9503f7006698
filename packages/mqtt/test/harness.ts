/**
 * Test harness: the MQTT handler on a real core, with its two listeners bound on 127.0.0.1 port 0,
 * and helpers for mqtt.js clients. Restart = `stop()` then `startBroker({ dataDir })` again.
 */
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { silentLogger, systemClock, tcpConnectionInfo, type BoundAddress, type Core } from '@strata/core';
import { MqttHandler, type MqttFaults } from '../src/index.js';
import { openTestCore } from './test-core.js';

export interface TestBroker {
  readonly core: Core;
  readonly handler: MqttHandler;
  readonly port: number;
  readonly wsPort: number;
  readonly dataDir: string;
  readonly url: string;
  /** Stops handler, listeners and core (the data stays). */
  stop(): Promise<void>;
  /** stop() and delete the data. */
  close(): Promise<void>;
}

export interface StartOptions {
  readonly dataDir?: string;
  readonly config?: Record<string, unknown>;
  /** Crash-test injection points (src/faults.ts). */
  readonly faults?: MqttFaults;
}

function listen(server: Server): Promise<number> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)));
}

export async function startBroker(options: StartOptions = {}): Promise<TestBroker> {
  const dataDir = options.dataDir ?? (await mkdtemp(join(tmpdir(), 'strata-mqtt-')));
  const core = await openTestCore(dataDir);
  const handler = new MqttHandler(options.faults === undefined ? {} : { faults: options.faults });
  const sockets = new Set<Socket>();
  const track = (listenerId: string) => (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    handler.handleConnection(socket, tcpConnectionInfo(listenerId, socket));
  };
  const tcp = createServer(track('mqtt'));
  const ws = createServer(track('mqtt-ws'));
  const port = await listen(tcp);
  const wsPort = await listen(ws);
  const abort = new AbortController();
  const listeners = new Map<string, BoundAddress>([
    ['mqtt', { listenerId: 'mqtt', host: '127.0.0.1', port }],
    ['mqtt-ws', { listenerId: 'mqtt-ws', host: '127.0.0.1', port: wsPort }],
  ]);
  await handler.start({
    core,
    config: options.config ?? {},
    logger: silentLogger,
    clock: systemClock,
    signal: abort.signal,
    listeners,
    advertisedHost: '127.0.0.1',
  });
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    tcp.close();
    ws.close();
    await handler.close();
    for (const s of sockets) s.destroy();
    await core.close();
  };
  return {
    core,
    handler,
    port,
    wsPort,
    dataDir,
    url: `mqtt://127.0.0.1:${port}`,
    stop,
    async close() {
      await stop();
      if (options.dataDir === undefined) await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** Connects an mqtt.js client and waits for CONNACK; rejects on error or after 5 s. */
export function connect(url: string, options: IClientOptions = {}): Promise<MqttClient> {
  return new Promise((resolve, reject) => {
    const client = mqtt.connect(url, { reconnectPeriod: 0, connectTimeout: 5000, ...options });
    // Collect from the start: messages may arrive in the same read as the CONNACK.
    collectors.set(client, makeCollector(client));
    const timer = setTimeout(() => {
      client.end(true);
      reject(new Error('connect timeout'));
    }, 5000);
    client.once('connect', () => {
      clearTimeout(timer);
      resolve(client);
    });
    client.once('error', (error) => {
      clearTimeout(timer);
      client.end(true);
      reject(error);
    });
  });
}

export interface Received {
  readonly topic: string;
  readonly payload: Buffer;
  readonly packet: mqtt.IPublishPacket;
}

export interface Collector {
  readonly messages: Received[];
  wait(count: number, timeoutMs?: number): Promise<Received[]>;
}

const collectors = new WeakMap<MqttClient, Collector>();

/** Messages received by a client since it connected; `wait(n)` waits (bounded) for the n-th. */
export function collect(client: MqttClient): Collector {
  return collectors.get(client) ?? makeCollector(client);
}

function makeCollector(client: MqttClient): Collector {
  const messages: Received[] = [];
  const waiters: { count: number; resolve: () => void }[] = [];
  client.on('message', (topic, payload, packet) => {
    messages.push({ topic, payload, packet });
    for (const w of waiters) if (messages.length >= w.count) w.resolve();
  });
  return {
    messages,
    wait(count, timeoutMs = 5000) {
      if (messages.length >= count) return Promise.resolve(messages);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`timed out with ${messages.length}/${count} messages`)), timeoutMs);
        waiters.push({
          count,
          resolve: () => {
            clearTimeout(timer);
            resolve(messages);
          },
        });
      });
    },
  };
}

export function endClient(client: MqttClient, force = false): Promise<void> {
  return new Promise((resolve) => client.end(force, {}, () => resolve()));
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

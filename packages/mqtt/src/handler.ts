/**
 * The MQTT protocol handler (MoP): listeners `mqtt` (1883) and `mqtt-ws` (8083, WebSocket on /mqtt),
 * one Broker over the core, one Connection per client stream. docs/protocols/mqtt.md describes it.
 */
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import {
  tcpConnectionInfo,
  type AdvertisedListener,
  type ConnectionInfo,
  type HandlerContext,
  type ListenerSpec,
  type Logger,
  type ProtocolHandler,
} from '@strata/core';
import { Broker } from './broker.js';
import { parseMqttConfig } from './config.js';
import { Connection } from './connection.js';
import { NO_FAULTS, type MqttFaults } from './faults.js';
import { WebSocketAdapter } from './websocket.js';

export const MQTT_LISTENERS: readonly ListenerSpec[] = [
  { id: 'mqtt', defaultPort: 1883, description: 'MQTT 3.1, 3.1.1 and 5.0 over TCP' },
  { id: 'mqtt-ws', defaultPort: 8083, description: 'MQTT over WebSocket, path /mqtt' },
];

export class MqttHandler implements ProtocolHandler {
  readonly name = 'mqtt';
  readonly listeners = MQTT_LISTENERS;
  private context: HandlerContext | null = null;
  private broker: Broker | null = null;
  private websocket: WebSocketAdapter | null = null;
  private logger: Logger | null = null;
  private closed = false;

  /** `faults`: crash-test injection points (faults.ts); none in production. */
  constructor(private readonly options: { readonly faults?: MqttFaults } = {}) {}

  async start(context: HandlerContext): Promise<void> {
    this.context = context;
    this.logger = context.logger;
    const config = parseMqttConfig(context.config);
    const broker = new Broker(context.core, config, context.logger, context.clock, this.options.faults ?? NO_FAULTS);
    await broker.start();
    this.broker = broker;
    this.websocket = new WebSocketAdapter((stream, request) => {
      const socket = request.socket;
      this.accept(stream, tcpConnectionInfo('mqtt-ws', socket));
    }, config.packetBytesMax + 8);
    context.signal.addEventListener('abort', () => void this.close(), { once: true });
  }

  handleConnection(stream: Duplex, info: ConnectionInfo): void {
    try {
      if (this.broker === null || this.closed) {
        stream.destroy();
        return;
      }
      // Small packets (PUBACK, PINGRESP) must not wait for Nagle's algorithm; writes are corked per tick anyway.
      (stream as Partial<Socket>).setNoDelay?.(true);
      if (info.listenerId === 'mqtt-ws') this.websocket!.handle(stream);
      else this.accept(stream, info);
    } catch (error) {
      this.logger?.warn('connection setup failed', { error });
      stream.destroy();
    }
  }

  private accept(stream: Duplex, info: ConnectionInfo): void {
    const broker = this.broker;
    if (broker === null || this.closed) {
      stream.destroy();
      return;
    }
    const connection = new Connection(stream, broker, info, broker.logger);
    broker.connections.add(connection);
  }

  advertise(): AdvertisedListener[] {
    const context = this.context;
    if (context === null) return [];
    const out: AdvertisedListener[] = [];
    for (const spec of this.listeners) {
      const bound = context.listeners.get(spec.id);
      if (bound !== undefined) out.push({ listenerId: spec.id, protocol: spec.id === 'mqtt' ? 'mqtt' : 'mqtt+ws', host: context.advertisedHost, port: bound.port });
    }
    return out;
  }

  /** For tests and benchmarks. */
  get stats(): Broker['stats'] | null {
    return this.broker?.stats ?? null;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.websocket?.close();
    await this.broker?.close();
  }
}

export function createMqttHandler(): ProtocolHandler {
  return new MqttHandler();
}

/**
 * A raw MQTT client for wire-level tests: writes packets or bytes, parses what the server sends.
 */
import { connect as netConnect, type Socket } from 'node:net';
import * as mqttPacket from 'mqtt-packet';

export interface RawClient {
  readonly socket: Socket;
  readonly packets: mqttPacket.Packet[];
  send(packet: mqttPacket.Packet): void;
  write(bytes: Buffer): void;
  /** Waits (bounded) for the next packet of this type not yet returned. */
  next(cmd: mqttPacket.PacketCmd, timeoutMs?: number): Promise<mqttPacket.Packet>;
  /** Resolves when the server closed the connection. */
  readonly closed: Promise<void>;
  end(): void;
}

export async function rawConnect(port: number, protocolVersion: 3 | 4 | 5 = 4, options: { autoAck?: boolean } = {}): Promise<RawClient> {
  const autoAck = options.autoAck ?? true;
  const socket = netConnect(port, '127.0.0.1');
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  socket.on('error', () => {});
  const parser = mqttPacket.parser({ protocolVersion });
  const packets: mqttPacket.Packet[] = [];
  const consumed = new Set<mqttPacket.Packet>();
  let wake: (() => void) | null = null;
  parser.on('packet', (p: mqttPacket.Packet) => {
    // acknowledge deliveries like a real client (unless the test does it by hand)
    if (autoAck && p.cmd === 'publish' && p.qos === 1) socket.write(mqttPacket.generate({ cmd: 'puback', messageId: p.messageId! }, { protocolVersion }));
    if (autoAck && p.cmd === 'publish' && p.qos === 2) socket.write(mqttPacket.generate({ cmd: 'pubrec', messageId: p.messageId! }, { protocolVersion }));
    if (autoAck && p.cmd === 'pubrel') socket.write(mqttPacket.generate({ cmd: 'pubcomp', messageId: p.messageId! }, { protocolVersion }));
    packets.push(p);
    wake?.();
  });
  parser.on('error', () => {});
  socket.on('data', (chunk: Buffer) => parser.parse(chunk));
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  return {
    socket,
    packets,
    closed,
    send: (packet) => socket.write(mqttPacket.generate(packet, { protocolVersion })),
    write: (bytes) => socket.write(bytes),
    async next(cmd, timeoutMs = 3000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const found = packets.find((p) => p.cmd === cmd && !consumed.has(p));
        if (found !== undefined) {
          consumed.add(found);
          return found;
        }
        const remaining = deadline - Date.now();
        if (remaining <= 0) throw new Error(`no ${cmd} within ${timeoutMs} ms (got ${packets.map((p) => p.cmd).join(',')})`);
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, remaining);
          wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
      }
    },
    end: () => socket.destroy(),
  };
}

export function connectPacket(clientId: string, protocolVersion: 3 | 4 | 5 = 4, extra: Partial<mqttPacket.IConnectPacket> = {}): mqttPacket.IConnectPacket {
  return {
    cmd: 'connect',
    protocolId: protocolVersion === 3 ? 'MQIsdp' : 'MQTT',
    protocolVersion,
    clientId,
    clean: true,
    keepalive: 0,
    ...extra,
  };
}

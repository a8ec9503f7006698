/**
 * UNSUBSCRIBE → UNSUBACK (3.1.1 §3.10/§3.11, MQTT 5 §3.10/§3.11). MQTT 5 answers per filter: 0x00, or
 * 0x11 "no subscription existed".
 */
import type { IUnsubackPacket, IUnsubscribePacket } from 'mqtt-packet';
import type { Connection } from '../connection.js';
import { RC } from '../reason-codes.js';

export async function handleUnsubscribe(conn: Connection, packet: IUnsubscribePacket): Promise<void> {
  const existed = await conn.broker.unsubscribe(conn.session!, packet.unsubscriptions);
  if (conn.closed) return;
  const unsuback: IUnsubackPacket =
    conn.protocolVersion === 5
      ? { cmd: 'unsuback', messageId: packet.messageId!, granted: existed.map((e) => (e ? RC.success : RC.noSubscriptionExisted)) }
      : { cmd: 'unsuback', messageId: packet.messageId!, granted: [] };
  conn.send(unsuback);
}

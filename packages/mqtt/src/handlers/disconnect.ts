/**
 * DISCONNECT from the client (3.1.1 §3.14, MQTT 5 §3.14): the will is discarded [MQTT-3.14.4-3] unless
 * MQTT 5 reason 0x04; MQTT 5 may change the session expiry, but not from 0 to non-zero [MQTT-3.14.2-2].
 */
import type { IDisconnectPacket } from 'mqtt-packet';
import type { Connection } from '../connection.js';
import { RC } from '../reason-codes.js';

export function handleDisconnect(conn: Connection, packet: IDisconnectPacket): void {
  const session = conn.session!;
  const expiry = packet.properties?.sessionExpiryInterval;
  if (conn.protocolVersion === 5 && expiry !== undefined) {
    if (session.expirySeconds === 0 && expiry > 0) return conn.close('session expiry set after 0', RC.protocolError);
    session.expirySeconds = Math.min(expiry, conn.broker.config.sessionExpirySecondsMax);
  }
  conn.disconnectedByClient(packet.reasonCode === RC.disconnectWithWill);
}

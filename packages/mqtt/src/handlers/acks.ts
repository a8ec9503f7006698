/**
 * PUBACK, PUBREC, PUBREL, PUBCOMP (3.1.1 §3.4-3.7, MQTT 5 §3.4-3.7, QoS flows §4.3).
 */
import type { IPubackPacket, IPubcompPacket, IPubrecPacket, IPubrelPacket } from 'mqtt-packet';
import type { Connection } from '../connection.js';
import { RC } from '../reason-codes.js';

/** Outbound QoS 1 done. */
export function handlePuback(conn: Connection, packet: IPubackPacket): void {
  conn.completeDelivery(packet.messageId!, 1);
}

/** Outbound QoS 2, step 2: answer PUBREL (3.1.1 §4.3.3, MQTT 5 §4.3.3); a failing reason code (MQTT 5) ends the flow. */
export function handlePubrec(conn: Connection, packet: IPubrecPacket): void {
  const id = packet.messageId!;
  if ((packet.reasonCode ?? 0) >= 0x80) {
    conn.completeDelivery(id, 2);
    return;
  }
  const known = conn.releaseDelivery(id);
  conn.sendAck('pubrel', id, known ? RC.success : RC.packetIdentifierNotFound);
}

/** Outbound QoS 2 done. */
export function handlePubcomp(conn: Connection, packet: IPubcompPacket): void {
  conn.completeDelivery(packet.messageId!, 2);
}

/** Inbound QoS 2, step 3: the packet id may be reused; answer PUBCOMP (3.1.1 §4.3.3, MQTT 5 §4.3.3). */
export function handlePubrel(conn: Connection, packet: IPubrelPacket): void {
  const id = packet.messageId!;
  const session = conn.session!;
  const state = session.inboundQos2.get(id);
  if (state === false) {
    // Still being stored: PUBREL before PUBREC is a protocol violation by the client; let it finish.
    return;
  }
  if (session.inboundQos2.delete(id)) conn.completeInboundQos2(id);
  else conn.sendAck('pubcomp', id, RC.packetIdentifierNotFound);
}

/**
 * Inbound PUBLISH (3.1.1 §3.3, MQTT 5 §3.3): topic alias resolution, topic validation, QoS 2
 * duplicate suppression and the MQTT 5 Receive Maximum, then the batched, durable append
 * (Connection.flushPublishes sends PUBACK/PUBREC only once the core has the message).
 */
import type { IPublishPacket } from 'mqtt-packet';
import type { Connection } from '../connection.js';
import { RC } from '../reason-codes.js';
import { isValidTopicName } from '../topic.js';

export function handlePublish(conn: Connection, packet: IPublishPacket): void {
  const config = conn.broker.config;
  const session = conn.session!;
  if (conn.protocolVersion === 5) {
    const alias = packet.properties?.topicAlias;
    if (alias !== undefined) {
      if (alias === 0 || alias > config.topicAliasMax) return conn.close('topic alias out of range', RC.topicAliasInvalid); // [MQTT-3.3.2-9]
      if (packet.topic.length > 0) conn.inboundAliases.set(alias, packet.topic);
      else {
        const topic = conn.inboundAliases.get(alias);
        if (topic === undefined) return conn.close('unknown topic alias', RC.protocolError);
        packet.topic = topic;
      }
      delete packet.properties!.topicAlias;
    }
    if (packet.properties?.subscriptionIdentifier !== undefined) {
      return conn.close('subscription identifier on PUBLISH', RC.protocolError); // [MQTT-3.3.4-6]
    }
  }
  // A publisher mostly repeats its topic (often the very same string, see Connection.inboundTopics):
  // the limits are fixed, so a topic valid once is valid again.
  if (packet.topic !== conn.lastValidTopic) {
    if (!isValidTopicName(packet.topic, config)) {
      // 3.1.1 has no way to refuse a PUBLISH but closing [MQTT-3.3.2-2].
      return conn.close(`invalid topic name`, RC.topicNameInvalid);
    }
    conn.lastValidTopic = packet.topic;
  }
  if (packet.qos === 2) {
    const state = session.inboundQos2.get(packet.messageId!);
    if (state !== undefined) {
      // A re-sent QoS 2 PUBLISH we already have: acknowledge again, do not store twice (3.1.1 §4.3.3, MQTT 5 §4.3.3).
      if (state) conn.acknowledgeStoredQos2(packet.messageId!);
      return;
    }
  }
  if (packet.qos > 0 && conn.protocolVersion === 5 && conn.inboundAppending + session.inboundQos2.size >= config.inflightMax) {
    return conn.close('receive maximum exceeded', RC.receiveMaximumExceeded); // MQTT 5 §3.3.4 flow control
  }
  // Authorization (mqtt.acl): nothing stored; MQTT 5 says so with 0x87, 3.1.1 cannot [MQTT-3.3.5-2].
  if (!conn.broker.acl.allowsEverything && !conn.mayAccess(packet.topic, 'write')) return conn.refusePublish(packet);
  if (packet.qos === 2) session.inboundQos2.set(packet.messageId!, false);
  conn.queuePublish(packet);
}

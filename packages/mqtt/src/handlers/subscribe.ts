/**
 * SUBSCRIBE → SUBACK, then retained messages (3.1.1 §3.8/§3.9, MQTT 5 §3.8/§3.9): filter validation,
 * shared subscriptions, subscription options (no-local, retain-as-published, retain handling) and
 * subscription identifiers. The session's subscriptions are durable (metadata store) before SUBACK.
 */
import type { ISubackPacket, ISubscribePacket } from 'mqtt-packet';
import type { Connection } from '../connection.js';
import { RC, SUBACK_FAILURE_V3 } from '../reason-codes.js';
import type { SessionSubscription } from '../session.js';
import { isValidTopicFilter, parseSharedFilter } from '../topic.js';

export async function handleSubscribe(conn: Connection, packet: ISubscribePacket): Promise<void> {
  const broker = conn.broker;
  const config = broker.config;
  const session = conn.session!;
  const v5 = conn.protocolVersion === 5;
  const subscriptionId = v5 ? packet.properties?.subscriptionIdentifier : undefined;
  if (subscriptionId === 0) return conn.close('subscription identifier 0', RC.protocolError); // MQTT 5 §3.8.2.1.2

  const codes: number[] = [];
  const accepted: { sub: SessionSubscription; index: number }[] = [];
  let added = 0;
  for (const s of packet.subscriptions) {
    const shared = parseSharedFilter(s.topic);
    const filter = shared === null || shared === 'invalid' ? s.topic : shared.filter;
    if (shared === 'invalid' || !isValidTopicFilter(filter, config)) {
      codes.push(v5 ? RC.topicFilterInvalid : SUBACK_FAILURE_V3);
      continue;
    }
    if (shared !== null && s.nl) return conn.close('no-local on a shared subscription', RC.protocolError); // [MQTT-3.8.3-4]
    // Authorization (mqtt.acl): 3.1.1 has one failure code [MQTT-3.9.3-2]; MQTT 5 says why.
    if (!broker.acl.allowsEverything && !broker.acl.maySubscribe({ user: conn.username, clientId: conn.clientId }, filter)) {
      codes.push(v5 ? RC.notAuthorized : SUBACK_FAILURE_V3);
      continue;
    }
    if (!session.subscriptions.has(s.topic) && session.subscriptions.size + added >= config.subscriptionsMax) {
      codes.push(v5 ? RC.quotaExceeded : SUBACK_FAILURE_V3);
      continue;
    }
    added++;
    const sub: SessionSubscription = {
      filter: s.topic,
      qos: s.qos,
      noLocal: v5 && s.nl === true,
      retainAsPublished: v5 && s.rap === true,
      retainHandling: (v5 ? (s.rh ?? 0) : 0) as 0 | 1 | 2,
      ...(subscriptionId !== undefined ? { subscriptionId } : {}),
      shared,
    };
    accepted.push({ sub, index: codes.length });
    codes.push(s.qos); // granted QoS = requested; we support QoS 2 (3.1.1 §3.9.3)
  }

  const existed = accepted.length === 0 ? [] : await broker.subscribe(session, accepted.map((a) => a.sub));
  if (conn.closed) return;
  const suback: ISubackPacket = { cmd: 'suback', messageId: packet.messageId!, granted: codes };
  conn.send(suback);

  // Retained messages after the SUBACK [MQTT-3.3.1-6], with RETAIN set [MQTT-3.3.1-8]; not for shared
  // subscriptions (MQTT 5 §4.8.2); retain handling 1 = only for a new subscription, 2 = never.
  for (let i = 0; i < accepted.length; i++) {
    const { sub } = accepted[i]!;
    if (sub.shared !== null || sub.retainHandling === 2 || (sub.retainHandling === 1 && existed[i])) continue;
    for (const view of broker.retainedFor(sub.filter)) {
      const ids = sub.subscriptionId === undefined ? null : [sub.subscriptionId];
      // Past the connection's queue the rest are not sent: a subscription to '#' must not pull every
      // retained message into memory at once.
      if (!conn.deliver(view, Math.min(view.qos, sub.qos) as 0 | 1 | 2, true, ids, false, null)) broker.stats.droppedRetained++;
    }
  }
}

/**
 * CONNECT → CONNACK (3.1.1 §3.1/§3.2, MQTT 5 §3.1/§3.2): protocol level, client identifier rules per
 * version, will, session expiry, keep-alive, the client's limits, and the session (new, resumed or
 * taken over) from the broker.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type { IConnackPacket, IConnectPacket, IPublishPacket } from 'mqtt-packet';
import { SESSION_EXPIRY_NEVER } from '../broker.js';
import type { Connection } from '../connection.js';
import { CONNACK_V3, RC } from '../reason-codes.js';
import { isValidTopicName } from '../topic.js';
import { passwordMatches, SCRYPT_BLOCK_SIZE_DEFAULT, SCRYPT_COST_DEFAULT, SCRYPT_PARALLELISM_DEFAULT, type PasswordHash } from '../auth/password-hash.js';
import { passwordChecks } from '@strata/core';

/** What an unknown user's password is checked against (never matches): the refusal takes as long as a wrong password. */
const STAND_IN_HASH: PasswordHash = {
  cost: SCRYPT_COST_DEFAULT,
  blockSize: SCRYPT_BLOCK_SIZE_DEFAULT,
  parallelism: SCRYPT_PARALLELISM_DEFAULT,
  salt: randomBytes(16),
  hash: randomBytes(32),
};

/** MQTT 3.1 limits client ids to 23 characters (3.1 §3.1 "Client Identifier"). */
const MQTT31_CLIENT_ID_CHARS_MAX = 23;

/**
 * Peeks at a first chunk holding a CONNECT with a protocol level we do not speak, which mqtt-packet
 * cannot parse: the server answers CONNACK 0x01 and closes [MQTT-3.1.2-2].
 */
export function unsupportedProtocolLevel(chunk: Buffer): boolean {
  if (chunk.length < 2 || chunk[0] !== 0x10) return false;
  let i = 1;
  while (i < chunk.length && i < 5 && (chunk[i]! & 0x80) !== 0) i++;
  i++;
  if (i + 2 > chunk.length) return false;
  const nameLength = chunk.readUInt16BE(i);
  const levelAt = i + 2 + nameLength;
  if (levelAt >= chunk.length) return false;
  const name = chunk.toString('latin1', i + 2, levelAt);
  if (name !== 'MQTT' && name !== 'MQIsdp') return false;
  const level = chunk[levelAt]! & 0x7f; // 0x80: bridge bit (mosquitto bridges)
  return level !== 3 && level !== 4 && level !== 5;
}

function refuse(conn: Connection, v5Code: number, v3Code: number, reason: string): void {
  const packet: IConnackPacket =
    conn.protocolVersion === 5
      ? { cmd: 'connack', sessionPresent: false, reasonCode: v5Code }
      : { cmd: 'connack', sessionPresent: false, returnCode: v3Code };
  conn.send(packet);
  conn.close(reason);
}

export async function handleConnect(conn: Connection, packet: IConnectPacket): Promise<void> {
  const broker = conn.broker;
  const config = broker.config;
  const version = (packet.protocolVersion ?? 4) as 3 | 4 | 5;
  conn.protocolVersion = version;
  (conn as unknown as { parser: { settings: { protocolVersion: number } } }).parser.settings.protocolVersion = version;
  const props = packet.properties ?? {};

  if (broker.connections.size > config.connectionsMax) {
    return refuse(conn, RC.quotaExceeded, CONNACK_V3.serverUnavailable, 'connection limit');
  }
  if (props.authenticationMethod !== undefined) {
    return refuse(conn, RC.badAuthenticationMethod, CONNACK_V3.serverUnavailable, 'enhanced authentication not supported');
  }
  if (props.receiveMaximum === 0 || props.maximumPacketSize === 0) {
    return refuse(conn, RC.protocolError, CONNACK_V3.serverUnavailable, 'zero receive maximum or packet size'); // MQTT 5 §3.1.2.11
  }

  // Client identifier.
  let clientId = packet.clientId;
  let assigned = false;
  if (clientId.length === 0) {
    if (version === 3) return refuse(conn, 0, CONNACK_V3.identifierRejected, 'empty client id (3.1)');
    if (version === 4 && !packet.clean) {
      return refuse(conn, 0, CONNACK_V3.identifierRejected, 'empty client id with cleanSession=0'); // [MQTT-3.1.3-8]
    }
    clientId = `strata-${randomUUID()}`; // [MQTT-3.1.3-6]; MQTT 5 returns it as Assigned Client Identifier
    assigned = true;
  }
  if (Buffer.byteLength(clientId) > config.clientIdBytesMax || (version === 3 && clientId.length > MQTT31_CLIENT_ID_CHARS_MAX)) {
    return refuse(conn, RC.clientIdentifierNotValid, CONNACK_V3.identifierRejected, 'client id too long');
  }

  // Authentication (mqtt.users, mqtt.allowAnonymous, mqtt.certificateUsername; docs/protocols/mqtt.md "Authentication").
  if (version !== 5 && packet.username === undefined && packet.password !== undefined) {
    return conn.close('password without a user name', RC.protocolError); // [MQTT-3.1.2-22]
  }
  // A verified client certificate, when configured to, is the login: its name replaces the
  // CONNECT user name, and no password is asked (mosquitto's use_identity_as_username).
  const certificateUser = certificateUsernameOf(config.certificateUsername, conn.info.peerCertificateSubject);
  const username = certificateUser ?? packet.username;
  if (certificateUser === null && (config.users.size > 0 || !config.allowAnonymous)) {
    if (username === undefined) {
      if (!config.allowAnonymous) return refuse(conn, RC.notAuthorized, CONNACK_V3.notAuthorized, 'anonymous connection refused');
    } else {
      const stored = config.users.get(username);
      const password = packet.password === undefined ? '' : packet.password.toString('utf8');
      const matches = await passwordChecks.run(() => passwordMatches(stored ?? STAND_IN_HASH, password));
      if (conn.closed) return;
      if (matches === 'busy') return refuse(conn, RC.serverUnavailable, CONNACK_V3.serverUnavailable, 'too many logins being checked');
      if (stored === undefined || packet.password === undefined || !matches) {
        return refuse(conn, RC.badUserNameOrPassword, CONNACK_V3.badUserNameOrPassword, 'bad user name or password');
      }
    }
  }
  conn.username = username ?? null;

  // Will.
  let will: { packet: IPublishPacket; delaySeconds: number } | null = null;
  if (packet.will !== undefined) {
    const w = packet.will;
    if (!isValidTopicName(w.topic, config)) {
      return refuse(conn, RC.topicNameInvalid, CONNACK_V3.serverUnavailable, 'invalid will topic');
    }
    if (!broker.acl.allowsEverything && !broker.acl.allows({ user: conn.username, clientId }, w.topic, 'write')) {
      return refuse(conn, RC.notAuthorized, CONNACK_V3.notAuthorized, 'will topic not authorized');
    }
    const { willDelayInterval, ...willProps } = w.properties ?? {};
    will = {
      packet: {
        cmd: 'publish',
        topic: w.topic,
        payload: typeof w.payload === 'string' ? Buffer.from(w.payload) : w.payload,
        qos: w.qos ?? 0,
        retain: w.retain ?? false,
        dup: false,
        ...(version === 5 && Object.keys(willProps).length > 0 ? { properties: willProps } : {}),
      },
      delaySeconds: version === 5 ? (willDelayInterval ?? 0) : 0,
    };
  }

  // Session expiry: 3.1.1 cleanSession=0 sessions never expire (capped by config); MQTT 5 asks.
  let expirySeconds: number;
  if (version === 5) expirySeconds = props.sessionExpiryInterval ?? 0;
  else expirySeconds = packet.clean ? 0 : SESSION_EXPIRY_NEVER;
  const expiryCapped = expirySeconds > config.sessionExpirySecondsMax;
  if (expiryCapped) expirySeconds = config.sessionExpirySecondsMax;

  // Keep-alive, possibly overridden by the server (MQTT 5 Server Keep Alive).
  let keepAlive = packet.keepalive ?? 0;
  let serverKeepAlive: number | undefined;
  if (config.keepAliveSecondsMax > 0 && (keepAlive === 0 || keepAlive > config.keepAliveSecondsMax)) {
    keepAlive = config.keepAliveSecondsMax;
    serverKeepAlive = keepAlive;
  }
  conn.keepAliveSeconds = keepAlive;
  conn.sendQuota = Math.min(props.receiveMaximum ?? 65535, config.inflightMax);
  conn.clientPacketBytesMax = props.maximumPacketSize ?? Number.POSITIVE_INFINITY;
  conn.clientTopicAliasMax = props.topicAliasMaximum ?? 0;
  conn.clientId = clientId;

  const { session, sessionPresent } = await broker.connect(conn, {
    clientId,
    protocolVersion: version,
    cleanStart: packet.clean ?? true,
    expirySeconds,
    will,
  });
  if (conn.closed) {
    // The socket went away while the session was being set up.
    broker.connectionClosed(conn, session, false);
    return;
  }
  conn.session = session;

  const connack: IConnackPacket = { cmd: 'connack', sessionPresent };
  if (version === 5) {
    connack.reasonCode = RC.success;
    connack.properties = {
      receiveMaximum: config.inflightMax,
      maximumPacketSize: config.packetBytesMax,
      topicAliasMaximum: config.topicAliasMax,
      retainAvailable: true,
      wildcardSubscriptionAvailable: true,
      subscriptionIdentifiersAvailable: true,
      sharedSubscriptionAvailable: true,
      ...(assigned ? { assignedClientIdentifier: clientId } : {}),
      ...(serverKeepAlive !== undefined ? { serverKeepAlive } : {}),
      ...(expiryCapped ? { sessionExpiryInterval: expirySeconds } : {}),
    };
  } else {
    connack.returnCode = CONNACK_V3.accepted;
  }
  conn.send(connack);
  conn.connected();
}

/**
 * The user a verified client certificate names under `mode`, or null (no certificate, or `none`).
 * `subject` is RFC 2253 (`CN=alice,OU=eng`); `cn` its first CN value, unescaped.
 */
export function certificateUsernameOf(mode: 'none' | 'cn' | 'subject', subject: string | undefined): string | null {
  if (mode === 'none' || subject === undefined || subject === '') return null;
  if (mode === 'subject') return subject;
  const cn = /(?:^|,)CN=((?:\\.|[^,\\])*)/.exec(subject);
  return cn ? cn[1]!.replace(/\\(.)/g, '$1') : null;
}

/**
 * Durable state of persistent sessions in the core MetadataStore (not memory), one key per client id:
 * `/mqtt/sessions/<encoded client id>` → JSON. The queued messages themselves are not here: they are the
 * backlog of the session's durable core subscriptions.
 *
 * A persistent session's QoS 2 packet ids in the middle of a flow live under their own key,
 * `/mqtt/packet-ids/<encoded client id>`, because they change per message and the session record
 * (with up to `subscriptionsMax` subscriptions) does not: see StoredPacketIds.
 */
import type { MetadataStore } from '@strata/core';

export const SESSIONS_PATH = '/mqtt/sessions';
export const PACKET_IDS_PATH = '/mqtt/packet-ids';

export interface StoredSubscription {
  readonly filter: string;
  readonly qos: 0 | 1 | 2;
  readonly noLocal: boolean;
  readonly retainAsPublished: boolean;
  readonly retainHandling: 0 | 1 | 2;
  readonly subscriptionId?: number;
}

/** A will kept with a persistent session, so a server crash does not lose it. */
export interface StoredWill {
  readonly topic: string;
  readonly payloadBase64: string;
  readonly qos: 0 | 1 | 2;
  readonly retain: boolean;
  readonly delaySeconds: number;
  /** MQTT 5 will properties; correlation data as base64. */
  readonly properties?: Record<string, unknown>;
}

export interface StoredSession {
  readonly clientId: string;
  readonly protocolVersion: 3 | 4 | 5;
  /** Seconds after disconnect; 0xFFFFFFFF = never. */
  readonly expirySeconds: number;
  /** Set while disconnected; the session expires at disconnectedAtMs + expirySeconds. */
  readonly disconnectedAtMs: number | null;
  readonly subscriptions: readonly StoredSubscription[];
  readonly will?: StoredWill | null;
}

/**
 * QoS 2 packet ids a persistent session must remember across a server restart (3.1.1 §4.3.3, MQTT 5 §4.3.3).
 * `inbound`: PUBLISHes we stored and sent PUBREC for, awaiting the client's PUBREL; a re-sent PUBLISH
 * with one of these ids is answered with PUBREC and not stored again [MQTT-4.3.3-2] Method B.
 * `outbound`: deliveries the client PUBREC'd, awaiting its PUBCOMP; PUBREL is re-sent on resume [MQTT-4.4.0-1].
 */
export interface StoredPacketIds {
  readonly inbound: readonly number[];
  readonly outbound: readonly number[];
  /**
   * Inbound QoS 2 PUBLISHes whose append may have happened but whose id is not in `inbound` yet: written
   * before the append, removed with the write that adds the id to `inbound` (qos2-recovery.ts).
   */
  readonly inDoubt?: readonly InDoubtPublish[];
}

/**
 * "Packet id `id` of this session may be stored in core partition `topic`/`partition` at `fromOffset` or
 * later": the partition's log end when the entry was written, before the append was started. The
 * message carries its publisher and packet id as headers (`mqtt.publisher`, `mqtt.packet-id`), so after
 * a crash the log itself says whether the append happened.
 */
export interface InDoubtPublish {
  readonly id: number;
  readonly topic: string;
  readonly partition: number;
  readonly fromOffset: number;
}

const NO_PACKET_IDS: StoredPacketIds = { inbound: [], outbound: [], inDoubt: [] };

export function sessionKey(clientId: string): string {
  return `${SESSIONS_PATH}/${encodeURIComponent(clientId)}`;
}

export function packetIdsKey(clientId: string): string {
  return `${PACKET_IDS_PATH}/${encodeURIComponent(clientId)}`;
}

function isPacketId(id: unknown): id is number {
  return typeof id === 'number' && Number.isInteger(id) && id >= 1 && id <= 65535;
}

function isInDoubtPublish(entry: unknown): entry is InDoubtPublish {
  if (typeof entry !== 'object' || entry === null) return false;
  const e = entry as Partial<InDoubtPublish>;
  return (
    isPacketId(e.id) &&
    typeof e.topic === 'string' &&
    Number.isSafeInteger(e.partition) &&
    e.partition! >= 0 &&
    Number.isSafeInteger(e.fromOffset) &&
    e.fromOffset! >= 0
  );
}

export class SessionStore {
  constructor(private readonly metadata: MetadataStore) {}

  async load(clientId: string): Promise<StoredSession | null> {
    const value = await this.metadata.get(sessionKey(clientId));
    return value === null ? null : parse(value.value);
  }

  async save(session: StoredSession): Promise<void> {
    await this.metadata.put(sessionKey(session.clientId), Buffer.from(JSON.stringify(session)));
  }

  /** Deletes the session record and its packet ids. */
  async delete(clientId: string): Promise<void> {
    await Promise.all([this.deleteKey(sessionKey(clientId)), this.deleteKey(packetIdsKey(clientId))]);
  }

  private async deleteKey(key: string): Promise<void> {
    try {
      await this.metadata.delete(key);
    } catch (error) {
      if ((error as { code?: string }).code !== 'NOT_FOUND') throw error;
    }
  }

  /** The stored QoS 2 packet ids of a session (none if nothing, or nothing readable, is stored). */
  async loadPacketIds(clientId: string): Promise<StoredPacketIds> {
    const value = await this.metadata.get(packetIdsKey(clientId));
    if (value === null) return NO_PACKET_IDS;
    try {
      const parsed = JSON.parse(value.value.toString()) as Partial<StoredPacketIds>;
      const inbound = Array.isArray(parsed.inbound) ? parsed.inbound.filter(isPacketId) : [];
      const outbound = Array.isArray(parsed.outbound) ? parsed.outbound.filter(isPacketId) : [];
      const inDoubt = Array.isArray(parsed.inDoubt) ? parsed.inDoubt.filter(isInDoubtPublish) : [];
      return { inbound, outbound, inDoubt };
    } catch {
      return NO_PACKET_IDS;
    }
  }

  /**
   * Replaces a session's stored packet ids; an empty set deletes the key. Durable when it resolves.
   * The metadata store applies puts and deletes in call order, so the last call wins.
   */
  async savePacketIds(clientId: string, ids: StoredPacketIds): Promise<void> {
    if (ids.inbound.length === 0 && ids.outbound.length === 0 && (ids.inDoubt?.length ?? 0) === 0) return this.deleteKey(packetIdsKey(clientId));
    await this.metadata.put(packetIdsKey(clientId), Buffer.from(JSON.stringify(ids)));
  }

  async list(): Promise<StoredSession[]> {
    const names = await this.metadata.children(SESSIONS_PATH);
    const out: StoredSession[] = [];
    for (const name of names) {
      const value = await this.metadata.get(`${SESSIONS_PATH}/${name}`);
      const session = value === null ? null : parse(value.value);
      if (session !== null) out.push(session);
    }
    return out;
  }
}

function parse(bytes: Buffer): StoredSession | null {
  try {
    const s = JSON.parse(bytes.toString()) as StoredSession;
    if (typeof s.clientId !== 'string' || !Array.isArray(s.subscriptions)) return null;
    return s;
  } catch {
    return null;
  }
}

/**
 * Durable state of persistent sessions in the core MetadataStore (not memory), one key per client id:
 * `/mqtt/sessions/<encoded client id>` → JSON. The queued messages themselves are not here: they are the
 * backlog of the session's durable core subscriptions.
 */
import type { MetadataStore } from '@strata/core';

export const SESSIONS_PATH = '/mqtt/sessions';

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

export function sessionKey(clientId: string): string {
  return `${SESSIONS_PATH}/${encodeURIComponent(clientId)}`;
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

  async delete(clientId: string): Promise<void> {
    try {
      await this.metadata.delete(sessionKey(clientId));
    } catch (error) {
      if ((error as { code?: string }).code !== 'NOT_FOUND') throw error;
    }
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

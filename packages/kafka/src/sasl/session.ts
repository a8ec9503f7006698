/**
 * One connection's SASL state (Kafka's SaslServerAuthenticator, in our terms). With SASL on the
 * listener, a connection may send only ApiVersions, SaslHandshake and SaslAuthenticate until it
 * has authenticated; anything else closes it (Kafka: ILLEGAL_SASL_STATE).
 *
 *   handshake  -> SaslHandshake names an enabled mechanism
 *   exchange   -> SaslAuthenticate carries the mechanism's messages (SaslHandshake v1+), or, after
 *                 SaslHandshake v0, the client sends them as bare size-prefixed frames (KIP-43)
 *   authenticated, or failed (the failure is answered, then the connection is closed)
 */
import { passwordChecks, StrataError } from '@strata/core';
import { passwordMatches, type CredentialStore, type SaslMechanism } from './credentials.js';
import { parsePlainMessage } from './plain.js';
import { SaslFailure, ScramServer } from './scram.js';

export interface SaslSettings {
  readonly mechanisms: readonly SaslMechanism[];
  readonly credentials: CredentialStore;
  /** A connection not logged in this long after it opened is closed (Kafka has no login deadline; unauthenticated sockets would otherwise be held for free). */
  readonly loginMsMax: number;
}

export type SaslState = 'handshake' | 'exchange' | 'authenticated' | 'failed';

export class SaslSession {
  state: SaslState = 'handshake';
  mechanism: SaslMechanism | null = null;
  /** The handshake was v0: the mechanism's messages come as bare frames, not SaslAuthenticate. */
  bareTokens = false;
  /** The authenticated user (Kafka's principal `User:<name>`). */
  user: string | null = null;
  private scram: ScramServer | null = null;

  constructor(readonly settings: SaslSettings) {}

  get authenticated(): boolean {
    return this.state === 'authenticated';
  }

  /** SaslHandshake: true when `mechanism` is enabled (the exchange may start). */
  handshake(mechanism: string, version: number): boolean {
    if (this.state !== 'handshake') throw new StrataError('INVALID_ARGUMENT', `SaslHandshake in state ${this.state}`);
    const enabled = this.settings.mechanisms.find((candidate) => candidate === mechanism);
    if (!enabled) return false;
    this.mechanism = enabled;
    this.bareTokens = version === 0;
    this.state = 'exchange';
    if (enabled !== 'PLAIN') this.scram = new ScramServer(enabled, this.settings.credentials);
    return true;
  }

  /**
   * One message of the exchange; resolves with the answer (empty for PLAIN). Throws SaslFailure
   * (and enters `failed`) when authentication fails.
   */
  async respond(message: Buffer): Promise<Buffer> {
    if (this.state !== 'exchange') throw new SaslFailure('Unexpected SASL message', `message in state ${this.state}`);
    try {
      if (this.mechanism === 'PLAIN') {
        const plain = parsePlainMessage(message);
        // An unknown user costs the same PBKDF2 as a known one: the answer's timing tells nothing.
        const credential = this.settings.credentials.any(plain.user);
        // PBKDF2 runs in the thread pool beside storage I/O: through the process's login limit.
        const matches = await passwordChecks.run(() => passwordMatches(credential ?? this.settings.credentials.standIn, plain.password));
        if (matches === 'busy') throw new SaslFailure('Authentication failed: too many logins being checked, try again', 'password check queue full');
        if (!credential || !matches) {
          throw new SaslFailure('Authentication failed: Invalid username or password', `PLAIN login of ${JSON.stringify(plain.user)} refused`);
        }
        this.user = plain.user;
        this.state = 'authenticated';
        return Buffer.alloc(0);
      }
      const scram = this.scram!;
      const answer = scram.respond(message);
      if (scram.done) {
        this.user = scram.user;
        this.state = 'authenticated';
      }
      return answer;
    } catch (error) {
      this.state = 'failed';
      throw error;
    }
  }
}

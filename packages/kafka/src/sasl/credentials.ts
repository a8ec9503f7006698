/**
 * Stored SASL credentials: what Kafka keeps for SCRAM users (RFC 5802 §3, KIP-84), never the
 * password. One credential line per user and mechanism:
 *
 *   SCRAM-SHA-256$<iterations>$<salt, base64>$<StoredKey, base64>$<ServerKey, base64>
 *
 * StoredKey = H(HMAC(SaltedPassword, "Client Key")), ServerKey = HMAC(SaltedPassword, "Server
 * Key"), SaltedPassword = PBKDF2-HMAC-H(password, salt, iterations). `strata kafka-credential`
 * prints such a line. A PLAIN login is checked against the same line (the password is salted and
 * hashed the same way and compared with StoredKey), so a user needs one credential for both.
 */
import { createHash, createHmac, pbkdf2, randomBytes, timingSafeEqual } from 'node:crypto';
import { StrataError } from '@strata/core';

export type ScramMechanism = 'SCRAM-SHA-256' | 'SCRAM-SHA-512';
export const SCRAM_MECHANISMS: readonly ScramMechanism[] = ['SCRAM-SHA-256', 'SCRAM-SHA-512'];
export type SaslMechanism = 'PLAIN' | ScramMechanism;
export const SASL_MECHANISMS: readonly SaslMechanism[] = ['PLAIN', ...SCRAM_MECHANISMS];

/** Kafka's lower bound for SCRAM iterations (ScramMechanism.minIterations). */
export const SCRAM_ITERATIONS_MIN = 4096;
/** An upper bound, so a configured credential cannot make every login burn seconds of CPU. */
export const SCRAM_ITERATIONS_MAX = 1_000_000;
const SALT_BYTES = 32;

export interface ScramCredential {
  readonly mechanism: ScramMechanism;
  readonly iterations: number;
  readonly salt: Buffer;
  readonly storedKey: Buffer;
  readonly serverKey: Buffer;
}

export function hashOf(mechanism: ScramMechanism): 'sha256' | 'sha512' {
  return mechanism === 'SCRAM-SHA-256' ? 'sha256' : 'sha512';
}

function digestBytes(mechanism: ScramMechanism): number {
  return mechanism === 'SCRAM-SHA-256' ? 32 : 64;
}

export function hmac(mechanism: ScramMechanism, key: Buffer, data: string | Buffer): Buffer {
  return createHmac(hashOf(mechanism), key).update(data).digest();
}

export function hash(mechanism: ScramMechanism, data: Buffer): Buffer {
  return createHash(hashOf(mechanism)).update(data).digest();
}

/** PBKDF2 in the thread pool: thousands of HMACs, too long for the event loop. */
export function saltedPassword(mechanism: ScramMechanism, password: string, salt: Buffer, iterations: number): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    pbkdf2(Buffer.from(password.normalize('NFKC'), 'utf8'), salt, iterations, digestBytes(mechanism), hashOf(mechanism), (error, key) => (error ? reject(error) : resolve(key))),
  );
}

/** The credential line for `password` (what `strata kafka-credential` prints). */
export async function createScramCredential(mechanism: ScramMechanism, password: string, iterations = SCRAM_ITERATIONS_MIN): Promise<string> {
  if (!Number.isInteger(iterations) || iterations < SCRAM_ITERATIONS_MIN || iterations > SCRAM_ITERATIONS_MAX) {
    throw new StrataError('INVALID_ARGUMENT', `SCRAM iterations must be ${SCRAM_ITERATIONS_MIN}-${SCRAM_ITERATIONS_MAX}, got ${iterations}`);
  }
  const credential = await scramCredentialFrom(mechanism, password, randomBytes(SALT_BYTES), iterations);
  return formatScramCredential(credential);
}

/** The credential of `password` with a given salt (RFC 5802 §3). */
export async function scramCredentialFrom(mechanism: ScramMechanism, password: string, salt: Buffer, iterations: number): Promise<ScramCredential> {
  const salted = await saltedPassword(mechanism, password, salt, iterations);
  return { mechanism, iterations, salt, storedKey: hash(mechanism, hmac(mechanism, salted, 'Client Key')), serverKey: hmac(mechanism, salted, 'Server Key') };
}

export function formatScramCredential(credential: ScramCredential): string {
  const { mechanism, iterations, salt, storedKey, serverKey } = credential;
  return [mechanism, iterations, salt.toString('base64'), storedKey.toString('base64'), serverKey.toString('base64')].join('$');
}

const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

/** Parses a credential line; throws INVALID_ARGUMENT naming what is wrong (never the secret parts). */
export function parseScramCredential(line: string): ScramCredential {
  const parts = line.split('$');
  const bad = (why: string): never => {
    throw new StrataError('INVALID_ARGUMENT', `SCRAM credential ${why} (expected SCRAM-SHA-256|SCRAM-SHA-512$iterations$salt$storedKey$serverKey)`);
  };
  if (parts.length !== 5) bad(`has ${parts.length} fields`);
  const [mechanism, iterationsText, salt, storedKey, serverKey] = parts as [string, string, string, string, string];
  if (mechanism !== 'SCRAM-SHA-256' && mechanism !== 'SCRAM-SHA-512') bad(`mechanism ${JSON.stringify(mechanism)}`);
  const scram = mechanism as ScramMechanism;
  const iterations = /^\d{1,7}$/.test(iterationsText) ? Number(iterationsText) : NaN;
  if (!(iterations >= SCRAM_ITERATIONS_MIN && iterations <= SCRAM_ITERATIONS_MAX)) bad(`iterations must be ${SCRAM_ITERATIONS_MIN}-${SCRAM_ITERATIONS_MAX}`);
  for (const [name, value] of [['salt', salt], ['storedKey', storedKey], ['serverKey', serverKey]] as const) {
    if (!BASE64.test(value)) bad(`${name} is not base64`);
  }
  const keys = { storedKey: Buffer.from(storedKey, 'base64'), serverKey: Buffer.from(serverKey, 'base64') };
  if (keys.storedKey.length !== digestBytes(scram) || keys.serverKey.length !== digestBytes(scram)) bad(`keys must be ${digestBytes(scram)} bytes for ${scram}`);
  return { mechanism: scram, iterations, salt: Buffer.from(salt, 'base64'), ...keys };
}

/** True when `password` is the one `credential` was made from (a PLAIN login). */
export async function passwordMatches(credential: ScramCredential, password: string): Promise<boolean> {
  const salted = await saltedPassword(credential.mechanism, password, credential.salt, credential.iterations);
  const storedKey = hash(credential.mechanism, hmac(credential.mechanism, salted, 'Client Key'));
  return timingSafeEqual(storedKey, credential.storedKey);
}

/** Users and their credentials, by mechanism. */
export class CredentialStore {
  private readonly users = new Map<string, Map<ScramMechanism, ScramCredential>>();
  /** What a PLAIN login of an unknown user is checked against (never matches): equal timing. */
  readonly standIn: ScramCredential = {
    mechanism: 'SCRAM-SHA-256',
    iterations: SCRAM_ITERATIONS_MIN,
    salt: randomBytes(SALT_BYTES),
    storedKey: randomBytes(32),
    serverKey: randomBytes(32),
  };

  constructor(users: ReadonlyMap<string, readonly ScramCredential[]>) {
    for (const [user, credentials] of users) {
      const byMechanism = new Map<ScramMechanism, ScramCredential>();
      for (const credential of credentials) byMechanism.set(credential.mechanism, credential);
      this.users.set(user, byMechanism);
    }
  }

  get size(): number {
    return this.users.size;
  }

  scram(user: string, mechanism: ScramMechanism): ScramCredential | undefined {
    return this.users.get(user)?.get(mechanism);
  }

  /** Any credential of the user (PLAIN checks the password against it). */
  any(user: string): ScramCredential | undefined {
    const byMechanism = this.users.get(user);
    return byMechanism === undefined ? undefined : byMechanism.values().next().value;
  }
}

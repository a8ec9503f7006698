/**
 * The server side of one SCRAM-SHA-256/512 exchange (RFC 5802 §5, RFC 7677; Kafka KIP-84):
 *
 *   client-first  n,,n=<user>,r=<client nonce>
 *   server-first  r=<client nonce><server nonce>,s=<salt>,i=<iterations>
 *   client-final  c=biws,r=<nonce>,p=<proof>
 *   server-final  v=<server signature>
 *
 * Channel binding is not offered (gs2 flag `n`, or `y`: the client could bind but believes we
 * cannot); `p=` is refused [RFC 5802 §6]. Kafka's delegation-token extension (`tokenauth=true`)
 * is refused: Strata has no delegation tokens. Every failure is one error with a generic message,
 * so that a client learns nothing about which users exist.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { hash, hmac, SCRAM_ITERATIONS_MIN, type CredentialStore, type ScramCredential, type ScramMechanism } from './credentials.js';

/**
 * Per-process secret for the stand-in credentials of unknown users (RFC 5802 §5.1 suggests the
 * server "SHOULD" not reveal whether a user exists): an unknown name gets a server-first message
 * with a salt that is stable for that name, and the exchange fails only at the proof, like a
 * wrong password.
 */
const UNKNOWN_USER_SECRET = randomBytes(32);

function standInCredential(mechanism: ScramMechanism, user: string): ScramCredential {
  const salt = createHmac('sha256', UNKNOWN_USER_SECRET).update(`${mechanism}\0${user}`).digest();
  return { mechanism, iterations: SCRAM_ITERATIONS_MIN, salt, storedKey: randomBytes(mechanism === 'SCRAM-SHA-256' ? 32 : 64), serverKey: randomBytes(mechanism === 'SCRAM-SHA-256' ? 32 : 64) };
}

export class SaslFailure extends Error {
  constructor(
    message: string,
    /** For the log only: why, in more detail than the client is told. */
    readonly detail: string,
  ) {
    super(message);
  }
}

const AUTHENTICATION_FAILED = 'Authentication failed during authentication due to invalid credentials with SASL mechanism';
/** Longest client message we look at (a user name and a nonce fit many times over). */
export const SCRAM_MESSAGE_BYTES_MAX = 4096;
const PRINTABLE_NONCE = /^[\x21-\x2b\x2d-\x7e]+$/; // printable ASCII except ',' [RFC 5802 §7]

function fail(mechanism: ScramMechanism, detail: string): never {
  throw new SaslFailure(`${AUTHENTICATION_FAILED} ${mechanism}`, detail);
}

/** saslname -> name: "=2C" is ',', "=3D" is '=', any other '=' is an error [RFC 5802 §5.1]. */
function unescapeSaslName(name: string): string | null {
  if (/=(?!2C|3D)/.test(name)) return null;
  return name.replace(/=2C/g, ',').replace(/=3D/g, '=');
}

/** "a=x,b=y" attributes in order; null when malformed. */
function attributes(message: string): [string, string][] | null {
  const out: [string, string][] = [];
  for (const part of message.split(',')) {
    if (part.length < 2 || part[1] !== '=' || !/^[a-zA-Z]$/.test(part[0]!)) return null;
    out.push([part[0]!, part.slice(2)]);
  }
  return out;
}

export class ScramServer {
  private state: 'first' | 'final' | 'done' = 'first';
  private clientFirstBare = '';
  private serverFirst = '';
  private gs2Header = '';
  private nonce = '';
  private credential: ScramCredential | null = null;
  /** The user has no credential for this mechanism: a stand-in is used and the proof always fails. */
  private unknownUser = false;
  /** The user named in client-first; authenticated once `done`. */
  user: string | null = null;

  constructor(
    readonly mechanism: ScramMechanism,
    private readonly credentials: CredentialStore,
    /** The server's part of the nonce (tests pass RFC 7677's). */
    private readonly serverNonce: () => string = () => randomBytes(24).toString('base64url'),
  ) {}

  get done(): boolean {
    return this.state === 'done';
  }

  /** Answers one client message; throws SaslFailure. */
  respond(message: Buffer): Buffer {
    if (message.length > SCRAM_MESSAGE_BYTES_MAX) fail(this.mechanism, `message of ${message.length} bytes`);
    const text = message.toString('utf8');
    if (this.state === 'first') return Buffer.from(this.first(text), 'utf8');
    if (this.state === 'final') return Buffer.from(this.final(text), 'utf8');
    fail(this.mechanism, 'message after the exchange completed');
  }

  private first(text: string): string {
    // gs2-header = gs2-cbind-flag "," [ authzid ] ","
    const firstComma = text.indexOf(',');
    const secondComma = firstComma < 0 ? -1 : text.indexOf(',', firstComma + 1);
    if (secondComma < 0) fail(this.mechanism, 'client-first without a gs2 header');
    const flag = text.slice(0, firstComma);
    if (flag !== 'n' && flag !== 'y') fail(this.mechanism, `channel binding flag ${JSON.stringify(flag.slice(0, 16))}`);
    const authzid = text.slice(firstComma + 1, secondComma);
    this.gs2Header = text.slice(0, secondComma + 1);
    this.clientFirstBare = text.slice(secondComma + 1);
    const attrs = attributes(this.clientFirstBare);
    if (!attrs || attrs.length < 2 || attrs[0]![0] !== 'n' || attrs[1]![0] !== 'r') fail(this.mechanism, 'malformed client-first');
    for (const [key, value] of attrs.slice(2)) {
      // Extensions: Kafka's tokenauth (delegation tokens), which we do not have.
      if (key === 'm' || (key === 't' && value.startsWith('okenauth'))) fail(this.mechanism, `unsupported extension ${key}`);
    }
    const user = unescapeSaslName(attrs[0]![1]);
    if (user === null || user === '') fail(this.mechanism, 'malformed user name');
    // An authorization id (gs2 "a=") must name the user itself: Kafka's rule too.
    if (authzid !== '' && (!authzid.startsWith('a=') || unescapeSaslName(authzid.slice(2)) !== user)) {
      fail(this.mechanism, 'authorization id differs from the user name');
    }
    const clientNonce = attrs[1]![1];
    if (!PRINTABLE_NONCE.test(clientNonce)) fail(this.mechanism, 'malformed nonce');
    const known = this.credentials.scram(user, this.mechanism);
    const credential = known ?? standInCredential(this.mechanism, user);
    this.unknownUser = known === undefined;
    this.credential = credential;
    this.user = user;
    this.nonce = clientNonce + this.serverNonce();
    this.serverFirst = `r=${this.nonce},s=${credential.salt.toString('base64')},i=${credential.iterations}`;
    this.state = 'final';
    return this.serverFirst;
  }

  private final(text: string): string {
    const credential = this.credential!;
    const proofAt = text.lastIndexOf(',p=');
    if (proofAt < 0) fail(this.mechanism, 'client-final without a proof');
    const withoutProof = text.slice(0, proofAt);
    const attrs = attributes(withoutProof);
    if (!attrs || attrs.length < 2 || attrs[0]![0] !== 'c' || attrs[1]![0] !== 'r') fail(this.mechanism, 'malformed client-final');
    if (attrs[0]![1] !== Buffer.from(this.gs2Header, 'utf8').toString('base64')) fail(this.mechanism, 'channel binding differs from the gs2 header');
    // RFC 5802 wants the server-first nonce repeated exactly. librdkafka (through 2.x at least)
    // puts its own nonce in front of it once more ("r=" + client nonce + server-first's r), and
    // Kafka's ScramSaslServer accepts any nonce that ends with the server-first one: so do we.
    // The proof covers the message as sent, so this admits no replay.
    if (!attrs[1]![1].endsWith(this.nonce)) fail(this.mechanism, 'nonce differs');
    const proofText = text.slice(proofAt + 3);
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(proofText)) fail(this.mechanism, 'proof is not base64');
    const proof = Buffer.from(proofText, 'base64');
    const authMessage = `${this.clientFirstBare},${this.serverFirst},${withoutProof}`;
    const clientSignature = hmac(this.mechanism, credential.storedKey, authMessage);
    if (proof.length !== clientSignature.length) fail(this.mechanism, 'proof length');
    const clientKey = Buffer.alloc(proof.length);
    for (let i = 0; i < proof.length; i++) clientKey[i] = proof[i]! ^ clientSignature[i]!;
    const matches = timingSafeEqual(hash(this.mechanism, clientKey), credential.storedKey);
    if (this.unknownUser) fail(this.mechanism, `no ${this.mechanism} credential for user ${JSON.stringify(this.user)}`);
    if (!matches) fail(this.mechanism, 'wrong password');
    const serverSignature = hmac(this.mechanism, credential.serverKey, authMessage);
    this.state = 'done';
    return `v=${serverSignature.toString('base64')}`;
  }
}

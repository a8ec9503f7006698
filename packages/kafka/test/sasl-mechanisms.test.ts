/**
 * SASL mechanisms as pure state machines: SCRAM against RFC 7677's worked example, PLAIN's message
 * format, credential lines, and a fuzz of both with mutated client messages (only SaslFailure may
 * come out: never another exception, never a login).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createHash, createHmac, pbkdf2Sync, randomBytes } from 'node:crypto';
import {
  CredentialStore,
  createScramCredential,
  formatScramCredential,
  parseScramCredential,
  passwordMatches,
  scramCredentialFrom,
  type ScramCredential,
  type ScramMechanism,
} from '../src/sasl/credentials.js';
import { parsePlainMessage } from '../src/sasl/plain.js';
import { SaslFailure, ScramServer } from '../src/sasl/scram.js';
import { SaslSession } from '../src/sasl/session.js';

// RFC 7677 §3: user "user", password "pencil".
const RFC7677 = {
  clientFirst: 'n,,n=user,r=rOprNGfwEbeRWgbNEkqO',
  serverNonce: '%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0',
  serverFirst: 'r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096',
  clientFinal: 'c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=',
  serverFinal: 'v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=',
};

async function storeWith(user: string, credentials: ScramCredential[]): Promise<CredentialStore> {
  return new CredentialStore(new Map([[user, credentials]]));
}

test('SCRAM-SHA-256: the RFC 7677 exchange, byte for byte', async () => {
  const credential = await scramCredentialFrom('SCRAM-SHA-256', 'pencil', Buffer.from('W22ZaJ0SNY7soEsUEjb6gQ==', 'base64'), 4096);
  const server = new ScramServer('SCRAM-SHA-256', await storeWith('user', [credential]), () => RFC7677.serverNonce);
  assert.equal(server.respond(Buffer.from(RFC7677.clientFirst)).toString(), RFC7677.serverFirst);
  assert.equal(server.respond(Buffer.from(RFC7677.clientFinal)).toString(), RFC7677.serverFinal);
  assert.ok(server.done);
  assert.equal(server.user, 'user');
});

test("SCRAM: librdkafka's client-final nonce (its own nonce, then server-first's whole one) is accepted, as Kafka accepts it", async () => {
  const credential = await scramCredentialFrom('SCRAM-SHA-512', 'pencil', randomBytes(16), 4096);
  const server = new ScramServer('SCRAM-SHA-512', await storeWith('user', [credential]));
  const clientFirstBare = 'n=user,r=abcdef';
  const serverFirst = server.respond(Buffer.from(`n,,${clientFirstBare}`)).toString();
  const serverNonce = /^r=([^,]+)/.exec(serverFirst)![1]!;
  const withoutProof = `c=biws,r=abcdef${serverNonce}`; // librdkafka: its nonce, then server-first's whole nonce
  const proof = proofFor('SCRAM-SHA-512', 'pencil', `${clientFirstBare},${serverFirst},${withoutProof}`, serverFirst);
  assert.match(server.respond(Buffer.from(`${withoutProof},p=${proof}`)).toString(), /^v=/);
  assert.ok(server.done);
});

test('SCRAM-SHA-256: a wrong proof, a changed nonce or channel binding fail with one generic message', async () => {
  const credential = await scramCredentialFrom('SCRAM-SHA-256', 'pencil', Buffer.from('W22ZaJ0SNY7soEsUEjb6gQ==', 'base64'), 4096);
  const store = await storeWith('user', [credential]);
  const cases = [
    RFC7677.clientFinal.replace('p=dHzb', 'p=dHzc'),
    RFC7677.clientFinal.replace('rOprNG', 'rOprNH'),
    RFC7677.clientFinal.replace('c=biws', 'c=eSws'),
    RFC7677.clientFinal.replace(/,p=.*$/, ''),
  ];
  const messages = new Set<string>();
  for (const clientFinal of cases) {
    const server = new ScramServer('SCRAM-SHA-256', store, () => RFC7677.serverNonce);
    server.respond(Buffer.from(RFC7677.clientFirst));
    assert.throws(() => server.respond(Buffer.from(clientFinal)), (error: unknown) => error instanceof SaslFailure && (messages.add(error.message), true));
    assert.equal(server.done, false);
  }
  assert.equal(messages.size, 1, 'the client is not told which check failed');
  // An unknown user gets a server-first message like anyone (a salt stable for the name) and fails at the proof.
  const unknown = new ScramServer('SCRAM-SHA-256', store, () => RFC7677.serverNonce);
  const standIn = unknown.respond(Buffer.from('n,,n=nobody,r=rOprNGfwEbeRWgbNEkqO')).toString();
  assert.match(standIn, /^r=rOprNGfwEbeRWgbNEkqO.+,s=[A-Za-z0-9+/]+=*,i=4096$/);
  const again = new ScramServer('SCRAM-SHA-256', store, () => RFC7677.serverNonce).respond(Buffer.from('n,,n=nobody,r=rOprNGfwEbeRWgbNEkqO')).toString();
  assert.equal(again, standIn, 'the same salt for the same unknown name');
  assert.throws(() => unknown.respond(Buffer.from(clientFinalFor('SCRAM-SHA-256', 'pencil', 'n=nobody,r=rOprNGfwEbeRWgbNEkqO', standIn))), (error: unknown) => error instanceof SaslFailure && messages.has(error.message));
  for (const clientFirst of ['p=tls-unique,,n=user,r=abc', 'n,a=other,n=user,r=abc', 'n,,n=us=3Fer,r=abc', 'n,,r=abc,n=user', 'garbage', '']) {
    const server = new ScramServer('SCRAM-SHA-256', store);
    assert.throws(() => server.respond(Buffer.from(clientFirst)), SaslFailure, clientFirst);
  }
  // An authorization id naming the user itself is allowed, as Kafka allows it.
  const server = new ScramServer('SCRAM-SHA-256', store, () => RFC7677.serverNonce);
  assert.match(server.respond(Buffer.from('n,a=user,n=user,r=rOprNGfwEbeRWgbNEkqO')).toString(), /^r=rOprNGfwEbeRWgbNEkqO/);
});

/** A client's side of SCRAM (RFC 5802 §3), to drive the server in the tests below. */
function clientFinalFor(mechanism: ScramMechanism, password: string, clientFirstBare: string, serverFirst: string, gs2 = 'n,,'): string {
  const algorithm = mechanism === 'SCRAM-SHA-256' ? 'sha256' : 'sha512';
  const fields = Object.fromEntries(serverFirst.split(',').map((part) => [part[0], part.slice(2)]));
  const saltedPassword = pbkdf2Sync(password, Buffer.from(fields['s']!, 'base64'), Number(fields['i']), algorithm === 'sha256' ? 32 : 64, algorithm);
  const clientKey = createHmac(algorithm, saltedPassword).update('Client Key').digest();
  const storedKey = createHash(algorithm).update(clientKey).digest();
  const withoutProof = `c=${Buffer.from(gs2).toString('base64')},r=${fields['r']}`;
  const authMessage = `${clientFirstBare},${serverFirst},${withoutProof}`;
  const signature = createHmac(algorithm, storedKey).update(authMessage).digest();
  const proof = Buffer.alloc(clientKey.length);
  for (let i = 0; i < proof.length; i++) proof[i] = clientKey[i]! ^ signature[i]!;
  return `${withoutProof},p=${proof.toString('base64')}`;
}

function proofFor(mechanism: ScramMechanism, password: string, authMessage: string, serverFirst: string): string {
  const algorithm = mechanism === 'SCRAM-SHA-256' ? 'sha256' : 'sha512';
  const fields = Object.fromEntries(serverFirst.split(',').map((part) => [part[0], part.slice(2)]));
  const saltedPassword = pbkdf2Sync(password, Buffer.from(fields['s']!, 'base64'), Number(fields['i']), algorithm === 'sha256' ? 32 : 64, algorithm);
  const clientKey = createHmac(algorithm, saltedPassword).update('Client Key').digest();
  const signature = createHmac(algorithm, createHash(algorithm).update(clientKey).digest()).update(authMessage).digest();
  return Buffer.from(clientKey.map((byte, i) => byte ^ signature[i]!)).toString('base64');
}

test('credential lines: created, parsed back, checked against the password (PLAIN) and used by SCRAM-SHA-512', async () => {
  for (const mechanism of ['SCRAM-SHA-256', 'SCRAM-SHA-512'] as const) {
    const line = await createScramCredential(mechanism, 'p\u00e4ss word');
    const credential = parseScramCredential(line);
    assert.equal(formatScramCredential(credential), line);
    assert.equal(credential.iterations, 4096);
    assert.equal(await passwordMatches(credential, 'p\u00e4ss word'), true);
    assert.equal(await passwordMatches(credential, 'p\u00e4ss wore'), false);
    const server = new ScramServer(mechanism, await storeWith('al,i=ce', [credential]));
    const clientFirstBare = 'n=al=2Ci=3Dce,r=fyko+d2lbbFgONRv9qkxdawL';
    const serverFirst = server.respond(Buffer.from(`n,,${clientFirstBare}`)).toString();
    const serverFinal = server.respond(Buffer.from(clientFinalFor(mechanism, 'p\u00e4ss word', clientFirstBare, serverFirst))).toString();
    assert.ok(server.done, mechanism);
    assert.equal(server.user, 'al,i=ce');
    assert.match(serverFinal, /^v=[A-Za-z0-9+/]+=*$/);
  }
  for (const bad of ['', 'SCRAM-SHA-1$4096$a$b$c', 'SCRAM-SHA-256$100$YQ==$YQ==$YQ==', 'SCRAM-SHA-256$4096$YQ==$YQ==$YQ==', 'SCRAM-SHA-256$4096$!!$YQ==$YQ==', 'PLAIN$x']) {
    assert.throws(() => parseScramCredential(bad), /SCRAM credential/, bad);
  }
});

test('PLAIN: authzid, user and password split on NUL; malformed messages refused', () => {
  assert.deepEqual(parsePlainMessage(Buffer.from('\0alice\0secret')), { user: 'alice', password: 'secret' });
  assert.deepEqual(parsePlainMessage(Buffer.from('alice\0alice\0se\u00e7ret')), { user: 'alice', password: 'se\u00e7ret' });
  for (const bad of ['alice\0secret', '\0\0secret', '\0alice\0', 'bob\0alice\0secret', '\0a\0b\0c', 'x'.repeat(800)]) {
    assert.throws(() => parsePlainMessage(Buffer.from(bad)), SaslFailure, JSON.stringify(bad));
  }
});

test('fuzz: thousands of mutated SCRAM and PLAIN messages only ever fail with SaslFailure and never log in', async () => {
  const credential = await scramCredentialFrom('SCRAM-SHA-256', 'pencil', Buffer.from('W22ZaJ0SNY7soEsUEjb6gQ==', 'base64'), 4096);
  const store = await storeWith('user', [credential]);
  const seeds = [Buffer.from(RFC7677.clientFirst), Buffer.from(RFC7677.clientFinal), Buffer.from('\0user\0pencil')];
  const mutate = (seed: Buffer): Buffer => {
    const out = Buffer.from(seed);
    const kind = Math.floor(Math.random() * 4);
    if (kind === 0) return out.subarray(0, Math.floor(Math.random() * out.length)); // truncated
    if (kind === 1) return randomBytes(Math.floor(Math.random() * 64)); // garbage
    if (kind === 2) return Buffer.concat([out, randomBytes(Math.floor(Math.random() * 8192))]); // oversized
    for (let i = 0; i < 1 + Math.floor(Math.random() * 4); i++) out[Math.floor(Math.random() * out.length)] = Math.floor(Math.random() * 256);
    return out;
  };
  let logins = 0;
  for (let i = 0; i < 3000; i++) {
    const server = new ScramServer('SCRAM-SHA-256', store, () => RFC7677.serverNonce);
    try {
      if (i % 2 === 0) server.respond(Buffer.from(RFC7677.clientFirst));
      server.respond(mutate(seeds[i % 2 === 0 ? 1 : 0]!));
      if (server.done) logins++;
    } catch (error) {
      assert.ok(error instanceof SaslFailure, `unexpected ${String(error)}`);
    }
  }
  // A mutation can leave the client-final valid (a flipped byte in the nonce's copy would not): at
  // most the unchanged ones log in; a changed proof never does.
  for (let i = 0; i < 300; i++) {
    const session = new SaslSession({ mechanisms: ['PLAIN'], credentials: store, loginMsMax: 1_000 });
    session.handshake('PLAIN', 1);
    const message = mutate(seeds[2]!);
    try {
      await session.respond(message);
      assert.ok(message.equals(seeds[2]!) || message.toString().split('\0').slice(1).join('\0') === 'user\0pencil', 'only the right password logs in');
    } catch (error) {
      assert.ok(error instanceof SaslFailure, `unexpected ${String(error)}`);
      assert.equal(session.state, 'failed');
    }
  }
  assert.ok(logins < 3000);
});

/**
 * SASL on the Kafka listener, end to end: kafkajs and @platformatic/kafka log in with
 * SCRAM-SHA-256, SCRAM-SHA-512 and PLAIN and then produce and consume; a wrong password, a
 * mechanism not enabled and a request before logging in close the connection; SaslHandshake v0's
 * bare messages (what kafka-python 2.0 sends) work too.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import kafkajs from 'kafkajs';
import { Producer, stringSerializers } from '@platformatic/kafka';
import { API_KEY } from '../src/protocol/messages/index.js';
import { createScramCredential } from '../src/sasl/credentials.js';
import { KafkaErrorCode } from '../src/error-codes.js';
import { RawClient } from './helpers/raw-client.js';
import { startKafkaServer, type KafkaTestServer } from './helpers/kafka-server.js';
import { withTimeout } from './helpers/wait.js';

const { Kafka, logLevel } = kafkajs;
const PASSWORD = 'pencil-\u00e9t\u00e9';
let server: KafkaTestServer;

before(async () => {
  server = await startKafkaServer({
    config: {
      sasl: {
        mechanisms: ['SCRAM-SHA-512', 'SCRAM-SHA-256', 'PLAIN'],
        users: {
          alice: [await createScramCredential('SCRAM-SHA-256', PASSWORD), await createScramCredential('SCRAM-SHA-512', PASSWORD)],
          bob: await createScramCredential('SCRAM-SHA-512', 'bobs-secret'),
        },
      },
    },
  });
});

after(async () => {
  await server?.close();
});

function client(sasl?: kafkajs.SASLOptions): kafkajs.Kafka {
  return new Kafka({
    clientId: 'sasl-test',
    brokers: [server.bootstrap],
    logLevel: logLevel.NOTHING,
    retry: { retries: 0 },
    connectionTimeout: 3_000,
    ...(sasl ? { sasl } : {}),
  });
}

test('kafkajs logs in with SCRAM-SHA-256, SCRAM-SHA-512 and PLAIN, then produces and consumes', async () => {
  const logins: kafkajs.SASLOptions[] = [
    { mechanism: 'scram-sha-256', username: 'alice', password: PASSWORD },
    { mechanism: 'scram-sha-512', username: 'alice', password: PASSWORD },
    { mechanism: 'plain', username: 'alice', password: PASSWORD },
    { mechanism: 'plain', username: 'bob', password: 'bobs-secret' },
  ];
  const admin = client(logins[0]).admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: 'sasl-t', numPartitions: 1 }] });
  await admin.disconnect();
  let sent = 0;
  for (const sasl of logins) {
    const producer = client(sasl).producer();
    await producer.connect();
    await producer.send({ topic: 'sasl-t', messages: [{ value: `${sasl.mechanism}-${sent++}` }] });
    await producer.disconnect();
  }
  const consumer = client(logins[1]).consumer({ groupId: 'sasl-group', maxWaitTimeInMs: 100 });
  await consumer.connect();
  try {
    await consumer.subscribe({ topic: 'sasl-t', fromBeginning: true });
    const values: string[] = [];
    await withTimeout(
      new Promise<void>((resolve) => {
        void consumer.run({
          eachMessage: async ({ message }) => {
            values.push(String(message.value));
            if (values.length === logins.length) resolve();
          },
        });
      }),
      20_000,
      () => `consume after a SCRAM-SHA-512 login: ${values.length} of ${logins.length}`,
    );
    assert.deepEqual(values, ['scram-sha-256-0', 'scram-sha-512-1', 'plain-2', 'plain-3']);
  } finally {
    await consumer.disconnect();
  }
});

test('kafkajs: a wrong password, an unknown user and a mechanism without a credential are refused', async () => {
  const refused: kafkajs.SASLOptions[] = [
    { mechanism: 'scram-sha-256', username: 'alice', password: 'wrong' },
    { mechanism: 'scram-sha-512', username: 'mallory', password: PASSWORD },
    { mechanism: 'scram-sha-256', username: 'bob', password: 'bobs-secret' }, // bob has only SCRAM-SHA-512
    { mechanism: 'plain', username: 'alice', password: 'wrong' },
  ];
  for (const sasl of refused) {
    const producer = client(sasl).producer();
    await assert.rejects(producer.connect(), (error: Error) => /SASL|[Aa]uthentication/.test(`${error.name} ${error.message}`), `${sasl.mechanism} ${'username' in sasl ? sasl.username : ''}`);
    await producer.disconnect();
  }
});

test('@platformatic/kafka logs in with SCRAM-SHA-512 and produces', async () => {
  const options = { clientId: 'plt-sasl', bootstrapBrokers: [server.bootstrap], serializers: stringSerializers, retries: 0, autocreateTopics: true };
  const producer = new Producer({ ...options, sasl: { mechanism: 'SCRAM-SHA-512' as const, username: 'bob', password: 'bobs-secret' } });
  try {
    const result = await producer.send({ messages: [{ topic: 'sasl-plt', key: 'k', value: 'v', partition: 0 }] });
    assert.equal(result.offsets?.[0]?.offset, 0n);
  } finally {
    await producer.close();
  }
  const wrong = new Producer({ ...options, sasl: { mechanism: 'SCRAM-SHA-512' as const, username: 'bob', password: 'nope' } });
  try {
    await assert.rejects(wrong.send({ messages: [{ topic: 'sasl-plt', key: 'k', value: 'x', partition: 0 }] }));
  } finally {
    await wrong.close().catch(() => {});
  }
});

test('raw: before logging in only ApiVersions and the SASL APIs are served; anything else closes the connection', async () => {
  const raw = await RawClient.connect(server.port);
  try {
    raw.request(API_KEY.ApiVersions, 3, 1, { clientSoftwareName: 'raw', clientSoftwareVersion: '1' });
    const versions = await raw.response(API_KEY.ApiVersions, 3);
    const keys = (versions!.body.apiKeys as { apiKey: number }[]).map((k) => k.apiKey);
    assert.ok(keys.includes(API_KEY.SaslHandshake) && keys.includes(API_KEY.SaslAuthenticate));
    raw.request(API_KEY.Metadata, 9, 2, { topics: null, allowAutoTopicCreation: false, includeClusterAuthorizedOperations: false, includeTopicAuthorizedOperations: false });
    assert.equal(await raw.nextFrame(2_000), null);
    assert.ok(raw.closed, 'closed without an answer');
  } finally {
    raw.socket.destroy();
  }
  const other = await RawClient.connect(server.port);
  try {
    other.request(API_KEY.SaslHandshake, 1, 1, { mechanism: 'GSSAPI' });
    const answer = await other.response(API_KEY.SaslHandshake, 1);
    assert.equal(answer!.body.errorCode, KafkaErrorCode.UNSUPPORTED_SASL_MECHANISM);
    assert.deepEqual(answer!.body.mechanisms, ['SCRAM-SHA-512', 'SCRAM-SHA-256', 'PLAIN']);
    assert.equal(await other.nextFrame(2_000), null);
    assert.ok(other.closed, 'closed after the answer');
  } finally {
    other.socket.destroy();
  }
});

/** A bare SASL message (after SaslHandshake v0): a size-prefixed frame with no request header. */
function bare(message: Buffer): Buffer {
  const out = Buffer.alloc(4 + message.length);
  out.writeInt32BE(message.length, 0);
  message.copy(out, 4);
  return out;
}

test('raw: SaslHandshake v0 then a bare PLAIN message (KIP-43, kafka-python 2.0); a bad one closes the connection', async () => {
  const raw = await RawClient.connect(server.port);
  try {
    raw.request(API_KEY.SaslHandshake, 0, 1, { mechanism: 'PLAIN' });
    assert.equal((await raw.response(API_KEY.SaslHandshake, 0))!.body.errorCode, 0);
    raw.send(bare(Buffer.from(`\0alice\0${PASSWORD}`)));
    const answer = await raw.nextFrame();
    assert.ok(answer !== null && answer.length === 0, 'an empty size-prefixed answer');
    raw.request(API_KEY.Metadata, 9, 2, { topics: null, allowAutoTopicCreation: false, includeClusterAuthorizedOperations: false, includeTopicAuthorizedOperations: false });
    const metadata = await raw.response(API_KEY.Metadata, 9);
    assert.ok(metadata !== null && metadata.correlationId === 2, 'served after logging in');
  } finally {
    raw.socket.destroy();
  }
  const bad = await RawClient.connect(server.port);
  try {
    bad.request(API_KEY.SaslHandshake, 0, 1, { mechanism: 'PLAIN' });
    assert.equal((await bad.response(API_KEY.SaslHandshake, 0))!.body.errorCode, 0);
    bad.send(bare(Buffer.from('\0alice\0wrong')));
    assert.equal(await bad.nextFrame(3_000), null);
    assert.ok(bad.closed);
  } finally {
    bad.socket.destroy();
  }
});

test('config: SASL settings are validated with the key named', async () => {
  const { parseKafkaConfig } = await import('../src/config.js');
  const good = await createScramCredential('SCRAM-SHA-256', 'x');
  assert.throws(() => parseKafkaConfig({ sasl: { users: {} } }), /sasl.users is empty/);
  assert.throws(() => parseKafkaConfig({ sasl: { mechanisms: ['GSSAPI'], users: { a: good } } }), /sasl.mechanisms: unknown mechanism "GSSAPI"/);
  assert.throws(() => parseKafkaConfig({ sasl: { users: { a: 'SCRAM-SHA-256$1$x$y$z' } } }), /sasl.users.a: SCRAM credential/);
  assert.throws(() => parseKafkaConfig({ sasl: { users: { a: good }, extra: 1 } }), /unknown key sasl.extra/);
  const parsed = parseKafkaConfig({ sasl: { mechanisms: 'PLAIN, SCRAM-SHA-256', users: { a: good } } });
  assert.deepEqual(parsed.sasl?.mechanisms, ['PLAIN', 'SCRAM-SHA-256']);
  assert.equal(parsed.sasl?.loginMsMax, 30_000);
  assert.equal(parseKafkaConfig({ sasl: { users: { a: good }, loginMsMax: 500 } }).sasl?.loginMsMax, 500);
  assert.throws(() => parseKafkaConfig({ sasl: { users: { a: good }, loginMsMax: 0 } }), /sasl.loginMsMax must be an integer >= 1/);
  assert.equal(parseKafkaConfig({}).sasl, null);
});

test('fuzz: garbage before and during a login closes only that connection; logins go on working', async () => {
  const handshakeV0 = RawClient.encode(API_KEY.SaslHandshake, 0, 1, { mechanism: 'PLAIN' });
  const handshakeV1 = RawClient.encode(API_KEY.SaslHandshake, 1, 1, { mechanism: 'SCRAM-SHA-256' });
  const authenticate = RawClient.encode(API_KEY.SaslAuthenticate, 2, 2, { authBytes: Buffer.from('n,,n=alice,r=abc') });
  const seeds = [handshakeV0, handshakeV1, authenticate, bare(Buffer.from(`\0alice\0${PASSWORD}`))];
  const mutate = (seed: Buffer): Buffer => {
    const out = Buffer.from(seed);
    for (let i = 0; i < 1 + Math.floor(Math.random() * 6); i++) out[4 + Math.floor(Math.random() * (out.length - 4))] = Math.floor(Math.random() * 256);
    return out;
  };
  const started = Date.now();
  for (let round = 0; round < 60 && Date.now() - started < 20_000; round++) {
    const raw = await RawClient.connect(server.port);
    try {
      if (round % 3 === 0) {
        raw.send(handshakeV0); // then a mutated bare message
        await raw.nextFrame(2_000);
        raw.send(mutate(seeds[3]!));
      } else if (round % 3 === 1) {
        raw.send(handshakeV1);
        await raw.nextFrame(2_000);
        raw.send(mutate(authenticate));
      } else {
        raw.send(mutate(seeds[round % seeds.length]!));
      }
      for (let i = 0; i < 3 && !raw.closed; i++) await raw.nextFrame(300);
    } finally {
      raw.socket.destroy();
    }
  }
  const producer = client({ mechanism: 'scram-sha-512', username: 'alice', password: PASSWORD }).producer();
  await producer.connect();
  await producer.send({ topic: 'sasl-t', messages: [{ value: 'after the fuzz' }] });
  await producer.disconnect();
});

test('a connection that does not log in within sasl.loginMsMax is closed; one that logs in stays', async () => {
  const quick = await startKafkaServer({ config: { sasl: { users: { alice: await createScramCredential('SCRAM-SHA-256', PASSWORD) }, loginMsMax: 300 } } });
  try {
    const idle = await RawClient.connect(quick.port);
    const loggedIn = await RawClient.connect(quick.port);
    try {
      loggedIn.request(API_KEY.SaslHandshake, 1, 1, { mechanism: 'PLAIN' });
      assert.equal((await loggedIn.response(API_KEY.SaslHandshake, 1))!.body.errorCode, 0);
      loggedIn.request(API_KEY.SaslAuthenticate, 2, 2, { authBytes: Buffer.from(`\0alice\0${PASSWORD}`) });
      assert.equal((await loggedIn.response(API_KEY.SaslAuthenticate, 2))!.body.errorCode, 0);
      assert.equal(await idle.nextFrame(3_000), null);
      assert.ok(idle.closed, 'closed after loginMsMax');
      loggedIn.request(API_KEY.ApiVersions, 3, 3, { clientSoftwareName: 'raw', clientSoftwareVersion: '1' });
      assert.ok((await loggedIn.response(API_KEY.ApiVersions, 3)) !== null, 'the logged-in connection is still served');
    } finally {
      idle.socket.destroy();
      loggedIn.socket.destroy();
    }
  } finally {
    await quick.close();
  }
});

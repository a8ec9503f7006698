/**
 * TLS listeners (listeners.<id>.tls): kafkajs over SSL, mqtt.js over mqtts:// and wss://, with the
 * server's certificate verified against a test CA; client certificates required on one listener,
 * and on a Kafka listener naming the principal its ACLs govern;
 * a plain TCP client on a TLS port fails its handshake without harming anyone; bad PEM files and
 * keys are config mistakes naming the key.
 */
import assert from 'node:assert/strict';
import { connect as netConnect } from 'node:net';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import kafkajs from 'kafkajs';
import mqtt from 'mqtt';
import { makeTempDir, makeTestCertificates, requireTool, type TestCertificates } from '@strata/testing';
import { startServer, type RunningServer } from '../src/index.js';
import { ConfigError } from '../src/config/config-error.js';

const { Kafka, logLevel } = kafkajs;

async function certificates(t: import('node:test').TestContext): Promise<TestCertificates | null> {
  const openssl = requireTool(t, 'openssl');
  if (openssl === null) return null;
  const dir = await makeTempDir('strata-tls-');
  t.after(() => dir.remove());
  return makeTestCertificates(openssl, dir.path);
}

function portOf(server: RunningServer, listener: string): number {
  const address = server.addresses.get(listener);
  assert.ok(address, listener);
  return address.port;
}

/** A server on a fresh data directory, closed and removed after the test. */
async function startTestServer(t: import('node:test').TestContext, config: Record<string, unknown>): Promise<RunningServer> {
  const dataDir = await makeTempDir('strata-tls-data-');
  const server = await startServer({ dataDir: dataDir.path, config });
  t.after(async () => {
    await server.close();
    await dataDir.remove();
  });
  return server;
}

async function mqttRoundTrip(url: string, options: mqtt.IClientOptions): Promise<string> {
  const client = await mqtt.connectAsync(url, { ...options, reconnectPeriod: 0, connectTimeout: 5_000 });
  try {
    const received = new Promise<string>((resolve) => client.once('message', (_topic, payload) => resolve(payload.toString())));
    await client.subscribeAsync('tls/t', { qos: 1 });
    await client.publishAsync('tls/t', `over ${url.split(':')[0]}`, { qos: 1 });
    return await received;
  } finally {
    await client.endAsync();
  }
}

test('TLS listeners: kafkajs over SSL, mqtt.js over mqtts and wss; a plain client on a TLS port is refused alone', async (t) => {
  const pki = await certificates(t);
  if (pki === null) return;
  const tls = { cert: pki.certFile, key: pki.keyFile };
  const server = await startTestServer(t, { listeners: { kafka: { tls }, mqtt: { tls }, 'mqtt-ws': { tls } } });

  const kafka = new Kafka({ brokers: [`localhost:${portOf(server, 'kafka')}`], ssl: { ca: [pki.ca], servername: 'localhost' }, logLevel: logLevel.NOTHING, retry: { retries: 2 } });
  const producer = kafka.producer();
  await producer.connect();
  await producer.send({ topic: 'tls-t', messages: [{ value: 'over ssl' }] });
  await producer.disconnect();
  const consumer = kafka.consumer({ groupId: 'tls-group', maxWaitTimeInMs: 100 });
  await consumer.connect();
  try {
    await consumer.subscribe({ topic: 'tls-t', fromBeginning: true });
    const value = await new Promise<string>((resolve) => void consumer.run({ eachMessage: async ({ message }) => resolve(String(message.value)) }));
    assert.equal(value, 'over ssl');
  } finally {
    await consumer.disconnect();
  }

  assert.equal(await mqttRoundTrip(`mqtts://127.0.0.1:${portOf(server, 'mqtt')}`, { ca: pki.ca }), 'over mqtts');
  assert.equal(await mqttRoundTrip(`wss://127.0.0.1:${portOf(server, 'mqtt-ws')}/mqtt`, { ca: pki.ca }), 'over wss');

  // A client that does not trust the CA gives up; one that speaks plain MQTT gets no CONNACK.
  await assert.rejects(mqtt.connectAsync(`mqtts://127.0.0.1:${portOf(server, 'mqtt')}`, { reconnectPeriod: 0, connectTimeout: 3_000 }));
  const plain = netConnect(portOf(server, 'mqtt'), '127.0.0.1');
  plain.on('error', () => {});
  plain.write(Buffer.from([0x10, 0x0c, 0x00, 0x04, 0x4d, 0x51, 0x54, 0x54, 0x04, 0x02, 0x00, 0x3c, 0x00, 0x00]));
  const closed = await new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => resolve(false), 5_000);
    plain.once('close', () => (clearTimeout(timer), resolve(true)));
    plain.on('data', () => {}); // a TLS alert, never a CONNACK
  });
  assert.ok(closed, 'a plain client on a TLS port is disconnected');
  // Everyone else is still served.
  assert.equal(await mqttRoundTrip(`mqtts://127.0.0.1:${portOf(server, 'mqtt')}`, { ca: pki.ca }), 'over mqtts');
});

test('TLS with clientCertificates: require: a client without a certificate is refused, one with a CA-signed certificate is served', async (t) => {
  const pki = await certificates(t);
  if (pki === null) return;
  const server = await startTestServer(t, { listeners: { mqtt: { tls: { cert: pki.certFile, key: pki.keyFile, ca: pki.caFile, clientCertificates: 'require' } } } });
  const url = `mqtts://127.0.0.1:${portOf(server, 'mqtt')}`;
  await assert.rejects(mqtt.connectAsync(url, { ca: pki.ca, reconnectPeriod: 0, connectTimeout: 3_000 }));
  assert.equal(await mqttRoundTrip(url, { ca: pki.ca, cert: pki.clientCert, key: pki.clientKey }), 'over mqtts');
});

test('Kafka over mutual TLS: the verified client certificate names the principal (User:CN=test-client), and ACLs govern it', async (t) => {
  const pki = await certificates(t);
  if (pki === null) return;
  const server = await startTestServer(t, {
    listeners: { kafka: { tls: { cert: pki.certFile, key: pki.keyFile, ca: pki.caFile, clientCertificates: 'require' } } },
    kafka: {
      authorization: {
        acls: [
          { principal: 'User:CN=test-client', operation: 'all', resourceType: 'topic', resourceName: 'mtls-', patternType: 'prefixed' },
          { principal: 'User:CN=test-client', operation: 'create', resourceType: 'cluster' },
        ],
      },
    },
  });
  const kafka = new Kafka({
    brokers: [`localhost:${portOf(server, 'kafka')}`],
    ssl: { ca: [pki.ca], cert: pki.clientCert, key: pki.clientKey, servername: 'localhost' },
    logLevel: logLevel.NOTHING,
    retry: { retries: 1 },
  });
  const producer = kafka.producer({ allowAutoTopicCreation: true });
  await producer.connect();
  try {
    await producer.send({ topic: 'mtls-orders', messages: [{ value: 'by certificate' }] });
    await assert.rejects(producer.send({ topic: 'elsewhere', messages: [{ value: 'x' }] }), /authoriz/i);
  } finally {
    await producer.disconnect();
  }
  assert.equal(server.core.offsets('persistent://public/default/mtls-orders', 0).highWatermark, 1);
  assert.equal(server.core.topics.exists('persistent://public/default/elsewhere'), false);
});

test('MQTT over mutual TLS with certificateUsername cn: the certificate logs the client in as test-client, and topic rules apply', async (t) => {
  const pki = await certificates(t);
  if (pki === null) return;
  const server = await startTestServer(t, {
    listeners: { mqtt: { tls: { cert: pki.certFile, key: pki.keyFile, ca: pki.caFile, clientCertificates: 'require' } } },
    mqtt: { allowAnonymous: false, certificateUsername: 'cn', acl: [{ user: 'test-client', filter: 'tls/#', access: 'readwrite' }], aclDefault: 'deny' },
  });
  const url = `mqtts://127.0.0.1:${portOf(server, 'mqtt')}`;
  // No user name, no password: anonymous connections are refused, so only the certificate can have logged it in.
  assert.equal(await mqttRoundTrip(url, { ca: pki.ca, cert: pki.clientCert, key: pki.clientKey }), 'over mqtts');
  const client = await mqtt.connectAsync(url, { ca: pki.ca, cert: pki.clientCert, key: pki.clientKey, reconnectPeriod: 0, connectTimeout: 5_000 });
  try {
    // SUBACK 0x80, which mqtt.js reports as a failed subscribe.
    await assert.rejects(client.subscribeAsync('other/t', { qos: 1 }), /Subscribe error/, 'a filter the rules do not grant test-client is refused');
  } finally {
    await client.endAsync();
  }
});

test('TLS config mistakes name the key: missing cert, unreadable file, a key that does not match, unknown keys', async (t) => {
  const pki = await certificates(t);
  if (pki === null) return;
  const dataDir = await makeTempDir('strata-tls-data-');
  t.after(() => dataDir.remove());
  const garbage = join(pki.dir, 'garbage.pem');
  await writeFile(garbage, '-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n');
  const cases: [Record<string, unknown>, RegExp][] = [
    [{ key: pki.keyFile }, /listeners\.mqtt\.tls\.cert/],
    [{ cert: join(pki.dir, 'nope.pem'), key: pki.keyFile }, /cannot read listeners\.mqtt\.tls\.cert .*ENOENT/],
    [{ cert: pki.clientCertFile, key: pki.keyFile }, /listeners\.mqtt\.tls: .*key/i],
    [{ cert: garbage, key: pki.keyFile }, /listeners\.mqtt\.tls/],
    [{ cert: pki.certFile, key: pki.keyFile, clientCertificates: 'maybe' }, /listeners\.mqtt\.tls\.clientCertificates/],
    [{ cert: pki.certFile, key: pki.keyFile, ciphers: 'x' }, /unknown key listeners\.mqtt\.tls\.ciphers/],
  ];
  for (const [tls, message] of cases) {
    await assert.rejects(startServer({ dataDir: dataDir.path, config: { listeners: { mqtt: { tls } } } }), (error: Error) => error instanceof ConfigError && message.test(error.message), JSON.stringify(tls));
  }
});

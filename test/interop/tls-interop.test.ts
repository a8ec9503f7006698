/**
 * TLS with Debian's clients against the shipped binary: `strata serve --config strata.yaml` with
 * the kafka listener on TLS and SASL (SASL_SSL) and the mqtt listener on TLS. kcat and
 * kafka-python log in over TLS and produce/consume; mosquitto_pub/mosquitto_sub and paho-mqtt
 * verify the server's certificate against the test CA and exchange a message. The PKI comes from
 * openssl (makeTestCertificates); tools missing: skipped loudly, or failed when CI is set.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { cliPath, makeTempDir, makeTestCertificates, requireTool, runProgram, spawnServer, type ProgramRun } from '@strata/testing';

const TOOL_TIMEOUT_MS = 30_000;

function run(command: string, args: string[], input = ''): Promise<ProgramRun> {
  return runProgram(command, args, { input, timeoutMs: TOOL_TIMEOUT_MS });
}

test('SASL_SSL and MQTT over TLS with kcat, kafka-python, mosquitto clients and paho-mqtt against the binary', async (t) => {
  const openssl = requireTool(t, 'openssl');
  const kcat = requireTool(t, 'kcat');
  const mosquittoPub = requireTool(t, 'mosquitto_pub');
  const mosquittoSub = requireTool(t, 'mosquitto_sub');
  const kafkaPython = requireTool(t, 'python3:kafka');
  const paho = requireTool(t, 'python3:paho.mqtt.client');
  if (openssl === null || kcat === null || mosquittoPub === null || mosquittoSub === null || kafkaPython === null || paho === null) return;
  const dir = await makeTempDir('strata-tls-interop-');
  t.after(() => dir.remove());
  const pki = await makeTestCertificates(openssl, dir.path);
  const credential = await run(process.execPath, [cliPath, 'kafka-credential'], 'tls-pass\n');
  assert.equal(credential.code, 0, credential.stderr);
  const configPath = join(dir.path, 'strata.yaml');
  const tls = `{ cert: "${pki.certFile}", key: "${pki.keyFile}" }`;
  await writeFile(
    configPath,
    [
      'logLevel: warn',
      'listeners:',
      `  kafka: { tls: ${tls} }`,
      `  mqtt: { tls: ${tls} }`,
      'kafka:',
      '  sasl:',
      `    users: { erin: "${credential.stdout.trim()}" }`,
      '',
    ].join('\n'),
  );
  const server = await spawnServer({ dataDir: join(dir.path, 'data'), args: ['--config', configPath] });
  t.after(async () => {
    if (server.child.exitCode === null) await server.stop().catch(() => server.kill('SIGKILL'));
  });
  const kafka = server.address('kafka');
  const mqtt = server.address('mqtt');
  const broker = `localhost:${kafka.port}`;
  const sslArgs = ['-X', 'security.protocol=SASL_SSL', '-X', `ssl.ca.location=${pki.caFile}`, '-X', 'sasl.mechanisms=SCRAM-SHA-512', '-X', 'sasl.username=erin', '-X', 'sasl.password=tls-pass'];

  const produced = await run(kcat, ['-b', broker, ...sslArgs, '-P', '-t', 'tls-kcat'], 'over sasl_ssl\n');
  assert.equal(produced.code, 0, produced.stderr);
  const consumed = await run(kcat, ['-b', broker, ...sslArgs, '-C', '-t', 'tls-kcat', '-o', 'beginning', '-c', '1', '-e', '-f', '%s\n']);
  assert.equal(consumed.code, 0, consumed.stderr);
  assert.equal(consumed.stdout.trim(), 'over sasl_ssl');
  const untrusted = await run(kcat, ['-b', broker, '-X', 'security.protocol=SASL_SSL', '-X', 'sasl.mechanisms=PLAIN', '-X', 'sasl.username=erin', '-X', 'sasl.password=tls-pass', '-L', '-m', '3']);
  assert.notEqual(untrusted.code, 0, 'a client that does not trust the CA gets nothing');

  const pythonKafka = String.raw`
import sys
from kafka import KafkaProducer, KafkaConsumer, TopicPartition
conf = dict(bootstrap_servers=sys.argv[1], security_protocol='SASL_SSL', ssl_cafile=sys.argv[2], sasl_mechanism='PLAIN', sasl_plain_username='erin', sasl_plain_password='tls-pass')
p = KafkaProducer(acks='all', **conf)
p.send('tls-kp', value=b'kafka-python over sasl_ssl', partition=0).get(timeout=15)
p.close()
c = KafkaConsumer(consumer_timeout_ms=5000, auto_offset_reset='earliest', **conf)
c.assign([TopicPartition('tls-kp', 0)])
print([m.value.decode() for m in c])
`;
  const kp = await run(kafkaPython, ['-c', pythonKafka, broker, pki.caFile]);
  assert.equal(kp.code, 0, kp.stderr);
  assert.match(kp.stdout, /kafka-python over sasl_ssl/);

  const subscriber = run(mosquittoSub, ['-h', 'localhost', '-p', String(mqtt.port), '--cafile', pki.caFile, '-q', '1', '-t', 'tls/#', '-C', '1', '-W', '15']);
  let received: ProgramRun | null = null;
  void subscriber.then((r) => (received = r));
  for (let attempt = 0; attempt < 20 && received === null; attempt++) {
    const published = await run(mosquittoPub, ['-h', 'localhost', '-p', String(mqtt.port), '--cafile', pki.caFile, '-q', '1', '-t', 'tls/m', '-m', 'over mqtt tls']);
    assert.equal(published.code, 0, published.stderr);
    await new Promise((resolve) => setTimeout(resolve, 300));
  }
  const got = await subscriber;
  assert.equal(got.code, 0, got.stderr);
  assert.equal(got.stdout.trim(), 'over mqtt tls');
  const noCa = await run(mosquittoPub, ['-h', 'localhost', '-p', String(mqtt.port), '-q', '1', '-t', 'tls/m', '-m', 'plain']);
  assert.notEqual(noCa.code, 0, 'a plain MQTT client on the TLS port fails');

  const pahoScript = String.raw`
import sys, ssl, threading
import paho.mqtt.client as mqtt
got = threading.Event()
c = mqtt.Client(client_id='paho-tls', protocol=mqtt.MQTTv5)
c.tls_set(ca_certs=sys.argv[2])
c.on_message = lambda cl, u, m: got.set() if m.payload == b'paho over tls' else None
c.connect('localhost', int(sys.argv[1]))
c.loop_start()
c.subscribe('tls/paho', qos=1)
for _ in range(20):
    c.publish('tls/paho', b'paho over tls', qos=1).wait_for_publish(5)
    if got.wait(0.5): break
c.loop_stop()
assert got.is_set(), 'paho did not receive its own message over TLS'
print('ok')
`;
  const pahoRun = await run(paho, ['-c', pahoScript, String(mqtt.port), pki.caFile]);
  assert.equal(pahoRun.code, 0, pahoRun.stderr);
  assert.match(pahoRun.stdout, /ok/);

  assert.deepEqual(await server.stop(), { code: 0, signal: null });
});

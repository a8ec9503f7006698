/**
 * SASL with the Debian Kafka clients (security.protocol SASL_PLAINTEXT): kcat and
 * python3-confluent-kafka (librdkafka 2.0.2: SaslHandshake v1 + SaslAuthenticate), python3-kafka
 * (kafka-python 2.0.2: SaslHandshake then bare messages). Each logs in with every mechanism it
 * has, produces and reads back; a wrong password is refused. Missing tools skip these tests
 * locally and fail them in CI (requireTool from @strata/testing).
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { requireTool, runProgram, type ProgramRun } from '@strata/testing';
import { createScramCredential } from '../../src/sasl/credentials.js';
import { startKafkaServer, type KafkaTestServer } from '../helpers/kafka-server.js';

const USER = 'carol';
const PASSWORD = 'c4rol-s3cret';
let server: KafkaTestServer;

before(async () => {
  server = await startKafkaServer({
    config: {
      sasl: {
        users: { [USER]: [await createScramCredential('SCRAM-SHA-256', PASSWORD), await createScramCredential('SCRAM-SHA-512', PASSWORD)] },
      },
    },
  });
});

after(async () => {
  await server?.close();
});

function run(program: string, args: readonly string[], input = '', ms = 30_000): Promise<ProgramRun> {
  return runProgram(program, args, { input, timeoutMs: ms });
}

function saslArgs(mechanism: string, password = PASSWORD): string[] {
  return ['-X', 'security.protocol=SASL_PLAINTEXT', '-X', `sasl.mechanisms=${mechanism}`, '-X', `sasl.username=${USER}`, '-X', `sasl.password=${password}`];
}

test('kcat logs in with PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512; a wrong password gets nothing', async (t) => {
  const kcat = requireTool(t, 'kcat');
  if (kcat === null) return;
  const b = ['-b', server.bootstrap];
  const mechanisms = ['PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-512'];
  for (const mechanism of mechanisms) {
    const produced = await run(kcat, [...b, ...saslArgs(mechanism), '-P', '-t', 'kcat-sasl', '-X', 'topic.request.required.acks=-1'], `${mechanism}\n`);
    assert.equal(produced.code, 0, produced.stderr);
  }
  const consumed = await run(kcat, [...b, ...saslArgs('SCRAM-SHA-512'), '-C', '-t', 'kcat-sasl', '-o', 'beginning', '-e', '-f', '%s\\n']);
  assert.equal(consumed.code, 0, consumed.stderr);
  assert.deepEqual(consumed.stdout.trim().split('\n'), mechanisms);
  const refused = await run(kcat, [...b, ...saslArgs('SCRAM-SHA-256', 'wrong'), '-L', '-m', '3'], '', 20_000);
  assert.notEqual(refused.code, 0);
  assert.match(refused.stderr, /SASL|[Aa]uthentication/);
});

const CONFLUENT_SCRIPT = String.raw`
import sys
from confluent_kafka import Producer, Consumer, KafkaException
bootstrap, user, password = sys.argv[1], sys.argv[2], sys.argv[3]
def conf(mechanism, pw=password):
    return {'bootstrap.servers': bootstrap, 'security.protocol': 'SASL_PLAINTEXT', 'sasl.mechanisms': mechanism, 'sasl.username': user, 'sasl.password': pw}
sent = []
for mechanism in ['PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-512']:
    p = Producer({**conf(mechanism), 'acks': 'all', 'enable.idempotence': True})
    errors = []
    p.produce('ck-sasl', value=mechanism.encode(), partition=0, on_delivery=lambda e, m: e and errors.append(e))
    assert p.flush(15) == 0 and not errors, errors
    sent.append(mechanism)
c = Consumer({**conf('SCRAM-SHA-256'), 'group.id': 'ck-sasl-group', 'auto.offset.reset': 'earliest', 'isolation.level': 'read_committed'})
c.subscribe(['ck-sasl'])
got = []
for _ in range(200):
    m = c.poll(0.2)
    if m is None or m.error(): continue
    got.append(m.value().decode())
    if len(got) == len(sent): break
c.close()
assert got == sent, got
failures = []
bad = Producer({**conf('SCRAM-SHA-512', 'wrong'), 'error_cb': lambda e: failures.append(e)})
bad.poll(5)
assert any('uthentication' in str(e) or 'SASL' in str(e) for e in failures), failures
print('ok')
`;

test('confluent_kafka (librdkafka 2.0.2) logs in with each mechanism, produces idempotently and consumes', async (t) => {
  const py = requireTool(t, 'python3:confluent_kafka');
  if (py === null) return;
  const result = await run(py, ['-c', CONFLUENT_SCRIPT, server.bootstrap, USER, PASSWORD], '', 90_000);
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stdout, /ok/);
});

const KAFKA_PYTHON_SCRIPT = String.raw`
import sys
from kafka import KafkaProducer, KafkaConsumer, TopicPartition
from kafka.errors import NoBrokersAvailable, KafkaError
bootstrap, user, password = sys.argv[1], sys.argv[2], sys.argv[3]
def conf(mechanism, pw=password):
    return dict(bootstrap_servers=bootstrap, security_protocol='SASL_PLAINTEXT', sasl_mechanism=mechanism, sasl_plain_username=user, sasl_plain_password=pw)
sent = []
for mechanism in ['PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-512']:
    p = KafkaProducer(acks='all', **conf(mechanism))
    p.send('kp-sasl', value=mechanism.encode(), partition=0).get(timeout=15)
    p.close()
    sent.append(mechanism)
c = KafkaConsumer(consumer_timeout_ms=5000, auto_offset_reset='earliest', **conf('SCRAM-SHA-512'))
c.assign([TopicPartition('kp-sasl', 0)])
got = [m.value.decode() for m in c]
c.close()
assert got == sent, got
try:
    KafkaProducer(request_timeout_ms=3000, max_block_ms=3000, **conf('PLAIN', 'wrong'))
    raise SystemExit('a wrong password was accepted')
except (NoBrokersAvailable, KafkaError) as e:
    pass
print('ok')
`;

test('kafka-python 2.0.2 logs in with PLAIN and SCRAM (SaslHandshake, then bare messages), produces and consumes', async (t) => {
  const py = requireTool(t, 'python3:kafka');
  if (py === null) return;
  const result = await run(py, ['-c', KAFKA_PYTHON_SCRIPT, server.bootstrap, USER, PASSWORD], '', 90_000);
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stdout, /ok/);
});

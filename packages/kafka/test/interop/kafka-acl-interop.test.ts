/**
 * ACLs with the Debian Kafka clients over SASL PLAIN: kcat is refused where it has no grant and
 * sees only what it may describe; python3-kafka's KafkaAdminClient creates, describes and deletes
 * ACLs (Debian's confluent-kafka 1.7 binding has no ACL calls), which govern a librdkafka producer
 * of another user at once. Missing tools skip locally and fail in CI (requireTool).
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { requireTool, runProgram } from '@strata/testing';
import { createScramCredential } from '../../src/sasl/credentials.js';
import { startKafkaServer, type KafkaTestServer } from '../helpers/kafka-server.js';

let server: KafkaTestServer;

before(async () => {
  server = await startKafkaServer({
    config: {
      sasl: { mechanisms: ['PLAIN'], users: { admin: await createScramCredential('SCRAM-SHA-512', 'admin-pw'), dave: await createScramCredential('SCRAM-SHA-512', 'dave-pw') } },
      authorization: {
        superUsers: ['User:admin'],
        acls: [
          { principal: 'User:dave', operation: 'write', resourceType: 'topic', resourceName: 'dave-', patternType: 'prefixed' },
          { principal: 'User:dave', operation: 'read', resourceType: 'topic', resourceName: 'dave-', patternType: 'prefixed' },
        ],
      },
    },
  });
  for (const name of ['dave-t', 'other']) await server.core.topics.create(`persistent://public/default/${name}`, { partitions: 1 });
});

after(async () => {
  await server?.close();
});

const login = (user: string) => ['-X', 'security.protocol=SASL_PLAINTEXT', '-X', 'sasl.mechanisms=PLAIN', '-X', `sasl.username=${user}`, '-X', `sasl.password=${user}-pw`];

test('kcat: writes where granted, is refused elsewhere, lists only what it may describe', async (t) => {
  const kcat = requireTool(t, 'kcat');
  if (kcat === null) return;
  const b = ['-b', server.bootstrap, ...login('dave')];
  const ok = await runProgram(kcat, [...b, '-P', '-t', 'dave-t', '-X', 'topic.request.required.acks=-1'], { input: 'granted\n', timeoutMs: 30_000 });
  assert.equal(ok.code, 0, ok.stderr);
  const refused = await runProgram(kcat, [...b, '-P', '-t', 'other', '-X', 'topic.request.required.acks=-1', '-X', 'message.timeout.ms=5000'], { input: 'refused\n', timeoutMs: 30_000 });
  assert.match(refused.stderr, /authorization failed/i, refused.stderr);
  const listing = await runProgram(kcat, [...b, '-L', '-J'], { timeoutMs: 30_000 });
  assert.equal(listing.code, 0, listing.stderr);
  const topics = (JSON.parse(listing.stdout) as { topics: Array<{ topic: string }> }).topics.map((x) => x.topic);
  assert.ok(topics.includes('dave-t') && !topics.includes('other'), topics.join(','));
  assert.equal(server.core.offsets('persistent://public/default/other', 0).highWatermark, 0, 'nothing reached the refused topic');
});

const ACL_ADMIN_SCRIPT = String.raw`
import sys, json
from confluent_kafka import Producer, KafkaError
from kafka.admin import KafkaAdminClient, ACL, ACLFilter, ResourcePattern, ResourcePatternFilter, ResourceType, ACLOperation, ACLPermissionType, ACLResourcePatternType
bootstrap = sys.argv[1]
def produce(user):
    p = Producer({'bootstrap.servers': bootstrap, 'security.protocol': 'SASL_PLAINTEXT', 'sasl.mechanisms': 'PLAIN', 'sasl.username': user, 'sasl.password': user + '-pw', 'message.timeout.ms': 5000})
    errors = []
    p.produce('other', value=b'x', partition=0, on_delivery=lambda err, msg: errors.append(err.code() if err else None))
    p.flush(10)
    return errors[0]
before = produce('dave')
admin = KafkaAdminClient(bootstrap_servers=bootstrap, security_protocol='SASL_PLAINTEXT', sasl_mechanism='PLAIN', sasl_plain_username='admin', sasl_plain_password='admin-pw')
grant = ACL('User:dave', '*', ACLOperation.WRITE, ACLPermissionType.ALLOW, ResourcePattern(ResourceType.TOPIC, 'other'))
created = admin.create_acls([grant])
assert not created['failed'], created
described, error = admin.describe_acls(ACLFilter(None, None, ACLOperation.ANY, ACLPermissionType.ANY, ResourcePatternFilter(ResourceType.TOPIC, 'other', ACLResourcePatternType.ANY)))
granted = produce('dave')
deleted = admin.delete_acls([ACLFilter('User:dave', None, ACLOperation.ANY, ACLPermissionType.ANY, ResourcePatternFilter(ResourceType.TOPIC, 'other', ACLResourcePatternType.LITERAL))])
admin.close()
print(json.dumps({'before': before, 'authFailed': KafkaError.TOPIC_AUTHORIZATION_FAILED, 'described': [(a.principal, a.operation.name, a.permission_type.name) for a in described],
                  'granted': granted, 'deleted': [len(matching) for _, matching, _ in deleted]}))
`;

test('kafka-python KafkaAdminClient creates, describes and deletes ACLs; a librdkafka producer is governed at once', async (t) => {
  const py = requireTool(t, 'python3:kafka');
  if (py === null) return;
  if (requireTool(t, 'python3:confluent_kafka') === null) return;
  const result = await runProgram(py, ['-c', ACL_ADMIN_SCRIPT, server.bootstrap], { timeoutMs: 90_000 });
  assert.equal(result.code, 0, result.stderr.slice(-3000));
  const out = JSON.parse(result.stdout.trim().split('\n').pop()!) as { before: number; authFailed: number; described: string[][]; granted: number | null; deleted: number[] };
  assert.equal(out.before, out.authFailed, 'refused before the grant');
  assert.deepEqual(out.described, [['User:dave', 'WRITE', 'ALLOW']]);
  assert.equal(out.granted, null, 'delivered once granted');
  assert.deepEqual(out.deleted, [1]);
});

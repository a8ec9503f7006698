/**
 * Kafka transactions with python3-confluent-kafka (librdkafka 2.0.2): init_transactions, commit,
 * abort, send_offsets_to_transaction, read_committed and read_uncommitted consumers, and fencing
 * by a second producer with the same transactional.id. Missing tools skip locally and fail in CI
 * (requireTool from @strata/testing).
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { requireTool, runProgram } from '@strata/testing';
import { startKafkaServer, type KafkaTestServer } from '../helpers/kafka-server.js';

let server: KafkaTestServer;

before(async () => {
  server = await startKafkaServer();
});

after(async () => {
  await server?.close();
});

const TRANSACTIONS_SCRIPT = String.raw`
import sys, json, time
from confluent_kafka import Producer, Consumer, TopicPartition, KafkaException
from confluent_kafka.admin import AdminClient, NewTopic
bootstrap = sys.argv[1]
admin = AdminClient({'bootstrap.servers': bootstrap})
for f in admin.create_topics([NewTopic('ck-txn', num_partitions=1, replication_factor=1)]).values(): f.result(10)

p = Producer({'bootstrap.servers': bootstrap, 'transactional.id': 'ck-txn-producer', 'debug': 'feature'})
p.init_transactions(20)
p.begin_transaction()
for v in ['c1', 'c2']: p.produce('ck-txn', value=v.encode(), partition=0)
p.commit_transaction(20)
p.begin_transaction()
for v in ['a1', 'a2']: p.produce('ck-txn', value=v.encode(), partition=0)
p.flush(10)
p.abort_transaction(20)
group = Consumer({'bootstrap.servers': bootstrap, 'group.id': 'ck-txn-group'})
p.begin_transaction()
p.produce('ck-txn', value=b'c3', partition=0)
p.send_offsets_to_transaction([TopicPartition('ck-txn', 0, 5)], group.consumer_group_metadata(), 20)
p.commit_transaction(20)
group.close()

def read(isolation, last='c3'):
    c = Consumer({'bootstrap.servers': bootstrap, 'group.id': 'ck-txn-' + isolation, 'auto.offset.reset': 'earliest', 'isolation.level': isolation, 'enable.auto.commit': False})
    c.subscribe(['ck-txn'])
    got = []
    deadline = time.time() + 30
    while time.time() < deadline and last not in got:
        m = c.poll(0.5)
        if m is None or m.error(): continue
        got.append(m.value().decode())
    c.close()
    return got

committed_reader = read('read_committed')
uncommitted_reader = read('read_uncommitted')
check = Consumer({'bootstrap.servers': bootstrap, 'group.id': 'ck-txn-group'})
committed_offset = check.committed([TopicPartition('ck-txn', 0)], timeout=10)[0].offset
check.close()

# A second producer with the same transactional.id fences the first.
p.begin_transaction()
p.produce('ck-txn', value=b'zombie', partition=0)
p.flush(10)
successor = Producer({'bootstrap.servers': bootstrap, 'transactional.id': 'ck-txn-producer'})
successor.init_transactions(20)
fenced = None
try:
    p.commit_transaction(20)
    fenced = 'committed'
except KafkaException as e:
    err = e.args[0]
    fenced = 'fatal' if err.fatal() else ('abortable' if err.txn_requires_abort() else err.name())
successor.begin_transaction()
successor.produce('ck-txn', value=b'c4', partition=0)
successor.commit_transaction(20)
after_fence = read('read_committed', 'c4')
print(json.dumps({'committed': committed_reader, 'uncommitted': uncommitted_reader, 'offset': committed_offset, 'fenced': fenced, 'afterFence': after_fence}))
`;

test('confluent_kafka (librdkafka 2.0.2): transactions commit and abort, read_committed, offsets in a transaction, fencing', async (t) => {
  const py = requireTool(t, 'python3:confluent_kafka');
  if (py === null) return;
  const result = await runProgram(py, ['-c', TRANSACTIONS_SCRIPT, server.bootstrap], { timeoutMs: 120_000 });
  assert.equal(result.code, 0, result.stderr.slice(-3000));
  const out = JSON.parse(result.stdout.trim().split('\n').pop()!) as { committed: string[]; uncommitted: string[]; offset: number; fenced: string; afterFence: string[] };
  assert.deepEqual(out.committed, ['c1', 'c2', 'c3'], 'read_committed: the aborted records are dropped');
  assert.deepEqual(out.uncommitted, ['c1', 'c2', 'a1', 'a2', 'c3'], 'read_uncommitted: everything');
  assert.equal(out.offset, 5, 'the offset sent in the committed transaction');
  assert.equal(out.fenced, 'fatal', 'the first producer is fenced');
  assert.deepEqual(out.afterFence.filter((v) => v === 'zombie' || v === 'c4'), ['c4'], 'the zombie transaction was aborted');
  assert.match(result.stderr, /Enabling feature IdempotentProducer\b/);
});

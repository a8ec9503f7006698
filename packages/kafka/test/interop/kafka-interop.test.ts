/**
 * Interop with the Debian Kafka clients: kcat 1.7.1 and python3-confluent-kafka (librdkafka 2.0.2),
 * python3-kafka (kafka-python 2.0.2). Missing tools skip these tests locally and fail them in CI
 * (requireTool from @strata/testing).
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { requireTool, runProgram, type ProgramRun } from '@strata/testing';
import { startKafkaServer, type KafkaTestServer } from '../helpers/kafka-server.js';

let server: KafkaTestServer;

before(async () => {
  server = await startKafkaServer();
});

after(async () => {
  await server?.close();
});

/** Runs a program with a hard timeout (killed after `ms`), feeding `input` on stdin. */
function run(program: string, args: readonly string[], input = '', ms = 30_000): Promise<ProgramRun> {
  return runProgram(program, args, { input, timeoutMs: ms });
}

function python(py: string, script: string, ms = 60_000): Promise<ProgramRun> {
  return run(py, ['-c', script, server.bootstrap], '', ms);
}

test('kcat: metadata, produce with every codec, consume, balanced consumer group', async (t) => {
  const kcat = requireTool(t, 'kcat');
  if (kcat === null) return;
  const b = ['-b', server.bootstrap];
  for (const codec of ['none', 'gzip', 'snappy', 'lz4', 'zstd']) {
    const lines = Array.from({ length: 5 }, (_, i) => `k${i}:${codec}-${i}`).join('\n') + '\n';
    const produced = await run(kcat, [...b, '-P', '-t', 'kcat-t', '-K:', '-z', codec, '-H', `codec=${codec}`, '-X', 'topic.request.required.acks=-1'], lines);
    assert.equal(produced.code, 0, produced.stderr);
    assert.doesNotMatch(produced.stderr, /does not support compression/i);
  }
  const listed = await run(kcat, [...b, '-L']);
  assert.equal(listed.code, 0, listed.stderr);
  assert.match(listed.stdout, /topic "kcat-t" with 1 partitions/);
  assert.match(listed.stdout, new RegExp(`broker \\d+ at 127\\.0\\.0\\.1:${server.port}`));

  const consumed = await run(kcat, [...b, '-C', '-t', 'kcat-t', '-o', 'beginning', '-e', '-f', '%k=%s %h\\n']);
  assert.equal(consumed.code, 0, consumed.stderr);
  const rows = consumed.stdout.trim().split('\n');
  assert.equal(rows.length, 25);
  assert.equal(rows[0], 'k0=none-0 codec=none');
  assert.equal(rows[24], 'k4=zstd-4 codec=zstd');

  const fromOffset = await run(kcat, [...b, '-C', '-t', 'kcat-t', '-o', '20', '-e', '-f', '%o:%s\\n']);
  assert.equal(fromOffset.stdout.trim().split('\n')[0], '20:zstd-0');

  const group = await run(kcat, [...b, '-G', 'kcat-group', '-o', 'beginning', '-c', '25', '-f', '%s\\n', 'kcat-t'], '', 40_000);
  assert.equal(group.stdout.trim().split('\n').length, 25, group.stderr);
});

const CONFLUENT_SCRIPT = String.raw`
import sys, json, time
from confluent_kafka import Producer, Consumer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic, ConfigResource
bootstrap = sys.argv[1]
features = []
def log_cb(*args):
    pass
admin = AdminClient({'bootstrap.servers': bootstrap})
fs = admin.create_topics([NewTopic('ck-t', num_partitions=2, replication_factor=1)])
for f in fs.values(): f.result(10)
res = admin.describe_configs([ConfigResource('topic', 'ck-t')])
cfg = list(res.values())[0].result(10)
assert cfg['cleanup.policy'].value == 'delete', cfg
sent = 0
for codec in ['none', 'gzip', 'snappy', 'lz4', 'zstd']:
    conf = {'bootstrap.servers': bootstrap, 'compression.type': codec, 'linger.ms': 5, 'acks': 'all', 'enable.idempotence': True}
    if codec == 'none': conf['debug'] = 'feature'
    p = Producer(conf)
    errors = []
    for i in range(20):
        p.produce('ck-t', key=('k%d' % i).encode(), value=('%s-%d' % (codec, i)).encode(), headers=[('codec', codec.encode())], timestamp=1700000000000 + i, partition=i % 2,
                  on_delivery=lambda err, msg: errors.append(err) if err else None)
        sent += 1
    assert p.flush(20) == 0
    assert errors == [], errors
c = Consumer({'bootstrap.servers': bootstrap, 'group.id': 'ck-group', 'auto.offset.reset': 'earliest', 'enable.auto.commit': False})
c.subscribe(['ck-t'])
got = []
deadline = time.time() + 30
while len(got) < sent and time.time() < deadline:
    m = c.poll(0.5)
    if m is None or m.error(): continue
    got.append((m.key().decode(), m.value().decode(), dict(m.headers())['codec'].decode(), m.timestamp()[1]))
c.commit(asynchronous=False)
committed = c.committed([TopicPartition('ck-t', 0), TopicPartition('ck-t', 1)], timeout=10)
c.close()
# From a timestamp (ListOffsets by time), then from an explicit offset.
s = Consumer({'bootstrap.servers': bootstrap, 'group.id': 'ck-seek', 'enable.auto.commit': False})
times = s.offsets_for_times([TopicPartition('ck-t', 0, 1700000000000 + 10)], timeout=10)
s.assign([TopicPartition('ck-t', 0, 45)])
seek = None
deadline = time.time() + 15
while seek is None and time.time() < deadline:
    m = s.poll(0.5)
    if m is not None and not m.error(): seek = m.offset()
s.close()
print(json.dumps({'got': len(got), 'sample': got[0], 'committed': [tp.offset for tp in committed], 'byTime': times[0].offset, 'seek': seek}))
`;

test('confluent_kafka (librdkafka 2.0.2): features, idempotent produce with codecs, group consume, commit', async (t) => {
  const py = requireTool(t, 'python3:confluent_kafka');
  if (py === null) return;
  const result = await python(py, CONFLUENT_SCRIPT);
  assert.equal(result.code, 0, result.stderr.slice(-3000));
  const out = JSON.parse(result.stdout.trim().split('\n').pop()!) as { got: number; sample: [string, string, string, number]; committed: number[]; byTime: number; seek: number };
  assert.equal(out.got, 100);
  assert.equal(out.sample[2], out.sample[1].split('-')[0]);
  assert.ok(out.sample[3] >= 1700000000000);
  assert.deepEqual(out.committed, [50, 50]);
  // Partition 0 got records with timestamps base+0, +2, ... +18 for each codec (5 x 10 records).
  assert.equal(out.byTime, 5, 'first record at or after base+10 on partition 0 is its 6th');
  assert.equal(out.seek, 45);
  // librdkafka's feature detection (debug=feature) must find what it looks for.
  for (const feature of ['MsgVer2', 'BrokerBalancedConsumer', 'BrokerGroupCoordinator', 'IdempotentProducer', 'LZ4', 'ZSTD', 'OffsetTime', 'ThrottleTime']) {
    assert.match(result.stderr, new RegExp(`Enabling feature ${feature}\\b`), `librdkafka feature ${feature}`);
  }
});

const KAFKA_PYTHON_SCRIPT = String.raw`
import sys, json
from kafka import KafkaProducer, KafkaConsumer, KafkaAdminClient, TopicPartition
from kafka.admin import NewTopic
bootstrap = sys.argv[1]
admin = KafkaAdminClient(bootstrap_servers=bootstrap)
admin.create_topics([NewTopic('kp-t', 1, 1)])
p = KafkaProducer(bootstrap_servers=bootstrap, acks='all', compression_type='gzip')
version = p.config['api_version']
for i in range(10):
    p.send('kp-t', key=b'k%d' % i, value=b'v%d' % i, headers=[('h', b'x')])
p.flush(10)
c = KafkaConsumer('kp-t', bootstrap_servers=bootstrap, group_id='kp-group', auto_offset_reset='earliest', consumer_timeout_ms=5000, enable_auto_commit=False)
got = [(m.key.decode(), m.value.decode(), m.headers) for m in c]
c.commit()
committed = c.committed(TopicPartition('kp-t', 0))
c.close()
groups = [g[0] for g in admin.list_consumer_groups()]
s = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, consumer_timeout_ms=3000)
tp = TopicPartition('kp-t', 0)
s.assign([tp])
first_ts = None
s.seek(tp, 7)
seek = [m.offset for m in s][:1]
times = s.offsets_for_times({tp: 0})
end = s.end_offsets([tp])[tp]
s.close()
print(json.dumps({'version': list(version), 'got': len(got), 'first': got[0][:2], 'committed': committed, 'groups': groups, 'seek': seek, 'byTime': times[tp].offset, 'end': end}))
`;

test('kafka-python 2.0.2: version probe infers a modern broker; produce, group consume, commit', async (t) => {
  const py = requireTool(t, 'python3:kafka');
  if (py === null) return;
  const result = await python(py, KAFKA_PYTHON_SCRIPT);
  assert.equal(result.code, 0, result.stderr.slice(-3000));
  const out = JSON.parse(result.stdout.trim().split('\n').pop()!) as { version: number[]; got: number; first: string[]; committed: number; groups: string[]; seek: number[]; byTime: number; end: number };
  assert.ok(out.version[0]! >= 2, `inferred ${out.version.join('.')}`);
  assert.equal(out.got, 10);
  assert.deepEqual(out.first, ['k0', 'v0']);
  assert.equal(out.committed, 10);
  assert.ok(out.groups.includes('kp-group'));
  assert.deepEqual(out.seek, [7]);
  assert.equal(out.byTime, 0);
  assert.equal(out.end, 10);
});

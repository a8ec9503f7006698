/**
 * Interop with Debian's mosquitto_pub / mosquitto_sub (MQTT 3.1, 3.1.1 and 5) and the system python's
 * paho-mqtt 1.6 client against the handler.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { requireTool, runProgram, type ProgramRun } from '@strata/testing';
import { collect, connect, endClient, startBroker } from '../harness.js';

function run(command: string, args: string[], timeoutMs = 10_000): Promise<ProgramRun> {
  return runProgram(command, args, { timeoutMs });
}

function waitForOutput(child: ChildProcess, lines: number, timeoutMs = 10_000): Promise<string[]> {
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`mosquitto_sub printed only: ${JSON.stringify(out)}`)), timeoutMs);
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const got = out.split('\n').filter((l) => l.length > 0);
      if (got.length >= lines) {
        clearTimeout(timer);
        resolve(got);
      }
    });
  });
}

for (const version of ['mqttv31', 'mqttv311', 'mqttv5'] as const) {
  test(`mosquitto_pub → mosquitto_sub (${version}), QoS 0/1/2, retained`, async (t) => {
    const pub = requireTool(t, 'mosquitto_pub');
    const subTool = requireTool(t, 'mosquitto_sub');
    if (pub === null || subTool === null) return;
    const broker = await startBroker();
    try {
      const common = ['-h', '127.0.0.1', '-p', String(broker.port), '-V', version];
      const retained = await run(pub, [...common, '-i', `ret-${version}`, '-t', 'm/retained', '-m', 'kept', '-q', '1', '-r']);
      assert.equal(retained.code, 0, retained.stderr);
      const sub = spawn(subTool, [...common, '-i', `sub-${version}`, '-t', 'm/#', '-q', '2', '-v', '-C', '4'], { stdio: ['ignore', 'pipe', 'pipe'] });
      const lines = waitForOutput(sub, 4);
      // wait until the retained message arrived: the subscription is then in place
      await new Promise<void>((resolve) => sub.stdout!.once('data', () => resolve()));
      for (const qos of ['0', '1', '2']) {
        const r = await run(pub, [...common, '-i', `pub-${version}-${qos}`, '-t', `m/q${qos}`, '-m', `hello ${qos}`, '-q', qos]);
        assert.equal(r.code, 0, r.stderr);
      }
      assert.deepEqual(await lines, ['m/retained kept', 'm/q0 hello 0', 'm/q1 hello 1', 'm/q2 hello 2']);
      sub.kill();
    } finally {
      await broker.close();
    }
  });
}

test('mosquitto_sub -V mqttv5 with user properties from an mqtt.js publisher', async (t) => {
  const subTool = requireTool(t, 'mosquitto_sub');
  if (subTool === null) return;
  const broker = await startBroker();
  try {
    const sub = spawn(subTool, ['-h', '127.0.0.1', '-p', String(broker.port), '-V', 'mqttv5', '-t', 'up/#', '-F', '%t %p %P', '-C', '1'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const lines = waitForOutput(sub, 1);
    const pub = await connect(broker.url, { clientId: 'up-pub', protocolVersion: 5 });
    // publish until the subscriber is up (bounded)
    let done = false;
    void lines.then(() => (done = true), () => (done = true));
    for (let i = 0; i < 50 && !done; i++) {
      await pub.publishAsync('up/x', 'payload', { qos: 1, properties: { userProperties: { color: 'blue' } } });
      await new Promise((r) => setTimeout(r, 100));
    }
    const [line] = await lines;
    assert.match(line!, /^up\/x payload .*color.*blue/);
    await endClient(pub);
    sub.kill();
  } finally {
    await broker.close();
  }
});

const PAHO_SCRIPT = `
import sys, time, paho.mqtt.client as mqtt
port = int(sys.argv[1]); proto = mqtt.MQTTv5 if sys.argv[2] == '5' else mqtt.MQTTv311
got = []
def on_message(c, u, m): got.append((m.topic, m.payload.decode(), m.qos))
sub = mqtt.Client(client_id='paho-sub-' + sys.argv[2], protocol=proto)
sub.on_message = on_message
sub.connect('127.0.0.1', port)
sub.loop_start()
r = sub.subscribe('paho/#', qos=2)
time.sleep(0.5)
pub = mqtt.Client(client_id='paho-pub-' + sys.argv[2], protocol=proto)
pub.connect('127.0.0.1', port)
pub.loop_start()
for q in (0, 1, 2):
    pub.publish('paho/q%d' % q, 'hi %d' % q, qos=q).wait_for_publish()
deadline = time.time() + 5
while len(got) < 3 and time.time() < deadline: time.sleep(0.05)
pub.disconnect(); sub.disconnect(); pub.loop_stop(); sub.loop_stop()
for t, p, q in sorted(got): print(t, p, q)
`;

for (const version of ['4', '5'] as const) {
  test(`python3 paho-mqtt (${version === '5' ? 'MQTT 5' : '3.1.1'}) publish and subscribe, QoS 0/1/2`, async (t) => {
    const python = requireTool(t, 'python3:paho.mqtt.client');
    if (python === null) return;
    const broker = await startBroker();
    try {
      const r = await run(python, ['-c', PAHO_SCRIPT, String(broker.port), version], 20_000);
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(r.stdout.trim().split('\n'), ['paho/q0 hi 0 0', 'paho/q1 hi 1 1', 'paho/q2 hi 2 2']);
    } finally {
      await broker.close();
    }
  });
}

/**
 * Authentication and ACLs with Debian's clients: mosquitto_pub/mosquitto_sub log in with -u/-P
 * (and are refused with a wrong password or none), mosquitto_sub gets a refused subscription, and
 * paho-mqtt (3.1.1 and 5) sees SUBACK failure codes for a filter an ACL denies beside a granted
 * one — what the Paho interoperability suite's test_subscribe_failure checks.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { requireTool, runProgram, type ProgramRun } from '@strata/testing';
import { hashPassword } from '../../src/auth/password-hash.js';
import { startBroker, type TestBroker } from '../harness.js';

function run(command: string, args: string[], timeoutMs = 15_000): Promise<ProgramRun> {
  return runProgram(command, args, { timeoutMs });
}

async function authBroker(): Promise<TestBroker> {
  return startBroker({
    config: {
      allowAnonymous: false,
      users: { eve: await hashPassword('apple', 1024) },
      acl: [{ filter: 'test/nosubscribe', access: 'deny' }],
    },
  });
}

test('mosquitto clients log in with -u/-P; a wrong password and an anonymous client are refused; a denied subscription fails', async (t) => {
  const pub = requireTool(t, 'mosquitto_pub');
  const sub = requireTool(t, 'mosquitto_sub');
  if (pub === null || sub === null) return;
  const broker = await authBroker();
  try {
    for (const version of ['mqttv311', 'mqttv5']) {
      const common = ['-h', '127.0.0.1', '-p', String(broker.port), '-V', version];
      const retained = await run(pub, [...common, '-u', 'eve', '-P', 'apple', '-t', 'auth/r', '-m', `kept-${version}`, '-q', '1', '-r']);
      assert.equal(retained.code, 0, retained.stderr);
      const got = await run(sub, [...common, '-u', 'eve', '-P', 'apple', '-t', 'auth/r', '-C', '1', '-W', '10']);
      assert.equal(got.code, 0, got.stderr);
      assert.equal(got.stdout.trim(), `kept-${version}`);
      const wrong = await run(pub, [...common, '-u', 'eve', '-P', 'pear', '-t', 'auth/r', '-m', 'x']);
      assert.notEqual(wrong.code, 0);
      assert.match(wrong.stderr, /not authori[sz]ed|bad user name or password|Connection Refused/i);
      const anonymous = await run(pub, [...common, '-t', 'auth/r', '-m', 'x']);
      assert.notEqual(anonymous.code, 0);
      // mosquitto_sub 2.0 reports the refusal and exits (with 0) rather than waiting out -W.
      const denied = await run(sub, [...common, '-u', 'eve', '-P', 'apple', '-t', 'test/nosubscribe', '-C', '1', '-W', '10']);
      assert.match(denied.stderr, /All subscription requests were denied/, denied.stderr);
    }
  } finally {
    await broker.close();
  }
});

const PAHO = String.raw`
import sys, threading
import paho.mqtt.client as mqtt
port, version = int(sys.argv[1]), sys.argv[2]
proto = mqtt.MQTTv5 if version == '5' else mqtt.MQTTv311
done = threading.Event()
codes = []
def on_subscribe(client, userdata, mid, granted, *rest):
    codes.extend([getattr(g, 'value', g) for g in granted])
    done.set()
c = mqtt.Client(client_id='paho-auth-' + version, protocol=proto)
c.username_pw_set('eve', 'apple')
c.on_subscribe = on_subscribe
c.connect('127.0.0.1', port)
c.loop_start()
c.subscribe([('test/nosubscribe', 1), ('test/ok', 1)])
assert done.wait(10), 'no SUBACK'
c.loop_stop()
print(codes)
`;

test('paho-mqtt (3.1.1 and 5): SUBACK fails the denied filter and grants the other', async (t) => {
  const python = requireTool(t, 'python3:paho.mqtt.client');
  if (python === null) return;
  const broker = await authBroker();
  try {
    const v311 = await run(python, ['-c', PAHO, String(broker.port), '4']);
    assert.equal(v311.code, 0, v311.stderr);
    assert.equal(v311.stdout.trim(), '[128, 1]');
    const v5 = await run(python, ['-c', PAHO, String(broker.port), '5']);
    assert.equal(v5.code, 0, v5.stderr);
    assert.equal(v5.stdout.trim(), '[135, 1]');
  } finally {
    await broker.close();
  }
});

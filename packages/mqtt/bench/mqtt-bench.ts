/**
 * MQTT benchmark: Strata (its own process, core with fsync `always`: every message is persisted) and
 * Debian's mosquitto (default in-memory persistence) side by side, on free loopback ports, driven by
 * the same load generator (mqtt.js clients; raw sockets for idle connections).
 *
 *   npm run bench:mqtt                    all scenarios
 *   npm run bench:mqtt -- --idle 2000     fewer idle connections (default 10000)
 *   npm run bench:mqtt -- --with-interval also Strata with fsync interval:5 (opt-in durability)
 *   npm run bench:mqtt -- --only p2p      only the 1→1 scenarios (`--only qos1`: 1→1 QoS 1 alone)
 *   STRATA_BENCH_SERVER_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/p"   Node flags for Strata's server process
 *   npm run bench:mqtt -- --rounds 3      repeat the scenarios, alternating which broker goes first
 *   npm run bench:mqtt -- --generator raw 1→1 driven only by raw-client.ts processes (one publisher,
 *                                         one subscriber process); `mqttjs`: only by mqtt.js in this
 *                                         process; default `both`, each 1→1 scenario with each
 *   npm run bench:mqtt -- --no-warmup     measure from a cold start (no untimed 1→1 pass first)
 *
 * Scenarios: 1→1 QoS 0, 1→1 QoS 1 (window 200), 1→100 fan-out (QoS 0), 100→1 fan-in (QoS 1),
 * N idle connections (server RSS per connection). Each is bounded in count and time.
 */
// First: UV_THREADPOOL_SIZE as strata serve sets it (the Strata server child inherits it).
import './server-thread-pool.js';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { connect as netConnect, createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import mqtt, { type MqttClient } from 'mqtt';
import * as mqttPacket from 'mqtt-packet';

const args = process.argv.slice(2);
const idleRequested = (args.includes('--idle') ? Number(args[args.indexOf('--idle') + 1]) : 10_000) || 10_000;

/**
 * Node cannot raise its own RLIMIT_NOFILE, so the idle-connection count is capped by the soft limit
 * this process got (each side of a loopback connection needs one descriptor, in different processes);
 * run `ulimit -n 20000` first for the full 10,000.
 */
function openFilesLimit(): number {
  try {
    const match = /Max open files\s+(\d+)/.exec(readFileSync('/proc/self/limits', 'utf8'));
    return match ? Number(match[1]) : 1024;
  } catch {
    return 1024;
  }
}
const idleTarget = Math.min(idleRequested, openFilesLimit() - 500);
if (idleTarget < idleRequested) process.stderr.write(`ulimit -n allows ${idleTarget} idle connections, not ${idleRequested}\n`);
const only = args.includes('--only') ? args[args.indexOf('--only') + 1] : undefined;
const onlyP2p = only === 'p2p' || only === 'qos1';
/** `--only qos1`: the 1→1 QoS 1 scenario alone (for profiling the server: STRATA_BENCH_SERVER_NODE_ARGS). */
const onlyQos1 = only === 'qos1';
const rounds = Math.max(1, Math.min(10, Number(args.includes('--rounds') ? args[args.indexOf('--rounds') + 1] : 1) || 1));
/**
 * Load generator of the 1→1 scenarios: `mqttjs` (mqtt.js clients in this process), `raw`
 * (raw-client.ts processes: one publisher, one subscriber) or `both` (the default: each scenario
 * with each generator, so that one run shows the brokers both with a generator that is the
 * bottleneck and with one that is not).
 */
const generatorArg = args.includes('--generator') ? args[args.indexOf('--generator') + 1] : 'both';
if (generatorArg !== 'mqttjs' && generatorArg !== 'raw' && generatorArg !== 'both') throw new Error(`--generator mqttjs|raw|both, got ${String(generatorArg)}`);
const generators: readonly ('mqttjs' | 'raw')[] = generatorArg === 'both' ? ['mqttjs', 'raw'] : [generatorArg];
const PAYLOAD = Buffer.alloc(64, 0x61);
const SCENARIO_MS_MAX = 30_000;

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

interface Broker {
  readonly name: string;
  readonly port: number;
  readonly pid: number;
  /** Asks the server to collect garbage before a memory reading (Node only). */
  gc?(): Promise<void>;
  stop(): Promise<void>;
}

function waitReady(child: ChildProcess, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const deadline = Date.now() + 20_000;
    const tryConnect = (): void => {
      const s = netConnect(port, '127.0.0.1');
      s.once('connect', () => {
        s.destroy();
        resolve();
      });
      s.once('error', () => {
        s.destroy();
        if (Date.now() > deadline) reject(new Error('broker did not start'));
        else setTimeout(tryConnect, 100);
      });
    };
    child.once('exit', (code) => reject(new Error(`broker exited with ${code}`)));
    tryConnect();
  });
}

async function startStrata(fsync?: string): Promise<Broker> {
  const port = await freePort();
  const script = fileURLToPath(new URL('./bench-server.js', import.meta.url));
  const nodeArgs = (process.env['STRATA_BENCH_SERVER_NODE_ARGS'] ?? '').split(' ').filter((arg) => arg.length > 0);
  const child = spawn(process.execPath, ['--expose-gc', ...nodeArgs, script, String(port), ...(fsync ? [fsync] : [])], { stdio: ['pipe', 'ignore', 'inherit'] });
  await waitReady(child, port);
  // "gc" on stdin makes the server collect garbage, so RSS reflects live memory
  const gc = async (): Promise<void> => {
    child.stdin!.write('gc\n');
    await new Promise((r) => setTimeout(r, 500));
  };
  return { name: fsync ? `strata (fsync ${fsync})` : 'strata', port, pid: child.pid!, gc, stop: () => stopChild(child) };
}

async function startMosquitto(): Promise<Broker | null> {
  const binary = ['/usr/sbin/mosquitto', '/usr/bin/mosquitto'].find((p) => {
    try {
      readFileSync(p);
      return true;
    } catch {
      return false;
    }
  });
  if (binary === undefined) {
    process.stderr.write('mosquitto not installed (apt-get install -y mosquitto): Strata only\n');
    return null;
  }
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'mosquitto-bench-'));
  const conf = join(dir, 'mosquitto.conf');
  writeFileSync(conf, `listener ${port} 127.0.0.1\nallow_anonymous true\nmax_connections -1\n`);
  const child = spawn(binary, ['-c', conf], { stdio: ['ignore', 'ignore', 'ignore'] });
  await waitReady(child, port);
  return {
    name: 'mosquitto',
    port,
    pid: child.pid!,
    stop: async () => {
      await stopChild(child);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function stopChild(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null) return resolve();
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

function client(port: number, clientId: string): Promise<MqttClient> {
  return new Promise((resolve, reject) => {
    const c = mqtt.connect(`mqtt://127.0.0.1:${port}`, { clientId, reconnectPeriod: 0, protocolVersion: 4, keepalive: 60 });
    c.once('connect', () => resolve(c));
    c.once('error', reject);
  });
}

function endAll(clients: MqttClient[]): Promise<void> {
  return Promise.all(clients.map((c) => new Promise<void>((r) => c.end(true, {}, () => r())))).then(() => undefined);
}

interface Result {
  readonly received: number;
  readonly expected: number;
  readonly ms: number;
}

/**
 * Waits until `count()` reaches `target`, stops growing for a second, or the scenario times out;
 * returns the time from `started` to the last message received.
 */
async function until(count: () => number, target: number, started: number): Promise<number> {
  let last = count();
  let lastChangeMs = Date.now();
  while (count() < target && Date.now() - started < SCENARIO_MS_MAX && Date.now() - lastChangeMs < 1000) {
    await new Promise((r) => setTimeout(r, 5));
    if (count() !== last) {
      last = count();
      lastChangeMs = Date.now();
    }
  }
  return Math.max(1, lastChangeMs - started);
}

/** Publishes `total` messages keeping at most `window` QoS 1 publishes unacknowledged. */
function publishWindowed(pub: MqttClient, topic: string, total: number, window: number, qos: 0 | 1): Promise<void> {
  return new Promise((resolve) => {
    let sent = 0;
    let acked = 0;
    if (qos === 0) {
      const burst = (): void => {
        for (let i = 0; i < 1000 && sent < total; i++, sent++) pub.publish(topic, PAYLOAD, { qos: 0 });
        if (sent < total) setImmediate(burst);
        else resolve();
      };
      burst();
      return;
    }
    const next = (): void => {
      while (sent < total && sent - acked < window) {
        sent++;
        pub.publish(topic, PAYLOAD, { qos: 1 }, () => {
          acked++;
          if (acked === total) resolve();
          else next();
        });
      }
    };
    next();
  });
}

async function pointToPoint(port: number, qos: 0 | 1, total: number): Promise<Result> {
  const sub = await client(port, `p2p-sub-${qos}`);
  const pub = await client(port, `p2p-pub-${qos}`);
  let received = 0;
  sub.on('message', () => received++);
  await sub.subscribeAsync('bench/p2p', { qos });
  const started = Date.now();
  await publishWindowed(pub, 'bench/p2p', total, 200, qos);
  const ms = await until(() => received, total, started);
  await endAll([sub, pub]);
  return { received, expected: total, ms };
}

/** A child process of raw-client.js; resolves its JSON result line. */
function rawChild(role: 'pub' | 'sub', argv: string[]): { ready: Promise<void>; go: () => void; result: Promise<Record<string, number>>; kill: () => void } {
  const script = fileURLToPath(new URL('./raw-client.js', import.meta.url));
  const child = spawn(process.execPath, [script, role, ...argv], { stdio: ['pipe', 'pipe', 'inherit'] });
  let buffered = '';
  let onReady: () => void = () => {};
  let onResult: (r: Record<string, number>) => void = () => {};
  const ready = new Promise<void>((r) => (onReady = r));
  const result = new Promise<Record<string, number>>((r) => (onResult = r));
  child.stdout!.on('data', (d: Buffer) => {
    buffered += d.toString();
    let nl: number;
    while ((nl = buffered.indexOf('\n')) >= 0) {
      const line = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      if (line === 'ready') onReady();
      else if (line.startsWith('{')) onResult(JSON.parse(line) as Record<string, number>);
    }
  });
  return { ready, go: () => child.stdin!.write('go\n'), result, kill: () => child.kill('SIGKILL') };
}

/** 1→1 with raw-client.js processes: the rate is from the publisher's first write to the last message received. */
async function rawPointToPoint(port: number, qos: 0 | 1, total: number): Promise<Result> {
  const topic = `bench/raw${qos}`;
  const sub = rawChild('sub', [String(port), topic, String(qos), String(total)]);
  await sub.ready;
  const pub = rawChild('pub', [String(port), topic, String(qos), String(total), '200']);
  await pub.ready;
  sub.go();
  await new Promise((r) => setTimeout(r, 20));
  pub.go();
  const [s, p] = await Promise.all([sub.result, pub.result]);
  sub.kill();
  pub.kill();
  return { received: s['received']!, expected: total, ms: Math.max(1, s['lastMs']! - p['startMs']!) };
}

async function fanOut(port: number, subscribers: number, total: number): Promise<Result> {
  const subs = await Promise.all(Array.from({ length: subscribers }, (_, i) => client(port, `fan-sub-${i}`)));
  let received = 0;
  for (const s of subs) {
    s.on('message', () => received++);
    await s.subscribeAsync('bench/fanout', { qos: 0 });
  }
  const pub = await client(port, 'fan-pub');
  const started = Date.now();
  await publishWindowed(pub, 'bench/fanout', total, 200, 0);
  const ms = await until(() => received, total * subscribers, started);
  await endAll([...subs, pub]);
  return { received, expected: total * subscribers, ms };
}

async function fanIn(port: number, publishers: number, each: number): Promise<Result> {
  const sub = await client(port, 'fanin-sub');
  let received = 0;
  sub.on('message', () => received++);
  await sub.subscribeAsync('bench/fanin/#', { qos: 1 });
  const pubs = await Promise.all(Array.from({ length: publishers }, (_, i) => client(port, `fanin-pub-${i}`)));
  const started = Date.now();
  await Promise.all(pubs.map((p, i) => publishWindowed(p, `bench/fanin/${i}`, each, 20, 1)));
  const ms = await until(() => received, publishers * each, started);
  await endAll([sub, ...pubs]);
  return { received, expected: publishers * each, ms };
}

/** CPU time the process has used, ms, user and system, from /proc/<pid>/stat (fields 14 and 15, in clock ticks). */
function cpuMs(pid: number): { user: number; system: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticksPerSecond = 100; // USER_HZ on Linux
  return { user: (Number(fields[11]) * 1000) / ticksPerSecond, system: (Number(fields[12]) * 1000) / ticksPerSecond };
}

function rssBytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const match = /VmRSS:\s+(\d+) kB/.exec(status);
  return match ? Number(match[1]) * 1024 : 0;
}

async function idleConnections(broker: Broker, count: number): Promise<{ connected: number; bytesPerConnection: number }> {
  await broker.gc?.();
  const before = rssBytes(broker.pid);
  const sockets: Socket[] = [];
  let connected = 0;
  const one = (i: number): Promise<void> =>
    new Promise((resolve) => {
      const s = netConnect(broker.port, '127.0.0.1');
      sockets.push(s);
      s.once('error', () => resolve());
      s.once('connect', () => {
        s.write(mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clientId: `idle-${i}`, clean: true, keepalive: 0 }));
      });
      s.once('data', () => {
        connected++;
        resolve();
      });
    });
  for (let i = 0; i < count; i += 500) {
    await Promise.all(Array.from({ length: Math.min(500, count - i) }, (_, j) => one(i + j)));
  }
  await new Promise((r) => setTimeout(r, 1000));
  await broker.gc?.();
  const after = rssBytes(broker.pid);
  for (const s of sockets) s.destroy();
  await new Promise((r) => setTimeout(r, 1000));
  return { connected, bytesPerConnection: connected === 0 ? 0 : Math.round((after - before) / connected) };
}

function rate(r: Result): string {
  const perSecond = Math.round((r.received / r.ms) * 1000);
  const loss = r.received < r.expected ? ` (${r.expected - r.received} not delivered)` : '';
  return `${perSecond.toLocaleString('en-US')} msg/s${loss}`;
}

async function main(): Promise<void> {
  const brokers: Broker[] = [];
  const strata = await startStrata();
  brokers.push(strata);
  const mosquitto = await startMosquitto();
  if (mosquitto !== null) brokers.push(mosquitto);
  // Opt-in: the same handler with interval fsync, to show what the fsync-per-append costs.
  if (args.includes('--with-interval')) brokers.push(await startStrata('interval:5'));
  const rows: [string, ...string[]][] = [];
  const json: Record<string, Record<string, unknown>> = {};
  try {
    const scenarios: [string, (b: Broker) => Promise<Result>][] = [];
    for (const generator of generators) {
      const p2p = generator === 'raw' ? rawPointToPoint : pointToPoint;
      const generatorNote = generator === 'raw' ? ', raw generator' : '';
      if (!onlyQos1) scenarios.push([`1→1 QoS 0 (100k × 64 B${generatorNote})`, (b) => p2p(b.port, 0, 100_000)]);
      // 100k: at 30-60k msgs/s a 30k run lasted half a second, and one slow fsync of this shared
      // disk decided it (Strata's QoS 1 rate is the window over the group commit's round trip).
      scenarios.push([`1→1 QoS 1 (100k × 64 B, window 200${generatorNote})`, (b) => p2p(b.port, 1, 100_000)]);
    }
    const p2p = generators[0] === 'raw' ? rawPointToPoint : pointToPoint;
    if (!onlyP2p) {
      scenarios.push(['1→100 fan-out QoS 0 (1k × 100 subs)', (b) => fanOut(b.port, 100, 1000)]);
      scenarios.push(['100→1 fan-in QoS 1 (100 × 300)', (b) => fanIn(b.port, 100, 300)]);
    }
    if (!args.includes('--no-warmup')) {
      // Untimed first pass per broker, the same for each: Node compiles its hot paths in the first
      // seconds (a cold Strata measured 30-40% lower in the first round), mosquitto is unaffected.
      for (const b of brokers) {
        await p2p(b.port, 0, 30_000);
        await p2p(b.port, 1, 10_000);
      }
    }
    for (let round = 0; round < rounds; round++) {
      // Alternate which broker runs first, so neither always gets the quieter moment.
      const order = round % 2 === 0 ? brokers : [...brokers].reverse();
      for (const [name, run] of scenarios) {
        const cells = new Map<Broker, string>();
        for (const b of order) {
          const cpuBefore = cpuMs(b.pid);
          const r = await run(b);
          // Server CPU per delivered message: steadier than the rate on a shared machine, since it does not count time waiting for a core.
          const cpuAfter = cpuMs(b.pid);
          const perMessage = (ms: number): number | null => (r.received > 0 ? Number(((ms * 1000) / r.received).toFixed(2)) : null);
          const userUsPerMessage = perMessage(cpuAfter.user - cpuBefore.user);
          const systemUsPerMessage = perMessage(cpuAfter.system - cpuBefore.system);
          const cpuUsPerMessage = perMessage(cpuAfter.user - cpuBefore.user + cpuAfter.system - cpuBefore.system);
          cells.set(b, rate(r));
          const runs = ((json[name] ??= {})[b.name] ??= []) as unknown[];
          runs.push({ msgPerSecond: Math.round((r.received / r.ms) * 1000), received: r.received, expected: r.expected, ms: r.ms, cpuUsPerMessage, userUsPerMessage, systemUsPerMessage });
          process.stderr.write(`round ${round + 1} ${name} ${b.name}: ${rate(r)}, server CPU ${cpuUsPerMessage} µs/msg (user ${userUsPerMessage}, system ${systemUsPerMessage})\n`);
        }
        rows.push([rounds > 1 ? `${name}, round ${round + 1}` : name, ...brokers.map((b) => cells.get(b)!)]);
      }
    }
    if (onlyP2p) return finish(brokers, rows, json);
    const idleRow: [string, ...string[]] = [`${idleTarget} idle connections (server RSS / connection)`];
    for (const b of brokers) {
      const r = await idleConnections(b, idleTarget);
      idleRow.push(`${(r.bytesPerConnection / 1024).toFixed(1)} KiB (${r.connected} connected)`);
      (json['idle'] ??= {})[b.name] = r;
      process.stderr.write(`idle ${b.name}: ${JSON.stringify(r)}\n`);
    }
    rows.push(idleRow);
  } finally {
    for (const b of brokers) await b.stop();
  }
  finish(brokers, rows, json);
}

function finish(brokers: Broker[], rows: [string, ...string[]][], json: Record<string, Record<string, unknown>>): void {
  const header = ['scenario', ...brokers.map((b) => b.name)];
  const lines = [`| ${header.join(' | ')} |`, `|${header.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`)];
  process.stdout.write(`\n${lines.join('\n')}\n\n${JSON.stringify(json)}\n`);
}

await main();

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { connect, createServer } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cliPath, freePort, makeTempDir, runProgram, spawnServer, waitFor, type ProgramRun } from '@strata/testing';
import { exchange } from './net-helpers.js';

const echoModule = fileURLToPath(new URL('./echo-handler.js', import.meta.url));
const stuckModule = fileURLToPath(new URL('./stuck-close-handler.js', import.meta.url));
const asyncBugModule = fileURLToPath(new URL('./async-bug-handler.js', import.meta.url));
const slowStartModule = fileURLToPath(new URL('./slow-start-handler.js', import.meta.url));

/** Runs the CLI to completion (bounded); for the cases that must fail before "ready". */
function runCli(args: string[], env: Record<string, string> = {}, timeoutMs = 15_000): Promise<ProgramRun> {
  return runProgram(process.execPath, [cliPath, ...args], { env: { PATH: process.env['PATH'] ?? '', ...env }, timeoutMs });
}

test('strata serve prints one line per listener and ready, serves, and exits 0 on SIGTERM', async (t) => {
  const dir = await makeTempDir();
  t.after(() => dir.remove());
  const server = await spawnServer({ dataDir: dir.path, args: ['--handler-module', echoModule] });
  t.after(() => server.kill('SIGKILL'));
  const lines = server.stdout().trim().split('\n');
  assert.equal(lines[lines.length - 1], 'strata: ready');
  const listenerLines = lines.slice(0, -1);
  for (const line of listenerLines) assert.match(line, /^strata: [a-z][a-z0-9-]* listening on 127\.0\.0\.1:\d+$/);
  assert.equal(listenerLines.length, server.addresses.size, 'one line per bound listener, nothing else');
  assert.ok(listenerLines.includes(`strata: echo listening on 127.0.0.1:${server.address('echo').port}`));
  assert.ok(listenerLines.includes(`strata: echo-upper listening on 127.0.0.1:${server.address('echo-upper').port}`));
  assert.equal(await exchange(server.address('echo-upper').port, 'abc', 3), 'ABC');

  server.kill('SIGTERM');
  const status = await server.waitExit(15_000);
  assert.deepEqual(status, { code: 0, signal: null });
  const logLines = server.stderr().trim().split('\n').map((line) => JSON.parse(line) as { msg: string; level: string });
  assert.ok(logLines.some((line) => line.msg === 'shutting down'));
  assert.ok(logLines.some((line) => line.msg === 'server stopped'), 'JSON log lines on stderr end with the stop');
});

async function ipv6LoopbackWorks(): Promise<boolean> {
  const probe = createServer();
  return new Promise((resolve) => {
    probe.once('error', () => resolve(false));
    probe.listen(0, '::1', () => probe.close(() => resolve(true)));
  });
}

test('--host ::1 binds IPv6 and prints the address in brackets', async (t) => {
  if (!(await ipv6LoopbackWorks())) {
    t.skip('no IPv6 loopback on this machine');
    return;
  }
  const dir = await makeTempDir();
  t.after(() => dir.remove());
  const server = await spawnServer({ dataDir: dir.path, args: ['--handler-module', echoModule, '--host', '::1'] });
  t.after(() => server.kill('SIGKILL'));
  const echo = server.address('echo');
  assert.equal(echo.host, '::1');
  assert.ok(server.stdout().includes(`strata: echo listening on [::1]:${echo.port}\n`));
  assert.equal((await server.stop()).code, 0);
});

test('SIGINT shuts down gracefully too', async (t) => {
  const dir = await makeTempDir();
  t.after(() => dir.remove());
  const server = await spawnServer({ dataDir: dir.path, args: ['--handler-module', echoModule] });
  t.after(() => server.kill('SIGKILL'));
  server.kill('SIGINT');
  assert.deepEqual(await server.waitExit(15_000), { code: 0, signal: null });
});

test('a second signal exits at once (code 1) when shutdown is stuck', async (t) => {
  const dir = await makeTempDir();
  t.after(() => dir.remove());
  const server = await spawnServer({ dataDir: dir.path, args: ['--handler-module', stuckModule] });
  t.after(() => server.kill('SIGKILL'));
  server.kill('SIGTERM');
  await waitFor(() => server.stderr().includes('"server stopping"'), 10_000, { message: 'shutdown began' });
  server.kill('SIGTERM');
  assert.deepEqual(await server.waitExit(10_000), { code: 1, signal: null });
  assert.ok(server.stderr().includes('second signal'));
});

test('a shutdown longer than shutdownMsMax exits 1', async (t) => {
  const dir = await makeTempDir();
  t.after(() => dir.remove());
  const server = await spawnServer({ dataDir: dir.path, args: ['--handler-module', stuckModule, '--shutdown-ms-max', '300'] });
  t.after(() => server.kill('SIGKILL'));
  server.kill('SIGTERM');
  assert.deepEqual(await server.waitExit(10_000), { code: 1, signal: null });
  assert.ok(server.stderr().includes('shutdown took longer than shutdownMsMax'));
});

test('an uncaught exception is logged as a JSON line and exits 1', async (t) => {
  const dir = await makeTempDir();
  t.after(() => dir.remove());
  const server = await spawnServer({ dataDir: dir.path, args: ['--handler-module', asyncBugModule] });
  t.after(() => server.kill('SIGKILL'));
  const socket = connect({ host: '127.0.0.1', port: server.address('buggy').port });
  socket.on('error', () => undefined);
  assert.deepEqual(await server.waitExit(10_000), { code: 1, signal: null });
  socket.destroy();
  const fatal = server.stderr().trim().split('\n').map((line) => JSON.parse(line) as { msg: string; error?: { message: string } }).find((line) => line.msg === 'uncaught exception; exiting');
  assert.equal(fatal?.error?.message, 'async handler bug');
});

test('SIGTERM while the server is still starting stops it gracefully once started (exit 0, never ready)', async (t) => {
  const dir = await makeTempDir();
  t.after(() => dir.remove());
  const child = spawn(process.execPath, [cliPath, 'serve', '--data-dir', dir.path, '--free-ports', 'true', '--handler-module', slowStartModule], {
    env: { PATH: process.env['PATH'] ?? '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  t.after(() => child.kill('SIGKILL'));
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  await waitFor(() => stderr.includes('slow handler starting'), 15_000, { message: 'the slow handler began to start' });
  child.kill('SIGTERM');
  assert.equal(await exited, 0, stderr);
  assert.ok(!stdout.includes('strata: ready'), 'a server told to stop during start never reports ready');
  assert.ok(stderr.includes('signal during start'));
  assert.ok(stderr.includes('"server stopped"'));
});

test('flags beat env, env beats the file, the file beats defaults (end to end)', async (t) => {
  const dir = await makeTempDir();
  t.after(() => dir.remove());
  const [filePort, envPort, flagPort] = [await freePort(), await freePort(), await freePort()];
  const configPath = join(dir.path, 'strata.yaml');
  await writeFile(
    configPath,
    [`handlerModules: [${JSON.stringify(echoModule)}]`, 'listeners:', `  echo: { port: ${filePort} }`, `  echo-upper: { port: ${filePort} }`, 'echo:', '  greeting: "file:"'].join('\n'),
  );
  // echo-upper: file says filePort, env overrides; echo: file < env < flag.
  const server = await spawnServer({
    dataDir: join(dir.path, 'data'),
    freePorts: false,
    args: ['--config', configPath, '--echo-port', String(flagPort)],
    env: { STRATA_ECHO_PORT: String(envPort), STRATA_ECHO_UPPER_PORT: String(envPort) },
  });
  t.after(() => server.kill('SIGKILL'));
  assert.equal(server.address('echo').port, flagPort);
  assert.equal(server.address('echo-upper').port, envPort);
  assert.equal(await exchange(flagPort, 'x', 6), 'file:x', 'the handler section reached the handler');
  assert.equal((await server.stop()).code, 0);
});

test('configuration mistakes exit 2 with one line naming the key', async () => {
  const cases: { args: string[]; env?: Record<string, string>; text: RegExp }[] = [
    { args: ['serve', '--bogus', '1'], text: /^strata: unknown flag --bogus/ },
    { args: ['serve', '--handler-module', echoModule, '--echo-port', 'abc'], text: /^strata: invalid listeners\.echo\.port \(from flag --echo-port\)/ },
    { args: ['serve', '--log-level', 'loud'], text: /^strata: invalid logLevel/ },
    { args: ['serve'], env: { STRATA_DATADIR: '/x' }, text: /^strata: unknown environment variable STRATA_DATADIR/ },
    { args: ['serve', '--config', '/nonexistent/strata.yaml'], text: /^strata: cannot read config file \/nonexistent\/strata\.yaml: ENOENT/ },
    { args: ['serve', '--handler-module', './nowhere.js'], text: /^strata: cannot load handler module \.\/nowhere\.js/ },
    { args: ['frobnicate'], text: /^strata: unknown command "frobnicate"/ },
    {
      args: ['serve', '--handler-module', echoModule, '--echo-port', '17444', '--echo-upper-port', '17444'],
      text: /^strata: listeners echo and echo-upper both want port 17444/,
    },
  ];
  for (const { args, env, text } of cases) {
    const result = await runCli(args, env);
    assert.equal(result.code, 2, `exit code for ${args.join(' ')}: ${result.stderr}`);
    assert.match(result.stderr, text);
    assert.equal(result.stderr.trim().split('\n').length, 1, `one line for ${args.join(' ')}: ${result.stderr}`);
    assert.equal(result.stdout, '');
  }
});

test('a handler section the handler rejects (INVALID_ARGUMENT at start) exits 2', async (t) => {
  const dir = await makeTempDir();
  t.after(() => dir.remove());
  const configPath = join(dir.path, 'strata.yaml');
  await writeFile(configPath, 'kafka:\n  noSuchKafkaSetting: 1\n');
  const result = await runCli(['serve', '--data-dir', join(dir.path, 'data'), '--free-ports', 'true', '--config', configPath]);
  assert.equal(result.code, 2, result.stderr);
  assert.match(result.stderr, /^strata: handler kafka failed to start: .*noSuchKafkaSetting$/m);
});

test('a second server on the same data directory exits 1 with one line', async (t) => {
  const dir = await makeTempDir();
  t.after(() => dir.remove());
  const first = await spawnServer({ dataDir: dir.path });
  t.after(() => first.kill('SIGKILL'));
  const second = await runCli(['serve', '--data-dir', dir.path, '--free-ports', 'true', '--log-level', 'silent']);
  assert.equal(second.code, 1);
  assert.match(second.stderr, /^strata: data directory .* is in use/);
  assert.equal(second.stderr.trim().split('\n').length, 1, second.stderr);
  assert.deepEqual(await first.stop(), { code: 0, signal: null }, 'the first server is unharmed');
});

test('a port already in use exits 1 naming the listener and address', async (t) => {
  const dir = await makeTempDir();
  t.after(() => dir.remove());
  const blocker = createServer();
  await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
  t.after(() => blocker.close());
  const port = (blocker.address() as { port: number }).port;
  const result = await runCli(['serve', '--data-dir', dir.path, '--handler-module', echoModule, '--free-ports', 'true', '--echo-port', String(port)]);
  assert.equal(result.code, 1);
  assert.match(result.stderr, new RegExp(`strata: cannot bind listener echo on 127\\.0\\.0\\.1:${port}: address already in use`));
});

test('--help lists the flags, including one per listener of loaded handlers', async () => {
  const result = await runCli(['serve', '--help', '--handler-module', echoModule]);
  assert.equal(result.code, 0);
  for (const flag of ['--data-dir', '--host', '--advertised-host', '--fsync', '--log-level', '--echo-port', '--echo-upper-port', 'STRATA_ECHO_UPPER_PORT']) {
    assert.ok(result.stdout.includes(flag), `help mentions ${flag}`);
  }
});

/** Threads of a running process (main, V8's, libuv's pool, ...), from /proc. */
async function threadCount(pid: number): Promise<number> {
  const { readdir } = await import('node:fs/promises');
  return (await readdir(`/proc/${pid}/task`)).length;
}

test("the strata launcher starts libuv's thread pool with 8 threads unless UV_THREADPOOL_SIZE is set", async (t) => {
  // The pool starts while the server opens its core; its threads are then there for good. The
  // same server with UV_THREADPOOL_SIZE=4 (libuv's default) has exactly 4 threads fewer: the launcher
  // set the variable before the pool started (an ES module entry point could not: Node's module
  // loader starts the pool first).
  const counts = new Map<string, number>();
  for (const size of ['unset', '4']) {
    const dir = await makeTempDir();
    t.after(() => dir.remove());
    const env: Record<string, string> = size === 'unset' ? {} : { UV_THREADPOOL_SIZE: size };
    const saved = process.env['UV_THREADPOOL_SIZE'];
    delete process.env['UV_THREADPOOL_SIZE']; // spawnServer passes this process's environment on
    try {
      const server = await spawnServer({ dataDir: dir.path, args: ['--handler-module', echoModule], env });
      t.after(() => server.kill('SIGKILL'));
      counts.set(size, await threadCount(server.pid));
      assert.equal((await server.stop()).code, 0);
    } finally {
      if (saved !== undefined) process.env['UV_THREADPOOL_SIZE'] = saved;
    }
  }
  assert.equal(counts.get('unset')! - counts.get('4')!, 4, `threads: ${JSON.stringify(Object.fromEntries(counts))}`);
});

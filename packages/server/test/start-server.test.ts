import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { makeTempDir, waitFor } from '@strata/testing';
import type { ProtocolHandler } from '@strata/core';
import { ConfigError } from '../src/config/config-error.js';
import { ListenError } from '../src/listener.js';
import { HandlerStartError, startServer } from '../src/start-server.js';
import { createEchoHandler } from './echo-handler.js';
import { fakeCore } from './fake-core.js';
import { closedByPeer, exchange, openSocket } from './net-helpers.js';

test('startServer binds free ports, builds the context, and hands sockets to handleConnection', async (t) => {
  const dir = await makeTempDir();
  t.after(() => dir.remove());
  const probe = fakeCore();
  const echo = createEchoHandler();
  const server = await startServer({
    dataDir: dir.path,
    handlers: [echo],
    openCore: probe.openCore,
    config: { advertisedHost: 'strata.example', fsync: 'interval:20', echo: { greeting: 'hi:' } },
  });
  t.after(() => server.close());

  const echoAddress = server.addresses.get('echo');
  const upperAddress = server.addresses.get('echo-upper');
  assert.ok(echoAddress && upperAddress);
  assert.equal(echoAddress.host, '127.0.0.1');
  assert.notEqual(echoAddress.port, 0);
  assert.notEqual(echoAddress.port, upperAddress.port);

  assert.equal(await exchange(echoAddress.port, 'ping', 7), 'hi:ping');
  assert.equal(await exchange(upperAddress.port, 'ping', 7), 'hi:PING');
  assert.equal(echo.connections.length, 2);
  assert.equal(echo.connections[0]?.listenerId, 'echo');
  assert.equal(echo.connections[0]?.localPort, echoAddress.port);
  assert.equal(echo.connections[0]?.remoteAddress, '127.0.0.1');
  assert.equal(echo.connections[1]?.listenerId, 'echo-upper');

  const context = echo.context;
  assert.ok(context);
  assert.equal(context.core, server.core);
  assert.equal(context.advertisedHost, 'strata.example');
  assert.deepEqual(context.config, { greeting: 'hi:' });
  assert.deepEqual([...context.listeners.keys()].sort(), ['echo', 'echo-upper']);
  assert.equal(context.signal.aborted, false);
  assert.deepEqual(probe.opened[0]?.fsync, { kind: 'interval', intervalMs: 20 });
  assert.equal(probe.opened[0]?.dataDir, dir.path);
  assert.deepEqual(echo.advertise().map((a) => a.host), ['strata.example', 'strata.example']);

  await server.close();
  assert.equal(context.signal.aborted, true);
  assert.equal(echo.closeCalls, 1);
  assert.deepEqual(probe.events, ['core:open', 'core:close']);
  await server.close(); // idempotent
  assert.equal(echo.closeCalls, 1);
  await assert.rejects(openSocket(echoAddress.port), /ECONNREFUSED/);
});

test('shutdown order: stop accepting, handlers close (finishing work), then the core closes', async (t) => {
  const dir = await makeTempDir();
  t.after(() => dir.remove());
  const events: string[] = [];
  const probe = fakeCore(events);
  let port = 0;
  const echo = createEchoHandler({
    onClose: async () => {
      events.push('handler:close-begin');
      // New connections are refused while the handler finishes its in-flight work.
      await assert.rejects(openSocket(port), /ECONNREFUSED/);
      await new Promise((resolve) => setTimeout(resolve, 20));
      events.push('handler:close-end');
    },
  });
  const server = await startServer({ dataDir: dir.path, handlers: [echo], openCore: probe.openCore });
  port = server.addresses.get('echo')?.port ?? 0;
  const open = await openSocket(port);
  await server.close();
  assert.deepEqual(events, ['core:open', 'handler:close-begin', 'handler:close-end', 'core:close']);
  assert.equal(await closedByPeer(open), true, 'open connections are closed at shutdown');
});

test('two listeners on one port are refused before anything is opened', async (t) => {
  const dir = await makeTempDir();
  t.after(() => dir.remove());
  const probe = fakeCore();
  await assert.rejects(
    startServer({
      dataDir: dir.path,
      handlers: [createEchoHandler()],
      openCore: probe.openCore,
      config: { listeners: { echo: { port: 17555 }, 'echo-upper': { port: 17555 } } },
    }),
    (error: unknown) => error instanceof ConfigError && /listeners echo and echo-upper both want port 17555/.test(error.message),
  );
  assert.equal(probe.opened.length, 0);
});

test('two handlers declaring one listener id are refused', async (t) => {
  const dir = await makeTempDir();
  t.after(() => dir.remove());
  const other: ProtocolHandler = { ...createEchoHandler(), name: 'other' };
  await assert.rejects(
    startServer({ dataDir: dir.path, handlers: [createEchoHandler(), other], openCore: fakeCore().openCore }),
    /handlers echo and other both declare listener echo/,
  );
});

test('a port in use is a ListenError, found before the core is opened', async (t) => {
  const dir = await makeTempDir();
  t.after(() => dir.remove());
  const blocker = createServer();
  await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
  t.after(() => blocker.close());
  const busyPort = (blocker.address() as { port: number }).port;
  const probe = fakeCore();
  await assert.rejects(
    startServer({ dataDir: dir.path, handlers: [createEchoHandler()], openCore: probe.openCore, config: { listeners: { 'echo-upper': { port: busyPort } } } }),
    (error: unknown) => error instanceof ListenError && error.code === 'EADDRINUSE' && error.message.includes(`echo-upper on 127.0.0.1:${busyPort}`),
  );
  assert.deepEqual(probe.events, []);
});

test('a handler whose start fails stops the server start and releases its ports', async (t) => {
  const dir = await makeTempDir();
  t.after(() => dir.remove());
  const probe = fakeCore();
  const failing = createEchoHandler({ failStart: true });
  await assert.rejects(
    startServer({ dataDir: dir.path, handlers: [failing], openCore: probe.openCore }),
    (error: unknown) => error instanceof HandlerStartError && /handler echo failed to start: echo refuses to start/.test(error.message),
  );
  assert.deepEqual(probe.events, ['core:open', 'core:close']);
  assert.equal(failing.closeCalls, 1, 'a handler whose start failed is closed, releasing what it allocated');
});

test('connectionsMax is enforced at accept, per listener', async (t) => {
  const dir = await makeTempDir();
  t.after(() => dir.remove());
  const server = await startServer({
    dataDir: dir.path,
    handlers: [createEchoHandler()],
    openCore: fakeCore().openCore,
    config: { listeners: { echo: { connectionsMax: 2 } } },
  });
  t.after(() => server.close());
  const port = server.addresses.get('echo')?.port ?? 0;
  const first = await openSocket(port);
  const second = await openSocket(port);
  t.after(() => {
    first.destroy();
    second.destroy();
  });
  // Make sure the server has accepted both before the third arrives.
  assert.equal(await exchange(server.addresses.get('echo-upper')?.port ?? 0, 'x', 1), 'X');
  await new Promise<void>((resolve) => second.write('ok', () => resolve()));
  const third = await openSocket(port);
  assert.equal(await closedByPeer(third), true, 'the third connection is closed');
  first.destroy();
  // The server sees the close a moment later (longer on a loaded machine): retry, bounded.
  let echoed = '';
  await waitFor(
    async () => {
      echoed = await exchange(port, 'again', 5, 500).catch(() => '');
      return echoed === 'again';
    },
    10_000,
    { message: 'a slot frees when a connection closes' },
  );
});

test('a handler that throws in handleConnection loses only that connection', async (t) => {
  const dir = await makeTempDir();
  t.after(() => dir.remove());
  const echo = createEchoHandler();
  let throwNext = true;
  const flaky: ProtocolHandler = {
    ...echo,
    start: (context) => echo.start(context),
    handleConnection(stream, info) {
      if (throwNext) {
        throwNext = false;
        throw new Error('boom');
      }
      echo.handleConnection(stream, info);
    },
  };
  const server = await startServer({ dataDir: dir.path, handlers: [flaky], openCore: fakeCore().openCore, config: { logLevel: 'silent' } });
  t.after(() => server.close());
  const port = server.addresses.get('echo')?.port ?? 0;
  const broken = await openSocket(port);
  assert.equal(await closedByPeer(broken), true);
  assert.equal(await exchange(port, 'fine', 4), 'fine');
});

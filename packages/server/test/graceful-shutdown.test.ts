import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeRecordBatch } from '@strata/core';
import { makeTempDir, waitFor } from '@strata/testing';
import { startServer } from '../src/start-server.js';
import { APPEND_TOPIC, createAppendHandler } from './append-handler.js';
import { openSocket } from './net-helpers.js';

const LINES = 400;

test('close() with appends in flight: every acknowledged append is on disk after a restart', async (t) => {
  const dir = await makeTempDir();
  const servers: { close(): Promise<void> }[] = [];
  // One hook, in order: servers close before their data directory is removed.
  t.after(async () => {
    for (const server of servers) await server.close();
    await dir.remove();
  });
  let closing: Promise<void> | null = null;
  let inFlightAtClose = 0;
  const handler = createAppendHandler({
    onIssued: (issued) => {
      if (issued !== LINES) return;
      // Synchronously after the last append started: it (and maybe more) is certainly in flight.
      inFlightAtClose = issued - handler.acked.length;
      closing = server.close();
    },
  });
  const server = await startServer({ dataDir: dir.path, handlers: [handler] });
  servers.push(server);
  const socket = await openSocket(server.addresses.get('append')?.port ?? 0);
  t.after(() => socket.destroy());
  socket.on('error', () => undefined);
  let payload = '';
  for (let index = 0; index < LINES; index++) payload += `line-${index}\n`;
  socket.write(payload);
  await waitFor(() => closing !== null, 10_000, { message: 'all lines reached the handler' });
  await closing;
  assert.ok(inFlightAtClose >= 1, 'close began with appends in flight');
  assert.deepEqual(handler.failures, [], 'no append failed: the core closed only after the handler finished');
  const acknowledged = handler.acked.length;
  assert.equal(acknowledged, LINES, 'every append in flight at close completed');

  const reopened = await startServer({ dataDir: dir.path, handlers: [createAppendHandler()] });
  servers.push(reopened);
  const { highWatermark } = reopened.core.offsets(APPEND_TOPIC, 0);
  assert.equal(highWatermark, acknowledged, 'exactly the acknowledged appends are there, no gaps');
  const values: string[] = [];
  let offset = 0;
  for (let reads = 0; offset < highWatermark && reads < LINES; reads++) {
    const result = await reopened.core.read(APPEND_TOPIC, 0, { offset, maxBytes: 1 << 20 });
    for (const entry of result.entries) {
      offset = entry.lastOffset + 1;
      for (const message of decodeRecordBatch(entry.bytes).messages) values.push(message.value?.toString('utf8') ?? '');
    }
  }
  assert.equal(offset, highWatermark);
  // The handler appended lines in order: the entries are line-0 .. line-(n-1).
  assert.deepEqual(values, Array.from({ length: acknowledged }, (_, index) => `line-${index}`));
});

// libuv pool sizing (src/thread-pool.ts): what the core reads from UV_THREADPOOL_SIZE and how many
// segment writers a flush gets from it. The server's launcher is tested in packages/server (cli.test.ts).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { segmentWritersFor, SERVER_THREAD_POOL_SIZE, threadPoolSize } from '../src/thread-pool.js';

test('threadPoolSize reads UV_THREADPOOL_SIZE as libuv does (default 4, at most 1024, junk ignored)', () => {
  const saved = process.env['UV_THREADPOOL_SIZE'];
  try {
    const cases: [string | undefined, number][] = [
      [undefined, 4],
      ['8', 8],
      ['1', 1],
      ['5000', 1024],
      ['0', 4],
      ['-3', 4],
      ['eight', 4],
      ['', 4],
    ];
    for (const [value, expected] of cases) {
      if (value === undefined) delete process.env['UV_THREADPOOL_SIZE'];
      else process.env['UV_THREADPOOL_SIZE'] = value;
      assert.equal(threadPoolSize(), expected, `UV_THREADPOOL_SIZE=${String(value)}`);
    }
  } finally {
    if (saved === undefined) delete process.env['UV_THREADPOOL_SIZE'];
    else process.env['UV_THREADPOOL_SIZE'] = saved;
  }
});

test('segment writers: the pool less two threads for the journal, from 2 to 6', () => {
  assert.equal(segmentWritersFor(1), 2);
  assert.equal(segmentWritersFor(4), 2); // libuv's default: as before
  assert.equal(segmentWritersFor(6), 4);
  assert.equal(segmentWritersFor(SERVER_THREAD_POOL_SIZE), 6);
  assert.equal(segmentWritersFor(64), 6);
});

/**
 * libuv's thread pool, which runs every asynchronous file operation of the core (segment opens,
 * writes and closes, fsyncs, thread-pool journal I/O, cold reads). Its size is fixed by the
 * UV_THREADPOOL_SIZE environment variable when the pool first starts (libuv's default: 4 threads).
 *
 * The segment flusher writes that many segments at once less two (segmentWritesConcurrencyMax), so
 * that a journal write and its fsync never queue behind a flush. With 10,000 partitions a flush
 * opens, writes and closes thousands of segment files (at most openFilesMax descriptors stay open),
 * and two writers at a time leave the pool mostly waiting on round trips: measured on the
 * development VM (2 vCPUs, 10,000 partitions, 100 producers, 2026-11-22), 24,000-27,000 msgs/s with
 * 4 threads and 2 writers, 30,000 with 8 and 4, 33,500-36,700 with 8 and 6, 18,600-30,000 with 16
 * and 12. So `strata serve` runs with 8 threads unless UV_THREADPOOL_SIZE says otherwise.
 */

import { spawnSync } from 'node:child_process';

/** Threads `strata serve` (and the benchmarks, which measure what it runs) give libuv's pool. */
export const SERVER_THREAD_POOL_SIZE = 8;

/** Threads a flush may keep busy with segment writes at most, whatever the pool size. */
const SEGMENT_WRITERS_MAX = 6;
/** Pool threads kept free of segment writes for the journal's write and fsync. */
const THREADS_KEPT_FOR_JOURNAL = 2;

/** The pool size this process runs (or will run) with: UV_THREADPOOL_SIZE, else libuv's 4. */
export function threadPoolSize(): number {
  const configured = Number(process.env['UV_THREADPOOL_SIZE']);
  // libuv clamps the variable to 1..1024 and ignores what is not a positive number.
  return Number.isInteger(configured) && configured > 0 ? Math.min(configured, 1024) : 4;
}

/** The default StorageTuning.segmentWritesConcurrencyMax for a pool of `poolSize` threads. */
export function segmentWritersFor(poolSize: number): number {
  return Math.max(2, Math.min(SEGMENT_WRITERS_MAX, poolSize - THREADS_KEPT_FOR_JOURNAL));
}

/**
 * For ES module entry points that must run with the server's pool (the benchmarks): Node's module
 * loader has started the pool by the time any of their code runs, so setting the variable then is
 * too late. When UV_THREADPOOL_SIZE is not set, this runs the same script again in a child process
 * with it set to SERVER_THREAD_POOL_SIZE (same Node flags, arguments and terminal), waits for it and
 * exits with its status; when it is set (in that child), it returns at once. `strata` itself starts
 * from a CommonJS launcher instead (packages/server/src/strata.cts).
 */
export function rerunWithServerThreadPool(): void {
  if (process.env['UV_THREADPOOL_SIZE'] !== undefined) return;
  const child = spawnSync(process.execPath, [...process.execArgv, ...process.argv.slice(1)], {
    stdio: 'inherit',
    env: { ...process.env, UV_THREADPOOL_SIZE: String(SERVER_THREAD_POOL_SIZE) },
  });
  process.exit(child.status ?? 1);
}

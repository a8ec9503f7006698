#!/usr/bin/env node
/**
 * The `strata` command's entry point. CommonJS on purpose: libuv reads UV_THREADPOOL_SIZE once,
 * when its thread pool starts, and Node's ES module loader starts the pool while it loads an ES
 * module entry point — before any of that module's code could set the variable. A CommonJS file
 * runs first, sets it (unless the environment did) and then loads the CLI, an ES module.
 * Why 8 threads: @strata/core thread-pool.ts.
 */
const SERVER_THREAD_POOL_SIZE = '8'; // @strata/core SERVER_THREAD_POOL_SIZE (not imported: that would load the core first)
if (process.env['UV_THREADPOOL_SIZE'] === undefined) process.env['UV_THREADPOOL_SIZE'] = SERVER_THREAD_POOL_SIZE;
import('./cli.js').catch((error: unknown) => {
  process.stderr.write(`strata: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});

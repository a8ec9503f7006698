/**
 * Imported first by the benchmark entry points: they measure what `strata serve` runs, and it runs
 * with SERVER_THREAD_POOL_SIZE libuv threads unless UV_THREADPOOL_SIZE is set (@strata/core
 * thread-pool.ts). Without the variable the script runs again in a child process that has it.
 */
import { rerunWithServerThreadPool } from '@strata/core';

rerunWithServerThreadPool();

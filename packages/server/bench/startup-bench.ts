/**
 * Startup and shutdown time of the real binary: spawn → `strata: ready`, and SIGTERM → exit 0, on one
 * data directory, RUNS times in a row. `npm run bench:server`; numbers go to docs/performance.md.
 */
import { makeTempDir, spawnServer } from '@strata/testing';

const RUNS = 5;

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? 0;
}

const dir = await makeTempDir('strata-startup-bench-');
const readyMs: number[] = [];
const stopMs: number[] = [];
try {
  for (let run = 0; run < RUNS; run++) {
    const spawnedAt = performance.now();
    const server = await spawnServer({ dataDir: dir.path, args: ['--log-level', 'warn'] });
    readyMs.push(performance.now() - spawnedAt);
    const stoppingAt = performance.now();
    const status = await server.stop();
    stopMs.push(performance.now() - stoppingAt);
    if (status.code !== 0) throw new Error(`strata exited with ${status.code} (signal ${status.signal})`);
  }
} finally {
  await dir.remove();
}
const format = (values: number[]): string => values.map((value) => value.toFixed(0)).join(', ');
console.log(`spawn -> ready: median ${median(readyMs).toFixed(0)} ms (${format(readyMs)})`);
console.log(`SIGTERM -> exit: median ${median(stopMs).toFixed(0)} ms (${format(stopMs)})`);

/**
 * Benchmarks measure a server's steady state: its journal files recycled, so that each group commit
 * overwrites allocated blocks in place. A fresh data directory's first journal files are extended by
 * every group instead (docs/storage.md, "Write path"), which costs each fdatasync a file-system
 * journal commit. With `BENCH_JOURNAL_FILE_BYTES` as the core's `journalFileBytesMax` (tuning), writing
 * `BENCH_WARM_UP_BYTES` rotates the journal three times; from the second rotation on, the file in use
 * is a recycled one.
 */
import type { Core, Message } from '@strata/core';

/** Journal file size for benchmark cores (the default, 256 MiB, would make the warm-up long). */
export const BENCH_JOURNAL_FILE_BYTES = 32 * 1024 * 1024;
export const BENCH_WARM_UP_BYTES = 3 * BENCH_JOURNAL_FILE_BYTES;

/** Appends BENCH_WARM_UP_BYTES to a scratch topic (deleted after) of `core`; returns the milliseconds taken. */
export async function warmUpJournal(core: Core, topic = 'persistent://public/default/bench-warm-up'): Promise<number> {
  const started = performance.now();
  await core.topics.create(topic, { partitions: 1 });
  const value = Buffer.alloc(64 * 1024, 0x61);
  const messages: Message[] = [{ key: null, value, headers: [], timestamp: Date.now() }];
  const appends = Math.ceil(BENCH_WARM_UP_BYTES / value.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      while (next < appends) {
        next++;
        await core.append(topic, 0, { kind: 'messages', messages });
      }
    }),
  );
  await core.topics.delete(topic);
  return performance.now() - started;
}

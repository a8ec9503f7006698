/**
 * librdkafka's own producer CLI (kcat -P, C) as a second librdkafka producer beside the Python one:
 * no per-message interpreter cost on the client side of the shared CPUs. Same settings as the
 * Python producer (acks=all, linger.ms=5, 1 KiB values, partition 0, the same queue limits);
 * messages are the lines of a file (`-l`), written once before any timing. The time is kcat's whole
 * run, spawn to exit (kcat flushes before it exits), start-up included; the start-up alone is
 * measured apart with an empty input so the reader can judge its share.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { run } from './child.js';

/** kcat -P's configuration: the Python producer's (kafka-bench.ts PRODUCE_PY). */
function kcatProduceArgs(bootstrap: string, topic: string, file: string): string[] {
  return [
    '-P', '-b', bootstrap, '-t', topic, '-p', '0', '-l', file,
    '-X', 'acks=all', '-X', 'linger.ms=5',
    '-X', 'queue.buffering.max.messages=1000000', '-X', 'queue.buffering.max.kbytes=1048576',
  ];
}

/** Writes `messages` lines of `messageBytes` bytes ('a') to `file` (kcat's delimiter is the newline). */
export async function writeKcatInput(file: string, messages: number, messageBytes: number): Promise<void> {
  const line = Buffer.alloc(messageBytes + 1, 0x61);
  line[messageBytes] = 0x0a;
  const linesPerChunk = Math.max(1, Math.floor((4 * 1024 * 1024) / line.length));
  const chunk = Buffer.concat(Array.from({ length: linesPerChunk }, () => line));
  const handle = await fs.open(file, 'w');
  try {
    for (let written = 0; written < messages; written += linesPerChunk) {
      const lines = Math.min(linesPerChunk, messages - written);
      await handle.write(chunk, 0, lines * line.length);
    }
    // Written back now, before anything is measured. Left dirty, these ~400 MB stayed in the page
    // cache until the kernel's 30-second expiry (vm.dirty_expire_centisecs) and were written back in
    // one burst some 33-36 s into the bench: in the middle of the latency phases, where the journal's
    // fdatasyncs queued behind it for 0.1-0.3 s (measured 2026-11-22: /proc/meminfo Dirty ~400 MB
    // from the 3rd to the 36th second, then Writeback 147 MB; "core alone" max 308 ms then).
    await handle.datasync();
  } finally {
    await handle.close();
  }
}

/** Seconds of one kcat -P run of `file` to `topic`; throws if kcat fails. */
export async function kcatProduce(kcat: string, bootstrap: string, topic: string, file: string): Promise<number> {
  const started = performance.now();
  const result = await run(kcat, kcatProduceArgs(bootstrap, topic, file));
  const seconds = (performance.now() - started) / 1000;
  if (result.code !== 0) throw new Error(`kcat -P failed (${result.code}): ${result.stderr.slice(-2000)}`);
  return seconds;
}

/** Seconds of kcat -P with no input at all: process start-up, connection, exit. */
export async function kcatStartupSeconds(kcat: string, bootstrap: string, topic: string, dir: string): Promise<number> {
  const empty = path.join(dir, 'kcat-empty-input');
  await fs.writeFile(empty, '');
  return await kcatProduce(kcat, bootstrap, topic, empty);
}

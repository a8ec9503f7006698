/**
 * Record batch codec micro-benchmark: CRC-32C, encode and decode throughput per compression.
 * Run: npx tsc -b packages/core && node packages/core/dist/bench/codec-bench.js
 * Short by design (about a second per line); numbers go to docs/performance.md by hand.
 */
import type { CompressionType } from '../src/core.js';
import type { Message } from '../src/message.js';
import { crc32c, decodeRecordBatch, encodeRecordBatch } from '../src/record-batch/index.js';

const RUN_MS = 700;

function measure(label: string, bytesPerOp: number, op: () => void): void {
  for (let i = 0; i < 20; i++) op(); // warm-up
  let ops = 0;
  const start = process.hrtime.bigint();
  let elapsedMs = 0;
  while (elapsedMs < RUN_MS) {
    for (let i = 0; i < 10; i++) op();
    ops += 10;
    elapsedMs = Number(process.hrtime.bigint() - start) / 1e6;
  }
  const mbPerS = (bytesPerOp * ops) / (elapsedMs / 1000) / (1024 * 1024);
  console.log(`${label.padEnd(34)} ${mbPerS.toFixed(0).padStart(6)} MB/s  ${(ops / (elapsedMs / 1000)).toFixed(0).padStart(8)} ops/s`);
}

const crcInput = Buffer.alloc(1024 * 1024, 7);
measure('crc32c 1 MiB', crcInput.length, () => crc32c(crcInput));

// 100 messages of 1 KiB with a key and two headers: a typical producer batch.
const value = Buffer.from(Array.from({ length: 1024 }, (_, i) => (i * 31) & 0x7f));
const messages: Message[] = Array.from({ length: 100 }, (_, i) => ({
  key: Buffer.from(`key-${i}`),
  value,
  headers: [
    { key: 'content-type', value: Buffer.from('application/json') },
    { key: 'trace', value: Buffer.from(String(i)) },
  ],
  timestamp: 1_700_000_000_000 + i,
}));
const payloadBytes = messages.length * (value.length + 40);
for (const compression of ['none', 'gzip', 'snappy', 'lz4', 'zstd'] as CompressionType[]) {
  const batch = encodeRecordBatch(messages, { compression });
  measure(`encode 100x1KiB ${compression}`, payloadBytes, () => encodeRecordBatch(messages, { compression }));
  measure(`decode 100x1KiB ${compression} (${batch.length} B)`, payloadBytes, () => decodeRecordBatch(batch));
}

/**
 * Child process of crash.test.ts: opens the core on argv[2] (journal I/O mode argv[3]) and appends forever from several
 * concurrent producers to several partitions, printing one line per acknowledged message:
 * `<partition> <offset> <sha256 of value, 16 hex>`. The parent SIGKILLs it at a random moment.
 * Writes to a pipe are synchronous on Linux, so every printed line reaches the parent.
 */
import { createHash, randomBytes } from 'node:crypto';
import { openCore } from '../src/open-core.js';
import { encodeRecordBatch } from '../src/record-batch/index.js';
import type { Message } from '../src/message.js';

export const CRASH_TOPIC = 'persistent://public/default/crash';
export const CRASH_PARTITIONS = 4;
const PRODUCERS = 8;

function digest(value: Buffer): string {
  return createHash('sha256').update(value).digest('hex').slice(0, 16);
}

async function main(): Promise<void> {
  const dataDir = process.argv[2];
  if (!dataDir) return; // run without a data directory (e.g. by `node --test dist/test/`): nothing to do
  // Small journal files, frequent checkpoints and write-behind fsyncs every 16 KiB of a segment:
  // kills also land during journal rotation, segment write-behind, background segment fsyncs,
  // checkpoint fsyncs and index-file writes. With `auto` I/O, halves always: the fsync thread's
  // groups interleave with the event loop's and the pool's on any disk.
  const journalIo = process.argv[3] === 'thread-pool' || process.argv[3] === 'auto' ? process.argv[3] : 'event-loop';
  const core = await openCore({ dataDir, journalIo }, { tuning: { journalFileBytesMax: 256 * 1024, checkpointIntervalMs: 100, segmentFlushBytes: 32 * 1024, segmentSyncBytes: 16 * 1024, fsyncThreadHalves: 'always' } });
  if (!core.topics.exists(CRASH_TOPIC)) {
    // Small segments so that rolls happen during the run too.
    await core.topics.create(CRASH_TOPIC, { partitions: CRASH_PARTITIONS, overrides: { segmentBytesMax: 64 * 1024 } });
  }
  process.stdout.write('ready\n');
  const producer = async (id: number): Promise<void> => {
    for (let n = 0; ; n++) {
      const partition = (id + n) % CRASH_PARTITIONS;
      // Every 16th append of producer 0 is a batch of ~180 KB (up to 360 KB): the journal writes such
      // batches from their own buffers (writev) instead of copying them into the group's buffer, and
      // with `auto` journal I/O the groups of 256 KiB or more go to the thread pool.
      const count = id === 0 && n % 16 === 15 ? 120 : 1 + (n % 3);
      const messages: Message[] = [];
      for (let i = 0; i < count; i++) {
        messages.push({ key: Buffer.from(`p${id}`), value: randomBytes(Math.floor(Math.random() * 3000)), headers: [], timestamp: Date.now() });
      }
      const result =
        n % 2 === 0
          ? await core.append(CRASH_TOPIC, partition, { kind: 'messages', messages })
          : await core.append(CRASH_TOPIC, partition, { kind: 'batches', data: encodeRecordBatch(messages, { compression: n % 4 === 1 ? 'gzip' : 'none' }) });
      let line = '';
      for (let i = 0; i < count; i++) line += `${partition} ${result.baseOffset + i} ${digest(messages[i]!.value!)}\n`;
      process.stdout.write(line);
    }
  };
  await Promise.all(Array.from({ length: PRODUCERS }, (_, id) => producer(id)));
}

main().catch((error: unknown) => {
  process.stderr.write(`crash child failed: ${String((error as Error)?.stack ?? error)}\n`);
  process.exit(1);
});

/**
 * The embedded MetadataStore (PIP-45 shape, design brief §4 "Metadata"): local, durable, no
 * external process. State is a map in memory; durability is an append-only log of CRC-framed
 * put/delete records (metadata-log-format.ts), group-committed (every write queued while an fsync
 * runs shares the next one), replayed at open with a torn tail truncated, and compacted (snapshot
 * to a temporary file, fsync, rename, fsync the directory) when it grows well past the live data.
 *
 * Ordering: compare-and-set checks and the in-memory state change happen synchronously in call
 * order; the promise resolves once the record is on disk, and watchers hear of a change only then.
 * Ephemeral keys are never written: they are gone after close or a crash, as in a lost session.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { StrataError } from '../errors.js';
import { silentLogger, type Logger } from '../logger.js';
import { KeyTree, normalizePath, validateKey } from './key-tree.js';
import { encodeFrame, OP_DELETE, OP_PUT, replayFrames, type MetadataRecord } from './metadata-log-format.js';
import type { MetadataEvent, MetadataStore, PutOptions, VersionedValue } from './metadata-store.js';

export interface EmbeddedMetadataLimits {
  /** Largest value accepted by put. */
  readonly valueBytesMax: number;
  /** Bytes queued for the next group commit; puts past it wait for the commit (backpressure). */
  readonly writeQueueBytesMax: number;
  /** Compact when the log is larger than this and than twice the live data. */
  readonly compactLogBytesMin: number;
  readonly watchersMax: number;
}

export const defaultEmbeddedMetadataLimits: EmbeddedMetadataLimits = {
  valueBytesMax: 16 * 1024 * 1024,
  writeQueueBytesMax: 64 * 1024 * 1024,
  compactLogBytesMin: 4 * 1024 * 1024,
  watchersMax: 100_000,
};

const LOG_FILE = 'metadata.log';
const COMPACT_FILE = 'metadata.log.compact';

interface StoredValue {
  value: Buffer;
  version: number;
  ephemeral: boolean;
}

interface PendingWrite {
  readonly frame: Buffer | null; // null: ephemeral, nothing to write
  readonly event: MetadataEvent;
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}

interface Watcher {
  readonly prefix: string;
  readonly listener: (event: MetadataEvent) => void;
}

export async function openEmbeddedMetadataStore(options: {
  dir: string;
  logger?: Logger;
  limits?: Partial<EmbeddedMetadataLimits>;
}): Promise<MetadataStore> {
  const limits = { ...defaultEmbeddedMetadataLimits, ...options.limits };
  await fs.mkdir(options.dir, { recursive: true });
  const logPath = path.join(options.dir, LOG_FILE);
  await fs.rm(path.join(options.dir, COMPACT_FILE), { force: true }); // an interrupted compaction
  let data: Buffer;
  try {
    data = await fs.readFile(logPath);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    data = Buffer.alloc(0);
  }
  const recordBytesMax = limits.valueBytesMax + 64 * 1024;
  const { records, validBytes } = replayFrames(data, recordBytesMax);
  const logger = options.logger ?? silentLogger;
  if (validBytes < data.length) {
    logger.warn('metadata log has a torn or corrupt tail; truncating', { validBytes, fileBytes: data.length });
    await fs.truncate(logPath, validBytes);
  }
  const handle = await fs.open(logPath, 'a');
  await handle.sync();
  await syncDirectory(options.dir); // the log file's directory entry must survive a power loss too
  return new EmbeddedMetadataStore(options.dir, handle, records, validBytes, limits, logger);
}

class EmbeddedMetadataStore implements MetadataStore {
  private readonly values = new Map<string, StoredValue>();
  private readonly tree = new KeyTree();
  private readonly watchers = new Set<Watcher>();
  private pending: PendingWrite[] = [];
  private pendingBytes = 0;
  private writerActive = false;
  private drained: Promise<void> = Promise.resolve();
  private failure: unknown = null;
  private closed = false;
  private liveBytes = 0;

  constructor(
    private readonly dir: string,
    private handle: fs.FileHandle,
    records: readonly MetadataRecord[],
    private logBytes: number,
    private readonly limits: EmbeddedMetadataLimits,
    private readonly logger: Logger,
  ) {
    for (const record of records) {
      if (record.op === OP_PUT) this.apply(record.key, { value: record.value, version: record.version, ephemeral: false });
      else this.apply(record.key, null);
    }
  }

  private apply(key: string, stored: StoredValue | null): void {
    const previous = this.values.get(key);
    if (previous && !previous.ephemeral) this.liveBytes -= previous.value.length + key.length + 32;
    if (stored === null) {
      if (previous) {
        this.values.delete(key);
        this.tree.remove(key);
      }
      return;
    }
    if (!previous) this.tree.add(key);
    this.values.set(key, stored);
    if (!stored.ephemeral) this.liveBytes += stored.value.length + key.length + 32;
  }

  private checkOpen(): void {
    if (this.closed) throw new StrataError('CLOSED', 'metadata store is closed');
    if (this.failure !== null) throw new StrataError('STORAGE_ERROR', 'metadata store failed to write', { cause: this.failure });
  }

  async get(key: string): Promise<VersionedValue | null> {
    validateKey(key);
    this.checkOpen();
    const stored = this.values.get(key);
    return stored ? { value: stored.value, version: stored.version } : null;
  }

  async put(key: string, value: Buffer, options: PutOptions = {}): Promise<number> {
    validateKey(key);
    if (value.length > this.limits.valueBytesMax) {
      throw new StrataError('LIMIT_EXCEEDED', `metadata value of ${value.length} bytes exceeds ${this.limits.valueBytesMax}`);
    }
    while (this.pendingBytes > this.limits.writeQueueBytesMax) await this.drained;
    this.checkOpen();
    const previous = this.values.get(key);
    const expected = options.expectedVersion;
    if (expected !== undefined) {
      const actual = previous ? previous.version : -1;
      if (expected !== actual) throw new StrataError('BAD_VERSION', `${key}: expected version ${expected}, found ${actual}`);
    }
    const version = previous ? previous.version + 1 : 0;
    const ephemeral = options.ephemeral === true;
    const copy = Buffer.from(value); // the caller may reuse its buffer
    this.apply(key, { value: copy, version, ephemeral });
    let frame: Buffer | null = null;
    if (!ephemeral) frame = encodeFrame({ op: OP_PUT, key, version, value: copy });
    // A durable key turned ephemeral must not come back at the next open.
    else if (previous && !previous.ephemeral) frame = encodeFrame({ op: OP_DELETE, key, version: -1, value: Buffer.alloc(0) });
    await this.enqueue(frame, { type: 'put', key, version });
    return version;
  }

  async delete(key: string, options: { expectedVersion?: number } = {}): Promise<void> {
    validateKey(key);
    while (this.pendingBytes > this.limits.writeQueueBytesMax) await this.drained;
    this.checkOpen();
    const previous = this.values.get(key);
    if (!previous) throw new StrataError('NOT_FOUND', `${key} does not exist`);
    if (options.expectedVersion !== undefined && options.expectedVersion !== previous.version) {
      throw new StrataError('BAD_VERSION', `${key}: expected version ${options.expectedVersion}, found ${previous.version}`);
    }
    this.apply(key, null);
    const frame = previous.ephemeral ? null : encodeFrame({ op: OP_DELETE, key, version: -1, value: Buffer.alloc(0) });
    await this.enqueue(frame, { type: 'delete', key });
  }

  async children(pathName: string): Promise<string[]> {
    this.checkOpen();
    return this.tree.list(pathName);
  }

  watch(prefix: string, listener: (event: MetadataEvent) => void): () => void {
    this.checkOpen();
    if (this.watchers.size >= this.limits.watchersMax) {
      throw new StrataError('LIMIT_EXCEEDED', `more than ${this.limits.watchersMax} metadata watchers`);
    }
    const watcher: Watcher = { prefix: normalizePath(prefix), listener };
    this.watchers.add(watcher);
    return () => void this.watchers.delete(watcher);
  }

  private notify(event: MetadataEvent): void {
    for (const watcher of this.watchers) {
      if (!isUnder(event.key, watcher.prefix)) continue;
      try {
        watcher.listener(event);
      } catch (error) {
        this.logger.error('metadata watcher threw', { key: event.key, error });
      }
    }
  }

  private enqueue(frame: Buffer | null, event: MetadataEvent): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.pending.push({ frame, event, resolve, reject });
      this.pendingBytes += frame?.length ?? 0;
      if (!this.writerActive) {
        // Set before the call: the loop may finish synchronously (nothing to write) and clear it.
        this.writerActive = true;
        this.drained = this.writeLoop();
      }
    });
  }

  /** Group commit: everything queued while the previous fsync ran goes out in one write + fsync. */
  private async writeLoop(): Promise<void> {
    while (this.pending.length > 0) {
      const batch = this.pending;
      this.pending = [];
      const frames = batch.flatMap((write) => (write.frame ? [write.frame] : []));
      const bytes = frames.reduce((sum, frame) => sum + frame.length, 0);
      try {
        if (this.failure !== null) throw this.failure;
        if (bytes > 0) {
          const data = frames.length === 1 ? frames[0]! : Buffer.concat(frames, bytes);
          let written = 0;
          while (written < data.length) written += (await this.handle.write(data, written)).bytesWritten;
          await this.handle.datasync();
          this.logBytes += bytes;
        }
      } catch (error) {
        // In-memory state is ahead of the disk now; refuse further work rather than diverge more.
        this.failure ??= error;
        this.logger.error('metadata store write failed', { error });
        this.pendingBytes -= bytes;
        for (const write of batch) write.reject(new StrataError('STORAGE_ERROR', 'metadata write failed', { cause: error }));
        continue;
      }
      this.pendingBytes -= bytes;
      for (const write of batch) {
        this.notify(write.event);
        write.resolve();
      }
      if (this.logBytes > this.limits.compactLogBytesMin && this.logBytes > 2 * this.liveBytes) await this.compact();
    }
    this.writerActive = false;
  }

  /** Rewrites the log as one put per live durable key; crash-safe by rename. */
  private async compact(): Promise<void> {
    const compactPath = path.join(this.dir, COMPACT_FILE);
    const logPath = path.join(this.dir, LOG_FILE);
    try {
      const frames: Buffer[] = [];
      for (const [key, stored] of this.values) {
        if (!stored.ephemeral) frames.push(encodeFrame({ op: OP_PUT, key, version: stored.version, value: stored.value }));
      }
      const data = Buffer.concat(frames);
      const compactHandle = await fs.open(compactPath, 'w');
      try {
        await compactHandle.writeFile(data);
        await compactHandle.sync();
      } finally {
        await compactHandle.close();
      }
      await fs.rename(compactPath, logPath);
      await syncDirectory(this.dir);
      const previous = this.handle;
      this.handle = await fs.open(logPath, 'a');
      await previous.close();
      this.logger.debug('metadata log compacted', { fromBytes: this.logBytes, toBytes: data.length });
      this.logBytes = data.length;
    } catch (error) {
      // The old log is still complete and valid; compaction is retried on a later write.
      this.logger.warn('metadata log compaction failed', { error });
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    while (this.writerActive) await this.drained;
    this.watchers.clear();
    await this.handle.close();
  }
}

/** Path semantics: '/a' covers '/a' and '/a/b', not '/ab'. */
function isUnder(key: string, prefix: string): boolean {
  return prefix === '/' || key === prefix || (key.startsWith(prefix) && key.charCodeAt(prefix.length) === 0x2f);
}

async function syncDirectory(dir: string): Promise<void> {
  const handle = await fs.open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Checkpoints bound the journal: segment files are written without fsync, so the journal keeps
 * every record since the last checkpoint. A checkpoint (1) finishes the journal file and goes on in
 * the next one, between two groups, (2) fsyncs every segment file and directory dirtied before that
 * point, concurrently with new appends, and (3) then retires the journal files older than the new
 * one: the largest is recycled as the spare for the next rotation, the others are deleted.
 *
 * A failed fsync is never retried (docs/storage.md "When an fsync fails"): it puts the core into
 * the failed storage state (storage-failure.ts), and from then on no checkpoint starts and none
 * that is running retires a journal file.
 */
import { execFile } from 'node:child_process';
import fsp from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from '../logger.js';
import type { StorageTuning } from '../limits.js';
import { fsyncDirectory, isErrno } from '../storage/fs-async.js';
import { FsyncFailure } from '../storage/fsync-failure.js';
import type { SegmentStorage } from '../storage/segment-storage.js';
import type { StorageFailure } from './storage-failure.js';
import { JournalFile, journalFileName, listJournalFiles, readJournalFileFormat } from '../storage/journal.js';

/** A syncfs still running after this long counts as failed (its outcome is unknown). */
const SYNCFS_TIMEOUT_MS = 120_000;

/** After a checkpoint failed to start (no space for a journal file), wait this long before again. */
const CHECKPOINT_RETRY_MS = 1000;

export class Checkpointer {
  private dirtyFiles = new Set<string>();
  private dirtyDirs = new Set<string>();
  private inFlight: Promise<void> | null = null;
  private lastCheckpointMs: number;
  private lastFailedStartMs = -Infinity;
  /**
   * The next journal file, prepared in the background after each checkpoint (a retired journal
   * renamed, or a new file), so that a rotation between two groups costs no file creation or
   * directory fsync on the acknowledgement path.
   */
  private spare: Promise<JournalFile | null> | null = null;
  private closed = false;
  checkpoints = 0;
  /** Journal files recycled as spares (stats, tests). */
  journalsRecycled = 0;

  constructor(
    private readonly journalDir: string,
    public journal: JournalFile,
    private readonly storage: SegmentStorage,
    private readonly tuning: StorageTuning,
    private readonly logger: Logger,
    private readonly now: () => number,
    /** Writes every acknowledged batch still in memory to its segment; false if some failed. */
    private readonly flushSegments: () => Promise<boolean>,
    private readonly hasPending: () => boolean,
    private readonly failure: StorageFailure,
    /**
     * After a checkpoint's fsyncs succeeded, before its journals are retired (recovery's rewrite
     * marker is removed here); a rejection fails the checkpoint and keeps the journals.
     */
    private readonly beforeRetire: () => Promise<void> = async () => {},
  ) {
    this.lastCheckpointMs = now();
  }

  markDirty(file: string | null, dir: string): void {
    if (file) this.dirtyFiles.add(file);
    this.dirtyDirs.add(dir);
  }

  get isDirty(): boolean {
    return this.dirtyFiles.size > 0 || this.dirtyDirs.size > 0 || this.hasPending();
  }

  /** A checkpoint should start (the committer then lets its in-flight groups drain first). */
  get isDue(): boolean {
    if (this.inFlight || this.failure.failed) return false;
    if (this.now() - this.lastFailedStartMs < CHECKPOINT_RETRY_MS) return false; // a failed start backs off
    return (
      this.journal.position >= this.tuning.journalFileBytesMax ||
      (this.isDirty && this.now() - this.lastCheckpointMs >= this.tuning.checkpointIntervalMs)
    );
  }

  /** Called by the committer with no group in flight: starts a checkpoint when one is due. */
  async maybeCheckpoint(): Promise<void> {
    if (!this.isDue) return;
    await this.start();
  }

  /**
   * Rotates the journal now and runs the fsyncs in the background (await `settled()`). Only with
   * no group in flight (the committer's betweenGroups, or with appends stopped): the end record
   * goes after the last group.
   */
  async start(): Promise<void> {
    if (this.inFlight) await this.inFlight;
    if (this.failure.failed) return; // no fsync is trusted any more, and no journal may be retired
    const old = this.journal;
    let next: JournalFile;
    try {
      const spare = await this.takeSpare();
      next = spare?.seq === old.seq + 1 ? spare : await JournalFile.create(this.journalDir, old.seq + 1, old.io);
      if (spare && spare !== next) await spare.close();
    } catch (error) {
      if (error instanceof FsyncFailure) this.failure.fail(error.cause, error.what);
      this.lastFailedStartMs = this.now();
      throw error;
    }
    try {
      await old.finish();
    } catch (error) {
      // The end record's fsync (with every group before it under the interval policy) failed: a
      // retry could succeed without those pages, and replay would then stop before the next file.
      if (error instanceof FsyncFailure) this.failure.fail(error.cause, error.what);
      this.spare = Promise.resolve(next); // the rotation is retried later, into the same file
      this.lastFailedStartMs = this.now();
      throw error;
    }
    this.journal = next;
    this.lastCheckpointMs = this.now();
    let files = this.dirtyFiles;
    let dirs = this.dirtyDirs;
    this.dirtyFiles = new Set();
    this.dirtyDirs = new Set();
    this.inFlight = (async () => {
      let retired = false;
      try {
        await old.close();
        // Everything acknowledged before the rotation must reach its segment file first.
        if (!(await this.flushSegments())) throw new Error('some segments could not be written');
        for (const file of this.dirtyFiles) files.add(file);
        for (const dir of this.dirtyDirs) dirs.add(dir);
        this.dirtyFiles = new Set();
        this.dirtyDirs = new Set();
        await this.syncAll(files, dirs);
        // Another fsync (the interval journal's, a segment's before its index file) may have failed
        // meanwhile, or be about to report the error this checkpoint's fsync of the same file did
        // not see: then this checkpoint's successes prove nothing, and the journals stay.
        await this.failure.othersSettled();
        const failed = this.failure.failed;
        if (failed) throw failed;
        await this.beforeRetire();
        await this.retireJournalsBefore(next);
        retired = true;
        this.checkpoints++;
      } catch (error) {
        if (error instanceof FsyncFailure) this.failure.fail(error.cause, error.what);
        // Keep the old journals (they are still needed) and retry these files next time (unless
        // storage failed: then no checkpoint runs again).
        files = files ?? new Set();
        for (const file of files) this.dirtyFiles.add(file);
        for (const dir of dirs) this.dirtyDirs.add(dir);
        this.logger.error('checkpoint failed; journal kept', { error });
      } finally {
        this.inFlight = null;
        if (!retired && !this.failure.failed) void this.prepareSpare(next, null);
      }
    })();
  }

  private async takeSpare(): Promise<JournalFile | null> {
    const spare = this.spare;
    this.spare = null;
    return spare ? await spare : null;
  }

  /** Prepares the spare for the rotation after `current`: journal `recycleSeq` renamed, or a new file. */
  private async prepareSpare(current: JournalFile, recycleSeq: number | null): Promise<void> {
    if (this.closed) {
      if (recycleSeq !== null) await fsp.rm(path.join(this.journalDir, journalFileName(recycleSeq)), { force: true });
      return;
    }
    const spare = (this.spare = (async () => {
      try {
        if (recycleSeq !== null) {
          try {
            const spare = await JournalFile.recycle(this.journalDir, recycleSeq, current.seq + 1, current.io);
            this.journalsRecycled++;
            return spare;
          } catch (error) {
            if (error instanceof FsyncFailure) throw error;
            this.logger.warn('could not recycle a journal file; creating one', { error });
            await fsp.rm(path.join(this.journalDir, journalFileName(recycleSeq)), { force: true });
          }
        }
        return await JournalFile.create(this.journalDir, current.seq + 1, current.io);
      } catch (error) {
        if (error instanceof FsyncFailure) {
          this.failure.fail(error.cause, error.what);
          return null;
        }
        // No space, perhaps: the next rotation creates its file itself (and fails visibly if it must).
        this.logger.warn('could not prepare the next journal file', { error });
        return null;
      }
    })());
    await spare;
  }

  /** A journal file for the next rotation, prepared by the recovery (a file with no records of its own). */
  offerSpare(spare: JournalFile): void {
    if (this.spare) throw new Error('a spare journal is already prepared');
    this.spare = Promise.resolve(spare);
  }

  /**
   * No more rotations: closes the spare journal file and leaves it for the next start to reuse
   * (LogManager recovery). It holds no record of its own: replay stops at its first record.
   */
  async close(): Promise<void> {
    this.closed = true;
    const spare = await this.takeSpare();
    await spare?.close();
  }

  async settled(): Promise<void> {
    while (this.inFlight) await this.inFlight;
  }

  private async syncAll(files: Set<string>, dirs: Set<string>): Promise<void> {
    if (files.size + dirs.size >= this.tuning.checkpointSyncfsFilesMin && (await this.syncFileSystem())) return;
    const work = [...files].map((file) => () => this.syncFile(file));
    for (const dir of dirs) work.push(() => this.syncDir(dir));
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < work.length) {
        const task = work[next++]!;
        await task();
      }
    };
    const workers = Math.min(this.tuning.checkpointFsyncConcurrencyMax, work.length);
    await Promise.all(Array.from({ length: workers }, worker));
  }

  /**
   * syncfs(2) of the segment storage's file system, through coreutils `sync -f` (Node has no
   * binding). False when unavailable, and the caller falls back to one fsync per file. Rejects with
   * FsyncFailure when syncfs itself reported an error (`sync` says "error syncing") or did not
   * return within the timeout: falling back to per-file fsyncs then could succeed without the lost
   * pages.
   */
  private syncFileSystem(): Promise<boolean> {
    const fileSystemPath = this.storage.syncFileSystemPath;
    if (this.syncfsUnavailable || fileSystemPath === null) return Promise.resolve(false);
    return new Promise((resolve, reject) => {
      const env = { ...process.env, LC_ALL: 'C' }; // coreutils' messages in English, to tell the cases apart
      execFile('sync', ['-f', fileSystemPath], { timeout: SYNCFS_TIMEOUT_MS, env }, (error, _stdout, stderr) => {
        if (error) {
          const missing = (error as NodeJS.ErrnoException).code === 'ENOENT';
          if (missing) this.syncfsUnavailable = true;
          if (!missing && (/error syncing/.test(String(stderr)) || (error as { killed?: boolean }).killed === true)) {
            reject(new FsyncFailure(`syncfs of ${fileSystemPath}`, error));
            return;
          }
          this.logger.warn('syncfs through `sync -f` failed; fsyncing file by file', { error });
          resolve(false);
          return;
        }
        this.syncfsRuns++;
        resolve(true);
      });
    });
  }

  private syncfsUnavailable = false;
  syncfsRuns = 0;

  private async syncFile(file: string): Promise<void> {
    let lease;
    try {
      lease = await this.storage.open(file, false);
    } catch (error) {
      if (isErrno(error, 'ENOENT')) return; // deleted since (retention, topic deletion)
      throw error;
    }
    try {
      await lease.sync();
    } catch (error) {
      throw new FsyncFailure(`fsync of ${file}`, error);
    } finally {
      lease.release();
    }
  }

  private async syncDir(dir: string): Promise<void> {
    try {
      await this.storage.syncDirectory(dir);
    } catch (error) {
      if (!isErrno(error, 'ENOENT')) throw new FsyncFailure(`fsync of directory ${dir}`, error);
    }
  }

  /**
   * The journals before `current` are no longer needed: the largest of the tagged format is kept
   * to be recycled as the next spare (its blocks are allocated and written), the rest deleted.
   */
  private async retireJournalsBefore(current: JournalFile): Promise<void> {
    let recycleSeq: number | null = null;
    let recycleBytes = 0;
    const old = (await listJournalFiles(this.journalDir)).filter((seq) => seq < current.seq);
    for (const seq of old) {
      const file = path.join(this.journalDir, journalFileName(seq));
      try {
        const bytes = (await fsp.stat(file)).size;
        if (bytes > recycleBytes && (await readJournalFileFormat(file, seq)) !== 'untagged') {
          recycleSeq = seq;
          recycleBytes = bytes;
        }
      } catch (error) {
        if (!isErrno(error, 'ENOENT')) throw error;
      }
    }
    for (const seq of old) {
      if (seq !== recycleSeq) await fsp.rm(path.join(this.journalDir, journalFileName(seq)), { force: true });
    }
    await fsyncDirectory(this.journalDir);
    await this.prepareSpare(current, recycleSeq); // part of the checkpoint: settled() sees the files as they stay
  }
}

/**
 * Checkpoints bound the journal: segment files are written without fsync, so the journal keeps
 * every record since the last checkpoint. A checkpoint (1) finishes the journal file and goes on in
 * the next one, between two groups, (2) fsyncs every segment file and directory dirtied before that
 * point, concurrently with new appends, and (3) then retires the journal files older than the new
 * one: the largest is recycled as the spare for the next rotation, the others are deleted.
 */
import { execFile } from 'node:child_process';
import fsp from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from '../logger.js';
import type { StorageTuning } from '../limits.js';
import { fsyncDirectory, isErrno } from '../storage/fs-async.js';
import type { SegmentStorage } from '../storage/segment-storage.js';
import { JournalFile, journalFileName, listJournalFiles, readJournalFileFormat } from '../storage/journal.js';

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
    if (this.inFlight) return false;
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
    const old = this.journal;
    let next: JournalFile;
    try {
      const spare = await this.takeSpare();
      next = spare?.seq === old.seq + 1 ? spare : await JournalFile.create(this.journalDir, old.seq + 1, old.io);
      if (spare && spare !== next) await spare.close();
    } catch (error) {
      this.lastFailedStartMs = this.now();
      throw error;
    }
    try {
      await old.finish();
    } catch (error) {
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
        await this.retireJournalsBefore(next);
        retired = true;
        this.checkpoints++;
      } catch (error) {
        // Keep the old journals (they are still needed) and retry these files next time.
        files = files ?? new Set();
        for (const file of files) this.dirtyFiles.add(file);
        for (const dir of dirs) this.dirtyDirs.add(dir);
        this.logger.error('checkpoint failed; journal kept', { error });
      } finally {
        this.inFlight = null;
        if (!retired) void this.prepareSpare(next, null);
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
            this.logger.warn('could not recycle a journal file; creating one', { error });
            await fsp.rm(path.join(this.journalDir, journalFileName(recycleSeq)), { force: true });
          }
        }
        return await JournalFile.create(this.journalDir, current.seq + 1, current.io);
      } catch (error) {
        // No space, perhaps: the next rotation creates its file itself (and fails visibly if it must).
        this.logger.warn('could not prepare the next journal file', { error });
        return null;
      }
    })());
    await spare;
  }

  /** No more rotations: removes the spare journal file (one left by a crash replays as empty). */
  async close(): Promise<void> {
    this.closed = true;
    const spare = await this.takeSpare();
    if (!spare) return;
    await spare.close();
    await fsp.rm(path.join(this.journalDir, journalFileName(spare.seq)), { force: true });
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
   * binding). False when unavailable, and the caller falls back to one fsync per file.
   */
  private syncFileSystem(): Promise<boolean> {
    const fileSystemPath = this.storage.syncFileSystemPath;
    if (this.syncfsUnavailable || fileSystemPath === null) return Promise.resolve(false);
    return new Promise((resolve) => {
      execFile('sync', ['-f', fileSystemPath], { timeout: 120_000 }, (error) => {
        if (error) {
          const missing = (error as NodeJS.ErrnoException).code === 'ENOENT';
          if (missing) this.syncfsUnavailable = true;
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
    } finally {
      lease.release();
    }
  }

  private async syncDir(dir: string): Promise<void> {
    try {
      await this.storage.syncDirectory(dir);
    } catch (error) {
      if (!isErrno(error, 'ENOENT')) throw error;
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

/**
 * Checkpoints bound the journal: segment files are written without fsync, so the journal keeps
 * every record since the last checkpoint. A checkpoint (1) starts a new journal file between two
 * groups, (2) fsyncs every segment file and directory dirtied before that point, concurrently with
 * new appends, and (3) then deletes the journal files older than the new one.
 */
import { execFile } from 'node:child_process';
import fsp from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from '../logger.js';
import type { StorageTuning } from '../limits.js';
import { fsyncDirectory, isErrno } from '../storage/fs-async.js';
import type { SegmentStorage } from '../storage/segment-storage.js';
import { JournalFile, journalFileName, listJournalFiles } from '../storage/journal.js';

/** After a checkpoint failed to start (no space for a journal file), wait this long before again. */
const CHECKPOINT_RETRY_MS = 1000;

export class Checkpointer {
  private dirtyFiles = new Set<string>();
  private dirtyDirs = new Set<string>();
  private inFlight: Promise<void> | null = null;
  private lastCheckpointMs: number;
  private lastFailedStartMs = -Infinity;
  /**
   * The next journal file, created and filled with zeros in the background after each rotation,
   * so that a rotation between two groups costs no file creation, directory fsync or first
   * extension on the acknowledgement path.
   */
  private spare: Promise<JournalFile | null> | null = null;
  private closed = false;
  checkpoints = 0;

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
  async maybeCheckpoint(syncOldJournal: boolean): Promise<void> {
    if (!this.isDue) return;
    await this.start(syncOldJournal);
  }

  /** Rotates the journal now and runs the fsyncs in the background (await `settled()`). */
  async start(syncOldJournal: boolean): Promise<void> {
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
    this.journal = next;
    this.prepareSpare(next);
    this.lastCheckpointMs = this.now();
    let files = this.dirtyFiles;
    let dirs = this.dirtyDirs;
    this.dirtyFiles = new Set();
    this.dirtyDirs = new Set();
    this.inFlight = (async () => {
      try {
        if (syncOldJournal) await old.sync();
        await old.close();
        // Everything acknowledged before the rotation must reach its segment file first.
        if (!(await this.flushSegments())) throw new Error('some segments could not be written');
        for (const file of this.dirtyFiles) files.add(file);
        for (const dir of this.dirtyDirs) dirs.add(dir);
        this.dirtyFiles = new Set();
        this.dirtyDirs = new Set();
        await this.syncAll(files, dirs);
        await this.deleteJournalsBefore(next.seq);
        this.checkpoints++;
      } catch (error) {
        // Keep the old journals (they are still needed) and retry these files next time.
        files = files ?? new Set();
        for (const file of files) this.dirtyFiles.add(file);
        for (const dir of dirs) this.dirtyDirs.add(dir);
        this.logger.error('checkpoint failed; journal kept', { error });
      } finally {
        this.inFlight = null;
      }
    })();
  }

  private async takeSpare(): Promise<JournalFile | null> {
    const spare = this.spare;
    this.spare = null;
    return spare ? await spare : null;
  }

  private prepareSpare(current: JournalFile): void {
    if (this.closed) return;
    this.spare = (async () => {
      try {
        const spare = await JournalFile.create(this.journalDir, current.seq + 1, current.io);
        await spare.preallocated();
        return spare;
      } catch (error) {
        // No space, perhaps: the next rotation creates its file itself (and fails visibly if it must).
        this.logger.warn('could not prepare the next journal file', { error });
        return null;
      }
    })();
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

  private async deleteJournalsBefore(seq: number): Promise<void> {
    for (const old of await listJournalFiles(this.journalDir)) {
      if (old >= seq) continue;
      await fsp.rm(path.join(this.journalDir, journalFileName(old)), { force: true });
    }
    await fsyncDirectory(this.journalDir);
  }
}

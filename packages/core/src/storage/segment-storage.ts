/**
 * SegmentStorage: every operation the log engine performs on segment files and the files beside
 * them (`<base>.log`, `<base>.idx`, `log-start`, compaction's rewrite) goes through this interface,
 * so that sealed segments can later live in object storage (design brief §5, issue 2) while the
 * active segment stays on local disk. The journal is NOT behind it: it is the local write-ahead
 * log whose group fsync acknowledges appends, and must stay on a local disk by design.
 *
 * Files are named by path under the storage's root (`<root>/<topicId>/<partition>/<base>.log`); an
 * object-storage implementation maps the part below the root to an object key.
 *
 * Two shapes of access, so a remote implementation can serve each differently:
 *  - active segment (append-oriented): `open(path, true)` then `write`/`sync` on the lease,
 *    `truncate` (recovery of a torn tail), `size`.
 *  - sealed segment (immutable): `open(path, false)` then `read` ranges; `remove`; `replace` by a
 *    rewritten whole object (compaction); the summary (`readSummary`/`writeSummary`).
 */

/** One of `writeSmall`'s writes: `buffers` in order at `position` of the existing file `path`. */
export interface SegmentWrite {
  readonly path: string;
  readonly position: number;
  readonly buffers: readonly Buffer[];
  /** Sum of the buffers' lengths. */
  readonly bytes: number;
}

/** A use of one open segment file; `release` when done (the storage may keep it open for others). */
export interface SegmentFile {
  /**
   * Up to `length` bytes at `position`; shorter at the end of the file. With `into` (at least
   * `length` bytes), the bytes are read into it and the result is a view of it, so a caller can
   * reuse one buffer for many reads (the read-ahead pool); an implementation may ignore `into` and
   * return a buffer of its own (callers check `result.buffer === into.buffer`).
   */
  read(length: number, position: number, into?: Buffer): Promise<Buffer>;
  /**
   * Optional (local files): the same read into `into`, synchronously on the calling thread. It
   * blocks the event loop for the read's duration — microseconds per MiB from the page cache, a disk
   * access otherwise — and skips the two thread hand-offs of `read` (StorageTuning.readAheadIo).
   */
  readNow?(length: number, position: number, into: Buffer): Buffer;
  /** Writes every buffer, in order, starting at `position` (active segment only). */
  write(buffers: readonly Buffer[], position: number): Promise<void>;
  /** Makes what was written durable (fdatasync locally). */
  sync(): Promise<void>;
  release(): void;
}

/** A rewritten segment being produced (compaction); installed over the old one by `replace`. */
export interface SegmentRewrite {
  /** Appends the buffers. */
  write(buffers: readonly Buffer[]): Promise<void>;
  /** Makes the rewrite durable before it may replace anything. */
  sync(): Promise<void>;
  close(): Promise<void>;
  /** Drops the rewrite (after close); the original stays. */
  discard(): Promise<void>;
  /**
   * Atomically puts the rewrite in place of the segment (after close). Synchronous on purpose: the
   * caller swaps its in-memory segment in the same tick, so no read, append or retention step sees
   * one without the other. A remote implementation uploads in `write`/`close` and switches the
   * key here (e.g. in its own key map, persisted at the next directory sync).
   */
  replace(): void;
}

export interface SegmentFileStat {
  readonly bytes: number;
  /** When the file was created (birth time where kept, else last modification). */
  readonly createdAtMs: number;
}

export interface SegmentStorage {
  /** The root directory (key prefix) segment paths live under. */
  readonly root: string;
  /** Segment files currently held open (bounded by CoreLimits.openFilesMax locally). */
  readonly openCount: number;
  /**
   * A local path whose whole file system holds every file of this storage, so a checkpoint may make
   * them all durable with one syncfs(2) instead of one fsync each; null when there is none (remote
   * storage: the checkpointer then calls `sync`/`syncDirectory` for each dirty file and directory).
   */
  readonly syncFileSystemPath: string | null;

  /** Makes a directory (a partition's or the root) exist. */
  makeDirectory(dir: string): Promise<void>;
  /** Names in a directory; [] when it does not exist. */
  list(dir: string): Promise<string[]>;
  /** Removes a directory and everything in it (topic/partition deletion). */
  removeDirectory(dir: string): Promise<void>;
  /** Makes creations, renames and removals in `dir` durable. Rejects with ENOENT if it is gone. */
  syncDirectory(dir: string): Promise<void>;

  /**
   * Optional: many small writes to segment files that exist, in one hand-off (a flush of 10,000
   * partitions writes each one's few KiB). Resolves with one entry per write: null when written
   * whole, else its error (ENOENT when the file is gone: never created here). Returns null when it
   * cannot take writes now (the caller writes them through `open` instead); rejects only when none
   * of the writes may be assumed done.
   */
  writeSmall?(writes: readonly SegmentWrite[]): Promise<(NodeJS.ErrnoException | null)[]> | null;
  /** Opens (creating when `create`) a segment file; rejects with an ENOENT error when missing. */
  open(path: string, create: boolean): Promise<SegmentFile>;
  /** Size and creation time; null when missing. */
  stat(path: string): Promise<SegmentFileStat | null>;
  /** Cuts a segment file to `bytes` (recovery of a torn tail). */
  truncate(path: string, bytes: number): Promise<void>;
  /** Deletes a file (segment, summary, leftover) if present; forgets any open descriptor of it. */
  remove(path: string): Promise<void>;
  /** Forgets any cached open descriptor of `path` (after it was removed or replaced). */
  forget(path: string): void;
  /** Starts a rewrite of the segment at `path`, staged at `temporaryPath`. */
  rewrite(path: string, temporaryPath: string): Promise<SegmentRewrite>;

  /** Whole small file (segment summary, log start), or null when missing. */
  readWhole(path: string): Promise<Buffer | null>;
  /**
   * Replaces a small file atomically (temporary, fdatasync — fsync with `syncMetadata` — rename);
   * the rename is durable once the directory is synced.
   */
  writeWhole(path: string, data: Buffer | string, options?: { syncMetadata?: boolean }): Promise<void>;

  /** Closes every open file. */
  close(): Promise<void>;
}

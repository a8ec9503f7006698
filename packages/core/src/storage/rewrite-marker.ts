/**
 * The rewrite marker `journal/REWRITE-REQUIRED`: durable evidence that an fsync of segment data (or
 * of the journal under the interval policy) failed, so that the segment bytes written since the last
 * good checkpoint cannot be trusted even where they read back fine. Linux reports a writeback error
 * to one fsync only and marks the failed pages clean: they stay readable in the page cache, even
 * across a process restart, but are not on disk, and the next fsync succeeds without them
 * (PostgreSQL's "fsyncgate", 2018). Recovery, seeing the marker, rewrites every journal record into
 * its segment instead of skipping the ones the segment seems to hold, checkpoints, and only then
 * removes the marker (docs/storage.md "When an fsync fails").
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { closeFile, fsyncDirectory, fsyncFile, isErrno, openFile, writeAllAt } from './fs-async.js';

export const REWRITE_MARKER_FILE = 'REWRITE-REQUIRED';

export function rewriteMarkerPath(journalDir: string): string {
  return path.join(journalDir, REWRITE_MARKER_FILE);
}

export async function hasRewriteMarker(journalDir: string): Promise<boolean> {
  try {
    await fsp.stat(rewriteMarkerPath(journalDir));
    return true;
  } catch (error) {
    if (isErrno(error, 'ENOENT')) return false;
    throw error;
  }
}

/** Creates the marker durably (file fsync, then directory fsync); its text is for the operator. */
export async function writeRewriteMarker(journalDir: string, reason: string, atMs: number): Promise<void> {
  const text =
    `An fsync failed at ${new Date(atMs).toISOString()}: ${reason}\n` +
    'Segment data written since the last good checkpoint cannot be trusted. The next start rewrites\n' +
    'every journal record into its segment, checkpoints, and then removes this file. Do not delete it\n' +
    'and do not delete the journal files beside it.\n';
  const fd = await openFile(rewriteMarkerPath(journalDir), fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_TRUNC, 0o644);
  try {
    await writeAllAt(fd, [Buffer.from(text)], 0);
    await fsyncFile(fd);
  } finally {
    await closeFile(fd);
  }
  await fsyncDirectory(journalDir);
}

/** Removes the marker durably once a checkpoint made the rewritten segments durable. */
export async function removeRewriteMarker(journalDir: string): Promise<void> {
  await fsp.rm(rewriteMarkerPath(journalDir), { force: true });
  await fsyncDirectory(journalDir);
}

/**
 * The segment write thread's body (storage/segment-write-thread.ts has the why): per message, each
 * write's bytes from the staging buffer to its file, opened without O_CREAT, written whole (short
 * writes continued), closed; one result per write, 0 or the failed call's negative errno.
 */
import fs from 'node:fs';
import { parentPort } from 'node:worker_threads';
import { negativeErrnoOf } from './thread-errno.js';
import type { SegmentWriteMessage, SegmentWriteReply } from './segment-write-thread.js';

function writeWhole(path: string, bytes: Uint8Array, offset: number, length: number, position: number): void {
  const fd = fs.openSync(path, fs.constants.O_WRONLY);
  try {
    let written = 0;
    while (written < length) {
      const step = fs.writeSync(fd, bytes, offset + written, length - written, position + written);
      // A regular file's pwrite fails rather than writing nothing; never loop on it.
      if (step <= 0) throw Object.assign(new Error('write made no progress'), { errno: -5 });
      written += step;
    }
  } finally {
    fs.closeSync(fd);
  }
}

parentPort!.on('message', (message: SegmentWriteMessage) => {
  const bytes = new Uint8Array(message.staging);
  const results = new Int32Array(message.paths.length);
  let offset = 0;
  for (let i = 0; i < message.paths.length; i++) {
    const length = message.lengths[i]!;
    try {
      writeWhole(message.paths[i]!, bytes, offset, length, message.positions[i]!);
    } catch (error) {
      results[i] = negativeErrnoOf(error);
    }
    offset += length;
  }
  const reply: SegmentWriteReply = { id: message.id, results };
  parentPort!.postMessage(reply);
});

/**
 * The fsync thread's body (storage/fsync-thread.ts has the protocol and the why). It takes the
 * requests in order, one fdatasync per run of requests on the same descriptor (one call covers
 * every write issued before it), and publishes each request's result before its sequence number.
 * It stays awake for a bounded spell after its last fdatasync, since under load the next request
 * comes within about one group's staging, and waking a sleeping thread costs a VM hundreds of
 * microseconds (docs/storage.md, "Journal I/O"); it stops doing so while the requests come
 * further apart than that spell.
 */
import fs from 'node:fs';
import { workerData } from 'node:worker_threads';
import { negativeErrnoOf } from './thread-errno.js';
import { FSYNC_THREAD_SLOTS, Field, type FsyncThreadData } from './fsync-thread-layout.js';

const { state: stateBuffer, idleSpinUs } = workerData as FsyncThreadData;
const state = new Int32Array(stateBuffer);
/** How often a sleeping thread looks at the stop flag. */
const STOP_CHECK_MS = 200;
const fdOffset = Field.FdSlots;
const resultOffset = Field.ResultSlots;

/**
 * Microseconds to spin before sleeping. Adaptive, so that a lightly loaded server does not burn
 * up to idleSpinUs after every fdatasync: a spin that ended without a request turns spinning off;
 * a request that then comes within about idleSpinUs of the last fdatasync (so a spin would have
 * caught it without a wake-up) turns it back on.
 */
let spinUs = idleSpinUs;
let lastDoneMs = 0;

function waitForRequest(done: number): number {
  let requested = Atomics.load(state, Field.Requested);
  if (requested !== done) return requested;
  const spinUntil = performance.now() + spinUs / 1000;
  while (performance.now() < spinUntil) {
    requested = Atomics.load(state, Field.Requested);
    if (requested !== done) return requested;
  }
  spinUs = 0;
  // Atomics.wait returns at once if a request came after the last load; the timeout only bounds
  // how long a stop set meanwhile goes unseen.
  Atomics.wait(state, Field.Requested, done, STOP_CHECK_MS);
  requested = Atomics.load(state, Field.Requested);
  // Twice the spell: the time seen here includes this thread's own wake-up.
  if (requested !== done && performance.now() - lastDoneMs < (2 * idleSpinUs) / 1000) spinUs = idleSpinUs;
  return requested;
}

let done = Atomics.load(state, Field.Done);
Atomics.store(state, Field.Ready, 1);
for (;;) {
  const requested = waitForRequest(done);
  if (Atomics.load(state, Field.Stop) === 1 && requested === done) break;
  while (done !== requested) {
    const first = done + 1;
    const fd = Atomics.load(state, fdOffset + (first % FSYNC_THREAD_SLOTS));
    // The run of requests on this descriptor that are already here: one fdatasync serves them all.
    let last = first;
    while (last !== requested && Atomics.load(state, fdOffset + ((last + 1) % FSYNC_THREAD_SLOTS)) === fd) last++;
    let result = 0;
    try {
      fs.fdatasyncSync(fd);
    } catch (error) {
      result = negativeErrnoOf(error);
    }
    for (let seq = first; seq <= last; seq++) Atomics.store(state, resultOffset + (seq % FSYNC_THREAD_SLOTS), result);
    done = last;
    Atomics.store(state, Field.Done, done);
    Atomics.notify(state, Field.Done);
    lastDoneMs = performance.now();
  }
}

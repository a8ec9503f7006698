/**
 * The fsync thread's shared state: one Int32Array over a SharedArrayBuffer, written by the main
 * thread (requests) and the fsync thread (results). Sequence numbers grow by one per request; a
 * request's descriptor and result live in slot `seq % FSYNC_THREAD_SLOTS`, which the main thread
 * reuses only after it has read the result (it never has more than FSYNC_THREAD_SLOTS outstanding).
 */
export const FSYNC_THREAD_SLOTS = 8;

/** Indexes into the shared Int32Array. */
export const Field = {
  /** Sequence number of the newest request (main thread). */
  Requested: 0,
  /** Sequence number of the newest request whose fdatasync returned (fsync thread). */
  Done: 1,
  /** 1 once the thread runs its loop (fsync thread). */
  Ready: 2,
  /** 1 when the thread is to exit once idle (main thread). */
  Stop: 3,
  /** The descriptor of each slot's request. */
  FdSlots: 4,
  /** Each slot's result: 0, or fdatasync's negative errno. */
  ResultSlots: 4 + FSYNC_THREAD_SLOTS,
  Count: 4 + 2 * FSYNC_THREAD_SLOTS,
} as const;

export interface FsyncThreadData {
  readonly state: SharedArrayBuffer;
  /** Microseconds the thread stays awake for the next request after its last fdatasync. */
  readonly idleSpinUs: number;
}

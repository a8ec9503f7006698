/**
 * Coalesces writes of state that changes many times per turn into one write per turn: every caller
 * of `flush()` in the same turn shares one write, started after the turn's synchronous work, so it
 * covers every change made before any of those calls. Used for a persistent session's QoS 2 packet
 * ids: the PUBRECs of one appended batch, or the PUBRELs of one socket read, cost one metadata write.
 */
export class CoalescedWrite {
  private scheduled: Promise<void> | null = null;

  /** `write` stores the state as it is when it runs. */
  constructor(private readonly write: () => Promise<void>) {}

  /** Resolves once a write that includes every change made before this call is durable. */
  flush(): Promise<void> {
    if (this.scheduled !== null) return this.scheduled;
    const run = Promise.resolve().then(() => {
      // Changes after this point need a new write: the state is read now.
      this.scheduled = null;
      return this.write();
    });
    this.scheduled = run;
    return run;
  }
}

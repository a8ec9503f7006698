/**
 * At most `concurrentMax` of some costly asynchronous work at once, up to `queuedMax` more waiting
 * their turn, and 'busy' past that. For work that runs in libuv's thread pool beside the core's
 * storage I/O — password hashing at logins (MQTT scrypt, Kafka SASL PLAIN's PBKDF2) — so that a
 * burst of logins, or an attacker guessing, cannot fill the pool that segment writes and fsyncs need.
 */
export class ConcurrencyLimit {
  private running = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(
    readonly concurrentMax: number,
    readonly queuedMax: number,
  ) {}

  get stats(): { running: number; waiting: number } {
    return { running: this.running, waiting: this.waiting.length };
  }

  /** `work`'s result, or 'busy' at once when `queuedMax` calls already wait. */
  async run<T>(work: () => Promise<T>): Promise<T | 'busy'> {
    if (this.running >= this.concurrentMax) {
      if (this.waiting.length >= this.queuedMax) return 'busy';
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    }
    this.running++;
    try {
      return await work();
    } finally {
      this.running--;
      this.waiting.shift()?.();
    }
  }
}

/** Password checks at once / waiting, per process, for every protocol handler's logins. */
export const PASSWORD_CHECKS_CONCURRENT_MAX = 2;
export const PASSWORD_CHECKS_QUEUED_MAX = 1_000;

/** The process's one limit on password checks: MQTT and Kafka logins share it, as they share the pool. */
export const passwordChecks = new ConcurrencyLimit(PASSWORD_CHECKS_CONCURRENT_MAX, PASSWORD_CHECKS_QUEUED_MAX);

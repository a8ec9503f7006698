/**
 * Password checks share libuv's thread pool with the core's storage I/O (segment writes, large
 * journal groups, fsyncs), and each is tens of milliseconds of scrypt by design. So that a burst of
 * logins (or an attacker guessing) cannot fill the pool, at most PASSWORD_CHECKS_CONCURRENT_MAX run
 * at once; up to PASSWORD_CHECKS_QUEUED_MAX more wait their turn, and past that a login is refused
 * as "server unavailable" at once.
 */
import { passwordMatches, type PasswordHash } from './password-hash.js';

export const PASSWORD_CHECKS_CONCURRENT_MAX = 2;
export const PASSWORD_CHECKS_QUEUED_MAX = 1_000;

export class PasswordChecks {
  private running = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(
    private readonly concurrentMax: number,
    private readonly queuedMax: number,
  ) {}

  get stats(): { running: number; waiting: number } {
    return { running: this.running, waiting: this.waiting.length };
  }

  /** true / false: the password matches or not; 'busy': too many logins queued, try later. */
  async check(stored: PasswordHash, password: string): Promise<boolean | 'busy'> {
    if (this.running >= this.concurrentMax) {
      if (this.waiting.length >= this.queuedMax) return 'busy';
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    }
    this.running++;
    try {
      return await passwordMatches(stored, password);
    } finally {
      this.running--;
      this.waiting.shift()?.();
    }
  }
}

/** The process's one limiter: every MQTT login's password check goes through it. */
export const passwordChecks = new PasswordChecks(PASSWORD_CHECKS_CONCURRENT_MAX, PASSWORD_CHECKS_QUEUED_MAX);

/**
 * Chooses how the group commit schedules closed-loop producers while the fsync thread is up:
 * as two alternating halves (one half's fdatasync in the thread while the other half is
 * acknowledged and staged) or as one whole group at a time (every fdatasync on the event loop,
 * the schedule before the thread). Halves pay while one half's fdatasync takes less than both
 * halves' JavaScript work; where the disk is slow (~1 ms per fdatasync) two fdatasyncs per round
 * cost more than the overlap saves. Measured in one process, 100 producers, 1 s rounds alternated:
 * on a fast disk halves ran at 79,000-94,000 appends/s against 47,000-74,000 whole; once the disk
 * had slowed, at 30,000-42,000 against 38,000-71,000 (docs/performance.md).
 *
 * Which one is faster cannot be read from one schedule alone (a rule on the event loop's share of
 * time blocked on fdatasyncs flapped between them and was slower than either), so the chooser
 * measures both: it counts acknowledged appends per epoch, and after EPOCHS_BETWEEN_PROBES
 * epochs in one schedule it runs one epoch in the other, keeping that one only if it was faster
 * by SWITCH_GAIN_MIN. An epoch during which the committer ran out of appends measures the
 * producers, not the schedule, and is dropped.
 */

/** Length of one measurement, at least (a switch settles within a few groups, ~1-10 ms). */
export const EPOCH_MS = 100;
/** Epochs in the current schedule between two probes of the other (a probe costs ~1/9 of the time in the slower schedule). */
export const EPOCHS_BETWEEN_PROBES = 8;
/** How much faster the probed schedule must have been to be kept. */
export const SWITCH_GAIN_MIN = 1.05;

export class ScheduleChooser {
  /** The schedule in use: halves (true) or whole groups. */
  halves = true;
  /** Probes of the other schedule, and those kept (statistics, tests). */
  probes = 0;
  switches = 0;
  private epochStartMs = -1;
  private epochAppends = 0;
  /** Appends per ms of the current schedule's last epoch (0: none measured yet). */
  private rate = 0;
  private epochsInSchedule = 0;
  private probing = false;

  constructor(private readonly now: () => number = () => performance.now()) {}

  /** After each acknowledged group of `appends`. */
  acknowledged(appends: number): void {
    const now = this.now();
    if (this.epochStartMs < 0) {
      this.epochStartMs = now;
      return;
    }
    this.epochAppends += appends;
    const ms = now - this.epochStartMs;
    if (ms < EPOCH_MS) return;
    const rate = this.epochAppends / ms;
    this.epochStartMs = now;
    this.epochAppends = 0;
    if (this.probing) {
      this.probing = false;
      if (rate >= this.rate * SWITCH_GAIN_MIN) {
        this.switches++;
        this.rate = rate;
        this.epochsInSchedule = 1;
      } else {
        this.halves = !this.halves; // back to the schedule measured before the probe
        this.epochsInSchedule = 0;
      }
      return;
    }
    this.rate = rate;
    this.epochsInSchedule++;
    if (this.epochsInSchedule >= EPOCHS_BETWEEN_PROBES) {
      this.probing = true;
      this.probes++;
      this.halves = !this.halves;
    }
  }

  /** The committer ran out of appends: the epoch in progress measured the producers; start anew. */
  idle(): void {
    this.epochStartMs = -1;
    this.epochAppends = 0;
  }
}

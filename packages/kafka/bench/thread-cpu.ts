/**
 * CPU time of this process's main thread (the event loop), from Linux's per-task schedstat: the
 * first field is the nanoseconds the task has run on a CPU, the second the nanoseconds it waited
 * on a run queue (runnable, preempted). Event-loop utilization counts wall time outside epoll, which
 * also counts the time the main thread sat preempted (on this 2-vCPU machine, by the bench's own
 * client, the thread pool, V8's helper threads and other processes) or blocked in a synchronous
 * system call; these two tell the three apart. Null where /proc is not there.
 */
import { readFileSync } from 'node:fs';

const SCHEDSTAT_PATH = `/proc/self/task/${process.pid}/schedstat`;

export interface ThreadSchedNs {
  /** On a CPU. */
  readonly cpuNs: number;
  /** Runnable but waiting for a CPU. */
  readonly waitNs: number;
}

/** The main thread's CPU and run-queue wait nanoseconds so far, or null (no /proc). */
export function mainThreadSchedNs(): ThreadSchedNs | null {
  try {
    const [cpu, wait] = readFileSync(SCHEDSTAT_PATH, 'utf8').split(' ');
    return { cpuNs: Number(cpu), waitNs: Number(wait) };
  } catch {
    return null;
  }
}

/** Nanoseconds the main thread has been on a CPU so far, or null (no /proc). */
export function mainThreadCpuNs(): number | null {
  return mainThreadSchedNs()?.cpuNs ?? null;
}

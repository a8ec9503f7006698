/** Bounded waiting for tests: every wait has a deadline, and no timer outlives its wait. */
import { setTimeout as sleep } from 'node:timers/promises';

export async function withTimeout<T>(promise: Promise<T>, ms: number, what: () => string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what()}`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Polls `condition` every `intervalMs` until it holds or `ms` pass (then throws). */
export async function waitUntil(condition: () => boolean | Promise<boolean>, ms: number, what: () => string, intervalMs = 25): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms: ${what()}`);
    await sleep(intervalMs);
  }
}

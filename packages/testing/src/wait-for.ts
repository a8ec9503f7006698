/**
 * Polls `condition` until it holds or `timeoutMs` passes. Bounded in time by construction: tests use
 * this instead of open-ended loops.
 */
export async function waitFor(
  condition: () => boolean | Promise<boolean>,
  timeoutMs: number,
  options: { intervalMs?: number; message?: string } = {},
): Promise<void> {
  const intervalMs = options.intervalMs ?? 10;
  const deadlineMs = Date.now() + timeoutMs;
  for (;;) {
    if (await condition()) return;
    if (Date.now() >= deadlineMs) {
      throw new Error(`waitFor timed out after ${timeoutMs} ms${options.message ? `: ${options.message}` : ''}`);
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

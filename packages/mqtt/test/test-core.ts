/**
 * The core for MQTT tests: the real `openCore` on a data directory. A test "restarts" the server by
 * closing the core and opening it again on the same directory.
 */
import { openCore, type Core } from '@strata/core';

export async function openTestCore(dataDir: string): Promise<Core> {
  return openCore({ dataDir });
}

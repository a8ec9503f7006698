/**
 * What every crash test starts with: a data directory and the `strata serve` processes run on it,
 * one after another. After the test the last one is killed (a failed assertion must not leave it
 * running) and the directory removed.
 */
import type { TestContext } from 'node:test';
import { makeTempDir, spawnServer, type SpawnedServer } from '@strata/testing';

export interface CrashDirectory {
  readonly path: string;
  /** Starts `strata serve` on the directory (warnings only in its log). */
  spawn(): Promise<SpawnedServer>;
}

export async function crashDirectory(t: TestContext, prefix: string): Promise<CrashDirectory> {
  const dir = await makeTempDir(prefix);
  let server: SpawnedServer | null = null;
  t.after(async () => {
    server?.kill('SIGKILL');
    await server?.waitExit().catch(() => undefined);
    await dir.remove();
  });
  return {
    path: dir.path,
    spawn: async () => (server = await spawnServer({ dataDir: dir.path, args: ['--log-level', 'warn'] })),
  };
}

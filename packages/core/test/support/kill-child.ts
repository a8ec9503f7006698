/**
 * Runs a crash-test child (`node <script> ...args`) until `killAfterMs` after it printed `ready`,
 * SIGKILLs it, and returns its complete output lines (a line cut by the kill is dropped: whatever
 * it reported never finished). Rejects if the child exits by itself. Bounded: a guard kills it
 * after 20 s whatever happens.
 */
import { spawn } from 'node:child_process';

const CHILD_GUARD_MS = 20_000;

export function runChildUntilKilled(script: string, args: readonly string[], killAfterMs: number): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [script, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let killTimer: NodeJS.Timeout | null = null;
    const guard = setTimeout(() => child.kill('SIGKILL'), CHILD_GUARD_MS);
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      stdout += chunk;
      if (killTimer === null && stdout.includes('ready\n')) killTimer = setTimeout(() => child.kill('SIGKILL'), killAfterMs);
    });
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(guard);
      if (killTimer) clearTimeout(killTimer);
      if (signal !== 'SIGKILL') return reject(new Error(`child exited with ${code}/${signal}: ${stderr}`));
      const complete = stdout.slice(0, stdout.lastIndexOf('\n') + 1);
      resolve(complete.split('\n').filter((line) => line.length > 0 && line !== 'ready'));
    });
  });
}

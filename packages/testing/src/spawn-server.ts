/**
 * Runs the real CLI (`strata serve`) as a child process, the way a user does: its own data dir,
 * every listener on a free port (`--free-ports true`), and the listener lines it prints on stdout
 * (`strata: <listener> listening on <host>:<port>`, then `strata: ready`) parsed into addresses.
 * Crash tests kill it (SIGKILL) and spawn it again on the same data dir.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/**
 * The `strata` command as `npm start` and the package's bin run it (the CommonJS launcher that sets
 * UV_THREADPOOL_SIZE, then the CLI), relative to this compiled file (packages/testing/dist/src).
 */
export const cliPath = fileURLToPath(new URL('../../../server/dist/src/strata.cjs', import.meta.url));

const LISTENER_LINE = /^strata: (\S+) listening on (?:\[([^\]]+)\]|([^:\s]+)):(\d+)$/;
const READY_LINE = 'strata: ready';
/** Output kept per stream for failure messages; older output is dropped. */
const outputCharsMax = 64 * 1024;

export interface ListenerAddress {
  readonly host: string;
  readonly port: number;
}

export interface SpawnServerOptions {
  readonly dataDir: string;
  /** Extra CLI flags, e.g. ['--fsync', 'interval:5', '--kafka-port', '19092']. */
  readonly args?: readonly string[];
  /** Added to the child's environment (which is this process's, minus STRATA_* variables). */
  readonly env?: Readonly<Record<string, string>>;
  /** Default true: listeners without an explicit port flag bind a free port. */
  readonly freePorts?: boolean;
  readonly readyTimeoutMs?: number;
}

export interface ExitStatus {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

export interface SpawnedServer {
  readonly pid: number;
  readonly child: ChildProcess;
  /** Listener id → address, from the lines the server printed. */
  readonly addresses: ReadonlyMap<string, ListenerAddress>;
  /** The address of one listener; throws if the server has no such listener. */
  address(listenerId: string): ListenerAddress;
  stdout(): string;
  stderr(): string;
  kill(signal?: NodeJS.Signals): void;
  /** Resolves with the exit status; rejects after timeoutMs (the process is then SIGKILLed). */
  waitExit(timeoutMs?: number): Promise<ExitStatus>;
  /** SIGTERM and wait (graceful); SIGKILL if it takes longer than timeoutMs. */
  stop(timeoutMs?: number): Promise<ExitStatus>;
}

function append(buffer: string, chunk: string): string {
  const joined = buffer + chunk;
  return joined.length > outputCharsMax ? joined.slice(joined.length - outputCharsMax) : joined;
}

export async function spawnServer(options: SpawnServerOptions): Promise<SpawnedServer> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(process.env)) {
    // The caller's STRATA_* settings must not leak into a test server.
    if (value !== undefined && !name.startsWith('STRATA_')) env[name] = value;
  }
  Object.assign(env, options.env ?? {});
  const args = [cliPath, 'serve', '--data-dir', options.dataDir];
  if (options.freePorts ?? true) args.push('--free-ports', 'true');
  args.push(...(options.args ?? []));
  const child = spawn(process.execPath, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  // A test that fails or forgets to stop its server must not leave the process running.
  const killOnExit = (): void => void child.kill('SIGKILL');
  process.once('exit', killOnExit);
  child.once('exit', () => process.off('exit', killOnExit));

  let stdout = '';
  let stderr = '';
  let pending = '';
  const addresses = new Map<string, ListenerAddress>();
  let exit: ExitStatus | null = null;
  const exited = new Promise<ExitStatus>((resolve) => {
    child.once('exit', (code, signal) => {
      exit = { code, signal };
      resolve(exit);
    });
  });
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (stderr = append(stderr, chunk)));

  const readyTimeoutMs = options.readyTimeoutMs ?? 20_000;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`strata did not print "${READY_LINE}" within ${readyTimeoutMs} ms\nstdout:\n${stdout}\nstderr:\n${stderr}`));
    }, readyTimeoutMs);
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      stdout = append(stdout, chunk);
      pending += chunk;
      if (pending.length > outputCharsMax) pending = pending.slice(pending.length - outputCharsMax); // no endless line
      let newline: number;
      while ((newline = pending.indexOf('\n')) !== -1) {
        const line = pending.slice(0, newline).trimEnd();
        pending = pending.slice(newline + 1);
        const match = LISTENER_LINE.exec(line);
        if (match) addresses.set(match[1] as string, { host: (match[2] ?? match[3]) as string, port: Number(match[4]) });
        if (line === READY_LINE) {
          clearTimeout(timer);
          resolve();
        }
      }
    });
    void exited.then((status) => {
      clearTimeout(timer);
      reject(new Error(`strata exited before ready (code ${status.code}, signal ${status.signal})\nstdout:\n${stdout}\nstderr:\n${stderr}`));
    });
  });

  const waitExit = async (timeoutMs = 20_000): Promise<ExitStatus> => {
    if (exit !== null) return exit;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`strata did not exit within ${timeoutMs} ms\nstderr:\n${stderr}`));
      }, timeoutMs);
    });
    try {
      return await Promise.race([exited, timeout]);
    } finally {
      clearTimeout(timer);
    }
  };

  return {
    pid: child.pid as number,
    child,
    addresses,
    address(listenerId) {
      const address = addresses.get(listenerId);
      if (address === undefined) throw new Error(`strata has no listener ${listenerId} (has: ${[...addresses.keys()].join(', ')})`);
      return address;
    },
    stdout: () => stdout,
    stderr: () => stderr,
    kill(signal = 'SIGTERM') {
      if (exit === null) child.kill(signal);
    },
    waitExit,
    async stop(timeoutMs = 20_000) {
      if (exit === null) child.kill('SIGTERM');
      return waitExit(timeoutMs);
    },
  };
}

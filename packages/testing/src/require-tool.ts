/**
 * Interop tests need Debian tools (kcat, mosquitto_sub, python3 modules). `.ci/run` installs them, so
 * in CI (process.env.CI set) a missing tool FAILS the test; on a developer machine the test is skipped
 * with a loud message naming the apt package to install.
 *
 * Names: a program ('kcat', 'mosquitto_sub', 'mosquitto') or a module of the system Python,
 * 'python3:<module>' ('python3:confluent_kafka', 'python3:kafka', 'python3:paho.mqtt.client').
 */
import { spawnSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

/** The system interpreter that Debian's python3-* packages install into (not a pyenv shim). */
export const systemPython = '/usr/bin/python3';

const APT_PACKAGES: Readonly<Record<string, string>> = {
  kcat: 'kcat',
  openssl: 'openssl',
  mosquitto: 'mosquitto',
  mosquitto_sub: 'mosquitto-clients',
  mosquitto_pub: 'mosquitto-clients',
  'python3:confluent_kafka': 'python3-confluent-kafka',
  'python3:kafka': 'python3-kafka',
  'python3:paho.mqtt.client': 'python3-paho-mqtt',
  'python3:paho': 'python3-paho-mqtt',
};

const found = new Map<string, string | null>();

function findProgram(name: string): string | null {
  // Debian puts daemons (mosquitto) in sbin, which is not on every user's PATH.
  const directories = [...(process.env['PATH'] ?? '').split(delimiter), '/usr/local/sbin', '/usr/sbin', '/sbin'];
  for (const directory of directories) {
    if (directory === '') continue;
    const path = join(directory, name);
    try {
      accessSync(path, constants.X_OK);
      return path;
    } catch {
      // not here
    }
  }
  return null;
}

function findPythonModule(module: string): string | null {
  if (!/^[A-Za-z_][A-Za-z0-9_.]*$/.test(module)) return null;
  const result = spawnSync(systemPython, ['-c', `import ${module}`], { stdio: 'ignore', timeout: 10_000 });
  return result.status === 0 ? systemPython : null;
}

/** Path of the program (or of the system python for 'python3:<module>'), or null when missing. */
export function findTool(name: string): string | null {
  if (!found.has(name)) {
    found.set(name, name.startsWith('python3:') ? findPythonModule(name.slice('python3:'.length)) : findProgram(name));
  }
  return found.get(name) ?? null;
}

/** What node:test's TestContext offers that this needs. */
export interface SkippableTest {
  skip(message?: string): void;
}

/**
 * Returns the tool's path, or null after skipping the test (outside CI). Use:
 * `const kcat = requireTool(t, 'kcat'); if (kcat === null) return;`
 */
export function requireTool(t: SkippableTest, name: string): string | null {
  const path = findTool(name);
  if (path !== null) return path;
  const aptPackage = APT_PACKAGES[name] ?? name;
  const message = `interop tool ${name} is missing: apt-get install -y ${aptPackage} (or run .ci/run)`;
  if (process.env['CI'] !== undefined && process.env['CI'] !== '') throw new Error(`${message}; CI is set, so this fails instead of skipping`);
  process.stderr.write(`\n*** SKIPPED: ${message} ***\n\n`);
  t.skip(message);
  return null;
}

/**
 * Splits argv into a command and `--name value` / `--name=value` flags, without knowing which flags
 * exist: the listener flags (`--<listener>-port`) depend on the handlers, which are only known after
 * the config file and `--handler-module` are read. resolveConfig validates the names.
 */
import { ConfigError } from './config-error.js';

export interface CommandLine {
  readonly command: string | null;
  /** Flag name without dashes → values in order (a flag may repeat; the last wins unless it is a list). */
  readonly flags: ReadonlyMap<string, readonly string[]>;
  readonly help: boolean;
}

const FLAG_NAME = /^[a-z][a-z0-9-]*$/;

export function parseCommandLine(argv: readonly string[]): CommandLine {
  let command: string | null = null;
  let help = false;
  const flags = new Map<string, string[]>();
  for (let index = 0; index < argv.length; index++) {
    const arg = argv[index] as string;
    if (arg === '--help' || arg === '-h') {
      help = true;
      continue;
    }
    if (!arg.startsWith('--')) {
      if (command === null) {
        command = arg;
        continue;
      }
      throw new ConfigError(arg, `unexpected argument "${arg}" (flags are --name value)`);
    }
    const equals = arg.indexOf('=');
    const name = equals === -1 ? arg.slice(2) : arg.slice(2, equals);
    if (!FLAG_NAME.test(name)) throw new ConfigError(arg, `malformed flag "${arg}"`);
    let value: string;
    if (equals !== -1) {
      value = arg.slice(equals + 1);
    } else {
      const next = argv[index + 1];
      if (next === undefined || next.startsWith('--')) throw new ConfigError(`--${name}`, `flag --${name} needs a value`);
      value = next;
      index++;
    }
    const values = flags.get(name) ?? [];
    values.push(value);
    flags.set(name, values);
  }
  return { command, flags, help };
}

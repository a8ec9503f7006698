/**
 * `strata passwd [--cost 16384]`: reads a password from stdin (the first line; script-friendly,
 * nothing echoed) and prints its scrypt hash line for the `mqtt.users` config
 * (docs/protocols/mqtt.md, "Authentication and authorization"), never the password itself.
 */
import { hashPassword, SCRYPT_COST_DEFAULT } from '@strata/mqtt';
import type { CommandLine } from '../config/command-line.js';
import { ConfigError } from '../config/config-error.js';
import { readPassword } from './read-password.js';

const USAGE = `usage: strata passwd [--cost ${SCRYPT_COST_DEFAULT}] < password\n`;

export async function passwdCommand(commandLine: CommandLine, input: NodeJS.ReadableStream, output: NodeJS.WritableStream): Promise<number> {
  if (commandLine.help) {
    output.write(USAGE);
    return 0;
  }
  for (const name of commandLine.flags.keys()) {
    if (name !== 'cost') throw new ConfigError(`--${name}`, `unknown flag --${name} (${USAGE.trim()})`);
  }
  const costText = commandLine.flags.get('cost')?.at(-1) ?? String(SCRYPT_COST_DEFAULT);
  const cost = /^\d+$/.test(costText) ? Number(costText) : NaN;
  // scrypt's N: a power of two; 2^14 is the interactive-login default, 2^20 the most a line may ask.
  if (!(cost >= 1024 && cost <= 1 << 20 && (cost & (cost - 1)) === 0)) throw new ConfigError('--cost', `--cost must be a power of two from 1024 to 1048576, got "${costText}"`);
  const password = await readPassword(input, 'strata passwd');
  output.write(`${await hashPassword(password, cost)}\n`);
  return 0;
}

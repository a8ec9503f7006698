/**
 * `strata kafka-credential [--mechanism SCRAM-SHA-512] [--iterations 4096]`: reads a password from
 * stdin (the first line; script-friendly, nothing echoed) and prints the credential line for the
 * `kafka.sasl.users` config (docs/protocols/kafka.md, "Authentication"): salt, StoredKey and
 * ServerKey, never the password. The same line serves PLAIN logins of that user.
 */
import { createScramCredential, SCRAM_ITERATIONS_MIN, SCRAM_MECHANISMS, type ScramMechanism } from '@strata/kafka';
import type { CommandLine } from '../config/command-line.js';
import { ConfigError } from '../config/config-error.js';
import { readPassword } from './read-password.js';

const USAGE = `usage: strata kafka-credential [--mechanism ${SCRAM_MECHANISMS.join('|')}] [--iterations ${SCRAM_ITERATIONS_MIN}] < password\n`;

function single(commandLine: CommandLine, name: string): string | undefined {
  const values = commandLine.flags.get(name);
  return values?.[values.length - 1];
}

export async function kafkaCredentialCommand(commandLine: CommandLine, input: NodeJS.ReadableStream, output: NodeJS.WritableStream): Promise<number> {
  if (commandLine.help) {
    output.write(USAGE);
    return 0;
  }
  for (const name of commandLine.flags.keys()) {
    if (name !== 'mechanism' && name !== 'iterations') throw new ConfigError(`--${name}`, `unknown flag --${name} (${USAGE.trim()})`);
  }
  const mechanismName = single(commandLine, 'mechanism') ?? 'SCRAM-SHA-512';
  const mechanism = SCRAM_MECHANISMS.find((candidate) => candidate === mechanismName) as ScramMechanism | undefined;
  if (!mechanism) throw new ConfigError('--mechanism', `--mechanism must be one of ${SCRAM_MECHANISMS.join(', ')}, got "${mechanismName}"`);
  const iterationsText = single(commandLine, 'iterations') ?? String(SCRAM_ITERATIONS_MIN);
  const iterations = /^\d+$/.test(iterationsText) ? Number(iterationsText) : NaN;
  const password = await readPassword(input, 'strata kafka-credential');
  let line: string;
  try {
    line = await createScramCredential(mechanism, password, iterations);
  } catch (error) {
    throw new ConfigError('--iterations', (error as Error).message);
  }
  output.write(`${line}\n`);
  return 0;
}

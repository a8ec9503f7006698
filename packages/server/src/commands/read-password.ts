/** The password for `strata passwd` and `strata kafka-credential`: the first line of stdin. */
import { ConfigError } from '../config/config-error.js';

/** Bytes read from stdin at most: a password is a line, not a file. */
const STDIN_BYTES_MAX = 64 * 1024;
/** A longer password is refused (RFC 4616 caps a SASL PLAIN password at 255 bytes). */
export const PASSWORD_BYTES_MAX = 255;

export async function readPassword(input: NodeJS.ReadableStream, command: string): Promise<string> {
  const chunks: Buffer[] = [];
  let bytes = 0;
  for await (const chunk of input) {
    const buffer = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
    bytes += buffer.length;
    if (bytes > STDIN_BYTES_MAX) throw new ConfigError('stdin', 'the password on stdin is too long');
    chunks.push(buffer);
  }
  const password = Buffer.concat(chunks).toString('utf8').split(/\r?\n/)[0] ?? '';
  if (password === '') throw new ConfigError('stdin', `no password on stdin (${command} < file, or echo pw | ${command})`);
  if (Buffer.byteLength(password) > PASSWORD_BYTES_MAX) throw new ConfigError('stdin', `the password is longer than ${PASSWORD_BYTES_MAX} bytes`);
  return password;
}

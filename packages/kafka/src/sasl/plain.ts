/**
 * SASL PLAIN (RFC 4616): one message, `[authzid] NUL authcid NUL passwd`, UTF-8. As Kafka does,
 * an authorization id must be empty or equal to the user name.
 */
import { SaslFailure } from './scram.js';

/** Longest PLAIN message we accept (RFC 4616 caps each part at 255 octets). */
export const PLAIN_MESSAGE_BYTES_MAX = 3 * 255 + 2;

export function parsePlainMessage(message: Buffer): { user: string; password: string } {
  const invalid = (detail: string): never => {
    throw new SaslFailure('Invalid SASL/PLAIN response', detail);
  };
  if (message.length > PLAIN_MESSAGE_BYTES_MAX) invalid(`message of ${message.length} bytes`);
  const first = message.indexOf(0);
  const second = first < 0 ? -1 : message.indexOf(0, first + 1);
  if (second < 0 || message.indexOf(0, second + 1) >= 0) invalid('expected exactly two NUL separators');
  const authzid = message.subarray(0, first).toString('utf8');
  const user = message.subarray(first + 1, second).toString('utf8');
  const password = message.subarray(second + 1).toString('utf8');
  if (user === '' || password === '') invalid('empty user name or password');
  if (authzid !== '' && authzid !== user) invalid('authorization id differs from the user name');
  return { user, password };
}

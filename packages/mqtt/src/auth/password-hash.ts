/**
 * Password hashes for MQTT users (`mqtt.users`): scrypt (RFC 7914) with its parameters in the line,
 * so they can be raised later without breaking old lines:
 *
 *   scrypt$<N>$<r>$<p>$<salt, base64>$<hash, base64>
 *
 * `strata passwd` prints one. Checking runs scrypt in the thread pool (it is built to be slow) and
 * compares in constant time.
 */
import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto';
import { StrataError } from '@strata/core';

/** Defaults: N = 2^14, r = 8, p = 1 (16 MiB of memory, ~50 ms here): the usual interactive-login setting. */
export const SCRYPT_COST_DEFAULT = 16_384;
export const SCRYPT_BLOCK_SIZE_DEFAULT = 8;
export const SCRYPT_PARALLELISM_DEFAULT = 1;
/** Bounds on what a configured line may ask for, so a line cannot make each login cost seconds or gigabytes. */
const SCRYPT_COST_MAX = 1 << 20;
const SCRYPT_BLOCK_SIZE_MAX = 32;
const SCRYPT_PARALLELISM_MAX = 16;
const SALT_BYTES = 16;
const HASH_BYTES = 32;

export interface PasswordHash {
  readonly cost: number;
  readonly blockSize: number;
  readonly parallelism: number;
  readonly salt: Buffer;
  readonly hash: Buffer;
}

function derive(password: string, salt: Buffer, cost: number, blockSize: number, parallelism: number, length: number): Promise<Buffer> {
  // Memory: 128 * N * r bytes, plus headroom.
  const maxmem = 256 * cost * blockSize + 1024 * 1024;
  return new Promise((resolve, reject) =>
    scrypt(Buffer.from(password.normalize('NFKC'), 'utf8'), salt, length, { N: cost, r: blockSize, p: parallelism, maxmem }, (error, key) => (error ? reject(error) : resolve(key))),
  );
}

/** The line for `password` (what `strata passwd` prints). */
export async function hashPassword(password: string, cost = SCRYPT_COST_DEFAULT): Promise<string> {
  const salt = randomBytes(SALT_BYTES);
  const hash = await derive(password, salt, cost, SCRYPT_BLOCK_SIZE_DEFAULT, SCRYPT_PARALLELISM_DEFAULT, HASH_BYTES);
  return ['scrypt', cost, SCRYPT_BLOCK_SIZE_DEFAULT, SCRYPT_PARALLELISM_DEFAULT, salt.toString('base64'), hash.toString('base64')].join('$');
}

const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

/** Parses a hash line; throws INVALID_ARGUMENT saying what is wrong (never echoing the line). */
export function parsePasswordHash(line: string): PasswordHash {
  const bad = (why: string): never => {
    throw new StrataError('INVALID_ARGUMENT', `password hash ${why} (expected scrypt$N$r$p$salt$hash from strata passwd)`);
  };
  const parts = typeof line === 'string' ? line.split('$') : [];
  if (parts.length !== 6 || parts[0] !== 'scrypt') bad('is not a scrypt line');
  const [, costText, blockText, parallelText, salt, hash] = parts as [string, string, string, string, string, string];
  const int = (text: string) => (/^\d{1,8}$/.test(text) ? Number(text) : NaN);
  const cost = int(costText);
  const blockSize = int(blockText);
  const parallelism = int(parallelText);
  if (!(cost >= 2 && cost <= SCRYPT_COST_MAX && (cost & (cost - 1)) === 0)) bad(`cost N must be a power of two up to ${SCRYPT_COST_MAX}`);
  if (!(blockSize >= 1 && blockSize <= SCRYPT_BLOCK_SIZE_MAX)) bad(`block size r must be 1-${SCRYPT_BLOCK_SIZE_MAX}`);
  if (!(parallelism >= 1 && parallelism <= SCRYPT_PARALLELISM_MAX)) bad(`parallelism p must be 1-${SCRYPT_PARALLELISM_MAX}`);
  if (!BASE64.test(salt) || !BASE64.test(hash)) bad('salt or hash is not base64');
  const hashBytes = Buffer.from(hash, 'base64');
  if (hashBytes.length < 16 || hashBytes.length > 64) bad('hash must be 16-64 bytes');
  return { cost, blockSize, parallelism, salt: Buffer.from(salt, 'base64'), hash: hashBytes };
}

/** True when `password` is the one the hash was made from. */
export async function passwordMatches(stored: PasswordHash, password: string): Promise<boolean> {
  const derived = await derive(password, stored.salt, stored.cost, stored.blockSize, stored.parallelism, stored.hash.length);
  return timingSafeEqual(derived, stored.hash);
}

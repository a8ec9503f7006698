import { getSystemErrorName } from 'node:util';

/**
 * What a failed call in one of the core's own threads (the fsync thread, the segment write thread)
 * carries over to the main thread: its negative errno, libuv's form, which the main thread turns
 * back into an error with util.getSystemErrorName.
 */
export function negativeErrnoOf(error: unknown): number {
  const errno = (error as { errno?: unknown } | null)?.errno;
  return typeof errno === 'number' && errno < 0 ? errno : -5; // EIO when the error has no errno
}

/** The error a failed `syscall` (on `path`, when there is one) is on the main thread, from its negative errno. */
export function errnoException(negativeErrno: number, syscall: string, path?: string): NodeJS.ErrnoException {
  const code = getSystemErrorName(negativeErrno);
  const error = new Error(`${syscall} failed: ${code}${path === undefined ? '' : ` (${path})`}`) as NodeJS.ErrnoException;
  error.errno = negativeErrno;
  error.code = code;
  error.syscall = syscall;
  if (path !== undefined) error.path = path;
  return error;
}

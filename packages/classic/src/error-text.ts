/**
 * djb's `error_str`: the short text his programs print after a failed system call
 * (`unable to create x.tmp: file does not exist`). Keyed by Node's errno code names.
 * Where djb's table lists one errno twice, the first text is the one printed.
 */
const TEXTS: Record<string, string> = {
  EINTR: 'interrupted system call',
  ENOMEM: 'out of memory',
  ENOENT: 'file does not exist',
  ETXTBSY: 'text busy',
  EIO: 'input/output error',
  EEXIST: 'file already exists',
  ETIMEDOUT: 'timed out',
  EINPROGRESS: 'operation in progress',
  EAGAIN: 'temporary failure',
  EWOULDBLOCK: 'temporary failure',
  EPIPE: 'broken pipe',
  EPERM: 'permission denied',
  EACCES: 'access denied',
  ENODEV: 'device not configured',
  EPROTO: 'protocol error',
  EISDIR: 'is a directory',
  ESPIPE: 'unseekable descriptor',
  ENOTDIR: 'not a directory',
  ENXIO: 'device not configured',
  E2BIG: 'argument list too long',
  ESRCH: 'no such process',
  ENOEXEC: 'exec format error',
  EBADF: 'file descriptor not open',
  ECHILD: 'no child processes',
  EDEADLK: 'operation would cause deadlock',
  EFAULT: 'bad address',
  ENOTBLK: 'not a block device',
  EBUSY: 'device busy',
  EXDEV: 'cross-device link',
  EINVAL: 'invalid argument',
  ENFILE: 'system cannot open more files',
  EMFILE: 'process cannot open more files',
  ENOTTY: 'not a tty',
  EFBIG: 'file too big',
  ENOSPC: 'out of disk space',
  EROFS: 'read-only file system',
  EMLINK: 'too many links',
  EDOM: 'input out of range',
  ERANGE: 'output out of range',
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  ENETUNREACH: 'network unreachable',
  EHOSTUNREACH: 'host unreachable',
  EADDRINUSE: 'address already used',
  EADDRNOTAVAIL: 'address not available',
  ENAMETOOLONG: 'file name too long',
  ENOTEMPTY: 'directory not empty',
  ELOOP: 'symbolic link loop',
  EDQUOT: 'disk quota exceeded',
}

/** The djb text for an error thrown by Node's fs/net calls (falls back to its message). */
export function errorText(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code
  if (typeof code === 'string' && code in TEXTS) return TEXTS[code]!
  if (err instanceof Error) return err.message
  return String(err)
}

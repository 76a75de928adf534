/** Base of the errors raised while making or running a backend. */
export class BackendError extends Error {
  override name = 'BackendError'
  readonly code: string = 'SERVER_ERR_BACKEND'
  /** true: retrying later may work. false: it cannot (a bad spec stays bad). */
  readonly temporary: boolean = true
}

/** A `--backend` value that names no registered scheme or is malformed for its scheme. */
export class BackendSpecError extends BackendError {
  override name = 'BackendSpecError'
  override readonly code = 'SERVER_ERR_BACKEND_SPEC'
  override readonly temporary = false
  constructor(
    readonly spec: string,
    reason: string,
  ) {
    super(`bad backend ${JSON.stringify(spec)}: ${reason}`)
  }
}

/** A backend that could not be opened (a database, a directory). */
export class BackendOpenError extends BackendError {
  override name = 'BackendOpenError'
  override readonly code = 'SERVER_ERR_BACKEND_OPEN'
  constructor(
    readonly spec: string,
    reason: string,
    options?: { cause?: unknown },
  ) {
    super(`unable to open backend ${spec}: ${reason}`, options)
  }
}

/**
 * The Z verdict for a failure inside a backend, worded as qmail-qmqpd words its queue's
 * troubles: a full or failing disk is `qq write error or disk full`, anything else a
 * temporary problem. Never D: a fault of ours must not look like a final refusal.
 */
export function failureText(err: unknown): string {
  const code = (err as { code?: unknown } | undefined)?.code
  if (
    code === 'ENOSPC' ||
    code === 'EIO' ||
    code === 'EDQUOT' ||
    code === 'SQLITE_FULL' ||
    (typeof code === 'string' && code.startsWith('SQLITE_IOERR'))
  )
    return 'qq write error or disk full (#4.3.0)'
  return 'qq temporary problem (#4.3.0)'
}

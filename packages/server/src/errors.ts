/**
 * Every failure qmqpd itself reports, one class per failure under `QmqpdError`. Callers switch
 * on `code` (stable forever) or on `temporary`: `false` means a permanent problem (usage,
 * invalid configuration: exit 100), anything else is temporary (cannot bind, cannot read a
 * file: exit 111). Unknown errors count as temporary.
 */
export class QmqpdError extends Error {
  override name = 'QmqpdError'
  readonly code: string = 'QMQPD_ERR'
  readonly temporary: boolean = true
}

/** A flag, environment variable or config-file value that is not valid; names the key. */
export class QmqpdConfigError extends QmqpdError {
  override name = 'QmqpdConfigError'
  override readonly code = 'QMQPD_ERR_CONFIG'
  override readonly temporary = false
  constructor(
    /** The option as a flag (`--max-recipients`), variable or file key, as the user wrote it. */
    readonly key: string,
    message: string,
  ) {
    super(`${key}: ${message}`)
  }
}

/** A file qmqpd needs (config file, rules, log file) could not be read or opened. */
export class QmqpdFileError extends QmqpdError {
  override name = 'QmqpdFileError'
  override readonly code = 'QMQPD_ERR_FILE'
  override readonly temporary = true
  constructor(
    readonly path: string,
    override readonly cause: unknown,
    message: string,
  ) {
    super(message)
  }
}

/** A listening socket could not be bound. `privileged` is true for EACCES on a port below 1024. */
export class QmqpdBindError extends QmqpdError {
  override name = 'QmqpdBindError'
  override readonly code = 'QMQPD_ERR_BIND'
  override readonly temporary = true
  constructor(
    readonly address: string,
    readonly errno: string | undefined,
    readonly privileged: boolean,
    message: string,
  ) {
    super(message)
  }
}

/** `--user` names an unknown user, or the process may not change to it. */
export class QmqpdUserError extends QmqpdError {
  override name = 'QmqpdUserError'
  override readonly code = 'QMQPD_ERR_USER'
  override readonly temporary = true
  constructor(
    readonly user: string,
    message: string,
  ) {
    super(message)
  }
}

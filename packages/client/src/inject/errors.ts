/**
 * Errors of qmail-inject's message preparation. Each carries the exact bytes qmail-inject
 * prints on stderr (`stderr`), a stable `code`, and `temporary` (true: exit 111, false: exit 100).
 */
export class InjectError extends Error {
  override name = 'InjectError'
  readonly code: string = 'CLIENT_ERR_INJECT'
  readonly temporary: boolean = true
  /** What qmail-inject writes on stderr, byte for byte (raw header bytes included). */
  readonly stderr: Buffer
  constructor(stderr: Buffer | string) {
    const bytes = Buffer.isBuffer(stderr) ? stderr : Buffer.from(stderr, 'latin1')
    super(bytes.toString('latin1').replace(/\n$/, ''))
    this.stderr = bytes
  }
}

/** `qmail-inject: illegal option -- x` / `option requires an argument -- f`. */
export class InjectUsageError extends InjectError {
  override name = 'InjectUsageError'
  override readonly code = 'CLIENT_ERR_USAGE'
  override readonly temporary = false
}

/** A recipient argument that does not parse: `qmail-inject: fatal: unable to parse address: ARG`. */
export class InjectAddressError extends InjectError {
  override name = 'InjectAddressError'
  override readonly code = 'CLIENT_ERR_ADDRESS'
  override readonly temporary = false
  constructor(readonly argument: Buffer) {
    super(
      Buffer.concat([
        Buffer.from('qmail-inject: fatal: unable to parse address: '),
        argument,
        Buffer.from('\n'),
      ]),
    )
  }
}

/**
 * A header field, `-f` value or control value that does not parse:
 * `qmail-inject: fatal: unable to parse this line:` LF, then the text as read (a field keeps its
 * own final LF; a `-f` value or control value has none).
 */
export class InjectParseError extends InjectError {
  override name = 'InjectParseError'
  override readonly code = 'CLIENT_ERR_PARSE'
  override readonly temporary = false
  constructor(readonly line: Buffer) {
    super(Buffer.concat([Buffer.from('qmail-inject: fatal: unable to parse this line:\n'), line]))
  }
}

/** A control file, the QMAILMFTFILE file or the message could not be read. */
export class InjectReadError extends InjectError {
  override name = 'InjectReadError'
  override readonly code = 'CLIENT_ERR_READ'
  override readonly temporary = true
  constructor(override readonly cause?: unknown) {
    super('qmail-inject: fatal: read error\n')
  }
}

/** Allocation failed (a message larger than a Buffer can hold). */
export class InjectMemoryError extends InjectError {
  override name = 'InjectMemoryError'
  override readonly code = 'CLIENT_ERR_NOMEM'
  override readonly temporary = true
  constructor() {
    super('qmail-inject: fatal: out of memory\n')
  }
}

/** The client home cannot be entered (qmail-inject's failed chdir: `internal bug`). */
export class InjectHomeError extends InjectError {
  override name = 'InjectHomeError'
  override readonly code = 'CLIENT_ERR_HOME'
  override readonly temporary = true
  constructor(readonly home: string) {
    super('qmail-inject: fatal: internal bug\n')
  }
}

/** A setting of ours with a value we do not know (QMQPKIT_MAILCLASS_MODE). */
export class InjectConfigError extends InjectError {
  override name = 'InjectConfigError'
  override readonly code = 'CLIENT_ERR_CONFIG'
  override readonly temporary = false
}

/**
 * The queue program answered with something other than success. `reply` is qmail's text with
 * its D/Z letter (`Dmail server permanently rejected message (#5.3.0)`); D is permanent.
 */
export class InjectQueueError extends InjectError {
  override name = 'InjectQueueError'
  override readonly code = 'CLIENT_ERR_QUEUE'
  override readonly temporary: boolean
  constructor(readonly reply: string) {
    super(`qmail-inject: fatal: ${reply.slice(1)}\n`)
    this.temporary = !reply.startsWith('D')
  }
}

/** The queue program could not be started (qmail's `unable to run qmail-queue`). */
export class InjectQueueStartError extends InjectError {
  override name = 'InjectQueueStartError'
  override readonly code = 'CLIENT_ERR_QUEUE_START'
  override readonly temporary = true
  constructor(override readonly cause?: unknown) {
    super('qmail-inject: fatal: unable to run qmail-queue\n')
  }
}

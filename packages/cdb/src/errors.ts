/** Base of every error @qmqpkit/cdb throws. */
export class CdbError extends Error {
  override name = 'CdbError'
  readonly code: string = 'CDB_ERR'
  /** Reading or writing again later may work (the classic tools exit 111 for all of these). */
  readonly temporary: boolean = true
}

/**
 * A file that is not a well-formed cdb: too short, a table or record that points past the
 * end. `offset` is where the bad data was expected; `truncated` says the file ends too soon.
 */
export class CdbFormatError extends CdbError {
  override name = 'CdbFormatError'
  override readonly code = 'CDB_ERR_FORMAT'
  constructor(
    message: string,
    readonly offset: number,
    readonly truncated: boolean,
  ) {
    super(`${message} at offset ${offset}`)
  }
}

/** A database whose offsets would pass 2^32 − 1: the cdb format cannot hold it. */
export class CdbTooBigError extends CdbError {
  override name = 'CdbTooBigError'
  override readonly code = 'CDB_ERR_TOO_BIG'
  constructor() {
    super('database would pass the 4 GiB limit of the cdb format')
  }
}

/** The writer was used after finish() or abort(), or a record's bytes did not match its lengths. */
export class CdbUsageError extends CdbError {
  override name = 'CdbUsageError'
  override readonly code = 'CDB_ERR_USAGE'
  override readonly temporary = false
}

/**
 * Every failure this package reports, one class per failure under `QmqpError`. Callers switch
 * on `code` (stable forever) or on `temporary`, never on the message text. `temporary: true`
 * means retrying later may work (a Z, exit 111); `false` means it cannot (a D, exit 100).
 * Unknown errors count as temporary: a bug must never look like a final refusal.
 */
export class QmqpError extends Error {
  override name = 'QmqpError'
  readonly code: string = 'QMQP_ERR'
  readonly temporary: boolean = true
}

/** Where in a request a problem was found. `header` is the outer length, `trailer` the final comma. */
export type RequestStage = 'header' | 'message' | 'sender' | 'recipient' | 'trailer' | 'reply'

/** Why framing failed. */
export type ProtocolReason =
  | 'length-syntax' // a byte other than a digit before the ':'
  | 'length-prefix-too-long' // more prefix bytes than allowed (qmail spends at most 100 on the outer length)
  | 'missing-comma' // the byte after the payload is not ','
  | 'outer-length-mismatch' // the parts do not end exactly where the outer length says
  | 'truncated' // end of input inside the request

/** Malformed netstring framing. The server drops such a connection (qmail) or answers D (Postfix). */
export class QmqpProtocolError extends QmqpError {
  override name = 'QmqpProtocolError'
  override readonly code: string = 'QMQP_ERR_PROTOCOL'
  override readonly temporary: boolean = false
  constructor(
    readonly reason: ProtocolReason,
    readonly stage: RequestStage,
    message?: string,
  ) {
    super(message ?? `${reason.replace(/-/g, ' ')} in ${stage}`)
  }
}

/** Which configured limit a request broke. */
export type LimitKind = 'outer-bytes' | 'message-bytes' | 'address-bytes' | 'netstring-bytes'

/** A length or count over a configured limit, found as soon as the length prefix showed it. */
export class QmqpLimitError extends QmqpError {
  override name = 'QmqpLimitError'
  override readonly code: string = 'QMQP_ERR_LIMIT'
  override readonly temporary: boolean = false
  constructor(
    readonly limit: LimitKind,
    readonly max: number,
    readonly stage: RequestStage,
    message?: string,
  ) {
    super(message ?? `${stage}: ${limit} over ${max}`)
  }
}

/** The client could not connect to a server: refused, timed out, no route, or the name did not resolve. */
export class QmqpConnectError extends QmqpError {
  override name = 'QmqpConnectError'
  override readonly code: string = 'QMQP_ERR_CONNECT'
  constructor(
    readonly reason: 'refused' | 'timeout' | 'unreachable' | 'dns',
    readonly server: string,
    message?: string,
    options?: { cause?: unknown },
  ) {
    super(message ?? `cannot connect to ${server}: ${reason}`, options)
  }
}

/** A read or write on an established connection made no progress for `timeoutMs`. */
export class QmqpTimeoutError extends QmqpError {
  override name = 'QmqpTimeoutError'
  override readonly code: string = 'QMQP_ERR_TIMEOUT'
  constructor(
    readonly phase: 'write' | 'read',
    readonly timeoutMs: number,
    readonly server?: string,
  ) {
    super(`${phase} timed out after ${timeoutMs} ms${server ? ` talking to ${server}` : ''}`)
  }
}

/** The connection broke (reset, closed) while the request was being written. */
export class QmqpConnectionError extends QmqpError {
  override name = 'QmqpConnectionError'
  override readonly code: string = 'QMQP_ERR_CONNECTION'
  constructor(
    readonly server: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options)
  }
}

/** The server closed without a reply, or its reply is not a netstring starting with K, Z or D. */
export class QmqpReplyError extends QmqpError {
  override name = 'QmqpReplyError'
  override readonly code: string = 'QMQP_ERR_REPLY'
  constructor(
    readonly reason: 'no-reply' | 'bad-reply',
    readonly server?: string,
    message?: string,
  ) {
    super(message ?? (reason === 'no-reply' ? 'connection closed without a reply' : 'unreadable reply'))
  }
}

/** A message stream delivered a byte count other than its declared size. */
export class QmqpBodyLengthError extends QmqpError {
  override name = 'QmqpBodyLengthError'
  override readonly code: string = 'QMQP_ERR_BODY_LENGTH'
  constructor(
    readonly declared: number,
    readonly actual: number,
  ) {
    super(`message stream gave ${actual} bytes${actual > declared ? ' or more' : ''}, declared ${declared}`)
  }
}

/** Bad arguments or configuration: an unparsable server name, no servers, a negative size. */
export class QmqpConfigError extends QmqpError {
  override name = 'QmqpConfigError'
  override readonly code: string = 'QMQP_ERR_CONFIG'
}

/** The spool (temporary file) could not be written or read. */
export class QmqpSpoolError extends QmqpError {
  override name = 'QmqpSpoolError'
  override readonly code: string = 'QMQP_ERR_SPOOL'
}

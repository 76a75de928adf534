/**
 * Errors of the client package. Each class has its own `name` and a stable `code`;
 * `temporary` tells the edge whether a later retry may work (exit 111) or not (exit 100).
 */
export class ClientError extends Error {
  override name = 'ClientError'
  readonly code: string = 'CLIENT_ERR'
  /** true: retrying later may work (exit 111). false: it cannot (exit 100). */
  readonly temporary: boolean = true
}

/** No usable server: `control/qmqpservers` missing, unreadable, or without a usable line. */
export class ClientConfigError extends ClientError {
  override name = 'ClientConfigError'
  override readonly code = 'CLIENT_ERR_SERVERS'
  override readonly temporary = true
}

/** The server answered Z (temporary) or D (permanent). */
export class ClientRejectedError extends ClientError {
  override name = 'ClientRejectedError'
  override readonly code = 'CLIENT_ERR_REJECTED'
  override readonly temporary: boolean
  constructor(
    readonly verdict: { code: 'Z' | 'D'; text: string },
    readonly server: string,
  ) {
    super(
      `${server} ${verdict.code === 'D' ? 'permanently' : 'temporarily'} rejected the message: ${verdict.text}`,
    )
    this.temporary = verdict.code !== 'D'
  }
}

/** The caller passed something unusable (no recipients, a bad server string, a bad envelope). */
export class ClientUsageError extends ClientError {
  override name = 'ClientUsageError'
  override readonly code = 'CLIENT_ERR_USAGE'
  override readonly temporary = false
}

import { QmqpdError } from '../errors.js'

/** A message query (list, wait, reset, fault match) with an unknown or malformed parameter. */
export class QueryError extends QmqpdError {
  override name = 'QueryError'
  override readonly code = 'QMQPD_ERR_QUERY'
  override readonly temporary = false
  constructor(
    /** The parameter at fault, as written (`since`, `header`, …). */
    readonly param: string,
    message: string,
  ) {
    super(`${param}: ${message}`)
  }
}

/** A fault rule that cannot be used: unknown action, bad count, probability without a seed, … */
export class FaultRuleError extends QmqpdError {
  override name = 'FaultRuleError'
  override readonly code = 'QMQPD_ERR_FAULT_RULE'
  override readonly temporary = false
}

/** The inspection API's error table: code → HTTP status. Callers switch on the code, never the text. */
export const API_ERRORS = {
  QMQPD_ERR_QUERY: 400,
  QMQPD_ERR_FAULT_RULE: 400,
  QMQPD_ERR_UNAUTHORIZED: 401,
  QMQPD_ERR_NOT_FOUND: 404,
  QMQPD_ERR_NO_BODY: 404,
  QMQPD_ERR_WAIT_TIMEOUT: 408,
  QMQPD_ERR_NOT_READY: 503,
} as const

export type ApiErrorCode = keyof typeof API_ERRORS

/** A wait ended at its timeout with fewer matching messages than asked for. */
export class WaitTimeoutError extends QmqpdError {
  override name = 'WaitTimeoutError'
  override readonly code = 'QMQPD_ERR_WAIT_TIMEOUT'
  override readonly temporary = true
  constructor(
    readonly wanted: number,
    /** What had arrived by then. */
    readonly found: unknown[],
    readonly timeoutMs: number,
  ) {
    super(`${found.length} of ${wanted} matching messages within ${timeoutMs} ms`)
  }
}

/** Base of every error this package throws. `temporary` follows qmail's exit classes. */
export class TcprulesError extends Error {
  override name = 'TcprulesError'
  readonly code: string = 'TCPRULES_ERR'
  /** true: retrying later may work (exit 111). false: it cannot (exit 100). */
  readonly temporary: boolean = true
}

/**
 * A line tcprules refuses. `text` is the line as tcprules prints it (trailing LF, blanks and
 * tabs removed, a CR kept); `line` counts from 1, every physical line included.
 */
export class RulesSyntaxError extends TcprulesError {
  override name = 'RulesSyntaxError'
  override readonly code = 'TCPRULES_ERR_SYNTAX'
  override readonly temporary = false
  constructor(
    readonly line: number,
    readonly text: Buffer,
    readonly reason: string,
  ) {
    super(`line ${line}: ${reason}: ${text.toString('latin1')}`)
  }
}

/** A rules database or rules file that cannot be read (missing, unreadable, corrupt). */
export class RulesReadError extends TcprulesError {
  override name = 'RulesReadError'
  override readonly code = 'TCPRULES_ERR_READ'
  constructor(
    readonly path: string,
    override readonly cause: unknown,
  ) {
    super(`unable to read ${path}: ${cause instanceof Error ? cause.message : String(cause)}`)
  }
}

/** A CIDR block or other argument of our own commands that makes no sense. */
export class RulesUsageError extends TcprulesError {
  override name = 'RulesUsageError'
  override readonly code = 'TCPRULES_ERR_USAGE'
  override readonly temporary = false
}

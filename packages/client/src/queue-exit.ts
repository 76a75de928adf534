import { qmailQueueFailure } from '@qmqpkit/qmqp'
import { ClientConfigError, ClientRejectedError, ClientUsageError } from './errors.js'

/**
 * qmail-qmqpc's exit codes (the qmail-queue interface), and the text qmail-inject prints for
 * each, from qmail's `qmail.c` table. The first letter says whether it is permanent (D) or
 * temporary (Z).
 */
export const QUEUE_EXIT = {
  ok: 0,
  permanentReject: 31,
  readError: 54,
  noConfig: 55,
  temporaryReject: 71,
  connectTimeout: 72,
  connectRefused: 73,
  communication: 74,
  badEnvelope: 91,
} as const

/** The text qmail's `qmail.c` gives a queue program's exit code: `D…` permanent, `Z…` temporary. */
export function queueExitText(code: number): string {
  const v = qmailQueueFailure(code)
  return v.code + v.text
}

/**
 * The qmail-qmqpc exit code for a failed send: Z and D answers, the last connect failure
 * (refused or timed out), a conversation that broke off, or missing configuration.
 */
export function queueExitFor(err: unknown): number {
  if (err instanceof ClientRejectedError) return err.verdict.code === 'D' ? 31 : 71
  if (err instanceof ClientConfigError) return 55
  if (err instanceof ClientUsageError) return 91
  const failure = connectFailure(err)
  if (failure === 'timeout') return 72
  if (failure === 'refused') return 73
  return 74
}

/**
 * Whether an error from the QMQP client is a failed connect, and which kind. A connect that
 * timed out is 72; every other connect failure (refused, unreachable, a name that does not
 * resolve) is 73, the code qmail-qmqpc gives a refused connection.
 */
export function connectFailure(err: unknown): 'timeout' | 'refused' | undefined {
  const e = err as { code?: unknown; phase?: unknown; reason?: unknown; timedOut?: unknown } | null
  if (e === null || typeof e !== 'object') return undefined
  if (e.code === 'QMQP_ERR_TIMEOUT' && e.phase === 'connect') return 'timeout'
  if (e.code !== 'QMQP_ERR_CONNECT') return undefined
  return e.reason === 'timeout' || e.timedOut === true ? 'timeout' : 'refused'
}

/** qmail-inject's exit code and stderr line for a queue exit code (0: nothing printed). */
export function injectOutcome(code: number, program = 'qmail-inject'): { exitCode: number; stderr?: string } {
  if (code === 0) return { exitCode: 0 }
  const text = queueExitText(code)
  return { exitCode: text.startsWith('D') ? 100 : 111, stderr: `${program}: fatal: ${text.slice(1)}\n` }
}

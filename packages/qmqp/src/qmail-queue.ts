import type { Verdict } from './verdict.js'

/**
 * The qmail-queue interface that qmail-qmqpd, qmail-inject and qmail-qmqpc meet at: the message
 * on fd 0, this envelope on fd 1, and an exit code that qmail's `qmail.c` turns into the reply
 * a QMQP server sends (and the text qmail-inject prints).
 */

/** The envelope: `F<sender>\0`, `T<recipient>\0` for each recipient, then one more `\0`. */
export function qmailQueueEnvelope(sender: Buffer, recipients: readonly Buffer[]): Buffer {
  const parts: Buffer[] = [Buffer.from('F'), sender, Buffer.from([0])]
  for (const r of recipients) parts.push(Buffer.from('T'), r, Buffer.from([0]))
  parts.push(Buffer.from([0]))
  return Buffer.concat(parts)
}

/**
 * The Z or D reply for a queue program's non-zero exit code, from qmail's `qmail.c` table
 * (qmqp.md §4). Exit 0 means queued; what K text goes with it is the caller's (qmail-qmqpd
 * writes `ok <unix time> qp <pid>`).
 */
export function qmailQueueFailure(exitCode: number): Verdict {
  const z = (text: string): Verdict => ({ code: 'Z', text })
  switch (exitCode) {
    case 11:
    case 115:
      return { code: 'D', text: 'envelope address too long for qq (#5.1.3)' }
    case 31:
      return { code: 'D', text: 'mail server permanently rejected message (#5.3.0)' }
    case 51:
      return z('qq out of memory (#4.3.0)')
    case 52:
      return z('qq timeout (#4.3.0)')
    case 53:
      return z('qq write error or disk full (#4.3.0)')
    case 54:
      return z('qq read error (#4.3.0)')
    case 55:
      return z('qq unable to read configuration (#4.3.0)')
    case 56:
      return z('qq trouble making network connection (#4.3.0)')
    case 61:
      return z('qq trouble in home directory (#4.3.0)')
    case 62:
    case 63:
    case 64:
    case 65:
    case 66:
      return z('qq trouble creating files in queue (#4.3.0)')
    case 71:
      return z('mail server temporarily rejected message (#4.3.0)')
    case 72:
      return z('connection to mail server timed out (#4.4.1)')
    case 73:
      return z('connection to mail server rejected (#4.4.1)')
    case 74:
      return z('communication with mail server failed (#4.4.2)')
    case 81:
    case 91:
      return z('qq internal bug (#4.3.0)')
    case 120:
      return z('unable to exec qq (#4.3.0)')
    default:
      return exitCode >= 11 && exitCode <= 40
        ? { code: 'D', text: 'qq permanent problem (#5.3.0)' }
        : z('qq temporary problem (#4.3.0)')
  }
}

/** A queue program killed by a signal (or one whose status is unknown): `Zqq crashed`. */
export const QMAIL_QUEUE_CRASHED: Verdict = { code: 'Z', text: 'qq crashed (#4.3.0)' }

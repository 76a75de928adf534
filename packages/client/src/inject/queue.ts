/**
 * Handing a prepared message to a qmail-queue-interface program (QMAILQUEUE): the message on its
 * fd 0, the envelope on its fd 1, and its exit code turned into qmail's reply text (qmail.c).
 */
import type { Writable } from 'node:stream'
import { QMAIL_QUEUE_CRASHED, qmailQueueEnvelope, qmailQueueFailure } from '@qmqpkit/qmqp'
import type { PreparedMessage } from './prepare.js'

/** `F<sender>\0`, `T<rcpt>\0` for each recipient, then one more `\0`. */
export const envelopeBytes = qmailQueueEnvelope

/**
 * qmail's reading of a queue program's exit: `''` for success, else the reply with its D/Z
 * letter. `writeFailed` (the program stopped reading early) turns a 0 into a read error.
 */
export function queueReply(code: number | null, signal: string | null, writeFailed = false): string {
  if (signal !== null || code === null) return QMAIL_QUEUE_CRASHED.code + QMAIL_QUEUE_CRASHED.text
  if (code === 0 && !writeFailed) return ''
  const v = qmailQueueFailure(code === 0 ? 54 : code)
  return v.code + v.text
}

/**
 * The path as a printf format of octal escapes: the shell turns it back into the exact bytes,
 * which Node's spawn() could not pass (it encodes arguments as UTF-8).
 */
function octalFormat(bytes: Buffer): string {
  let out = ''
  for (const b of bytes) out += '\\' + b.toString(8).padStart(3, '0')
  return out
}

// fd 3 carries the envelope; it becomes the program's fd 1. A program that cannot be executed
// exits 120, as qmail's child does after a failed execv ("unable to exec qq"). execv does not
// search PATH, so a name without a slash is taken in the current directory.
const SCRIPT =
  'q=$(printf "$1"; echo x); q=${q%x}; case $q in */*) ;; *) q=./$q ;; esac; exec 1<&3 3<&-; ' +
  'if [ -f "$q" ] && [ -x "$q" ]; then exec "$q"; fi; exit 120'

export interface QueueProgramOptions {
  /** Directory the program runs in (qmail-inject runs it from its home: relative names resolve there). */
  cwd?: string | undefined
  /** Where the program's stderr goes; process.stderr is passed on as the real fd 2. */
  stderr?: Writable | undefined
}

/** Runs `program` as qmail-inject runs qmail-queue; resolves to qmail's reply text ('' = queued). */
export async function runQueueProgram(
  program: Buffer,
  prepared: Pick<PreparedMessage, 'message' | 'sender' | 'recipients'>,
  options: QueueProgramOptions = {},
): Promise<string> {
  // Loaded here: most runs send over QMQP and never start a queue program.
  const { spawn } = await import('node:child_process')
  const inheritErr = !options.stderr || options.stderr === process.stderr
  const child = spawn('/bin/sh', ['-c', SCRIPT, 'qmail-inject', octalFormat(program)], {
    cwd: options.cwd,
    stdio: ['pipe', 'ignore', inheritErr ? 'inherit' : 'pipe', 'pipe'],
  })
  if (!inheritErr) child.stderr!.pipe(options.stderr!, { end: false })
  let writeFailed = false
  const send = (stream: Writable, bytes: Buffer) =>
    new Promise<void>(resolve => {
      stream.on('error', () => {
        writeFailed = true
        resolve()
      })
      stream.end(bytes, () => resolve())
    })
  const exited = new Promise<[number | null, string | null]>((resolve, reject) => {
    child.once('error', reject)
    child.once('close', (code, signal) => resolve([code, signal]))
  })
  await send(child.stdin!, prepared.message)
  await send(child.stdio[3] as Writable, envelopeBytes(prepared.sender, prepared.recipients))
  const [code, signal] = await exited
  return queueReply(code, signal, writeFailed)
}

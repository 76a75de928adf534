/**
 * Handing a prepared message to a qmail-queue-interface program (QMAILQUEUE): the message on its
 * fd 0, the envelope on its fd 1, and its exit code turned into qmail's reply text (qmail.c).
 */
import type { Writable } from 'node:stream'
import type { PreparedMessage } from './prepare.js'

/** `F<sender>\0`, `T<rcpt>\0` for each recipient, then one more `\0`. */
export function envelopeBytes(sender: Buffer, recipients: Buffer[]): Buffer {
  const parts: Buffer[] = [Buffer.from('F'), sender, Buffer.from([0])]
  for (const r of recipients) parts.push(Buffer.from('T'), r, Buffer.from([0]))
  parts.push(Buffer.from([0]))
  return Buffer.concat(parts)
}

/**
 * qmail's reading of a queue program's exit: `''` for success, else the reply with its D/Z
 * letter. `writeFailed` (the program stopped reading early) turns a 0 into a read error.
 */
export function queueReply(code: number | null, signal: string | null, writeFailed = false): string {
  if (signal !== null || code === null) return 'Zqq crashed (#4.3.0)'
  switch (code) {
    case 115:
    case 11:
      return 'Denvelope address too long for qq (#5.1.3)'
    case 31:
      return 'Dmail server permanently rejected message (#5.3.0)'
    case 51:
      return 'Zqq out of memory (#4.3.0)'
    case 52:
      return 'Zqq timeout (#4.3.0)'
    case 53:
      return 'Zqq write error or disk full (#4.3.0)'
    case 0:
      if (!writeFailed) return ''
      return 'Zqq read error (#4.3.0)'
    case 54:
      return 'Zqq read error (#4.3.0)'
    case 55:
      return 'Zqq unable to read configuration (#4.3.0)'
    case 56:
      return 'Zqq trouble making network connection (#4.3.0)'
    case 61:
      return 'Zqq trouble in home directory (#4.3.0)'
    case 62:
    case 63:
    case 64:
    case 65:
    case 66:
      return 'Zqq trouble creating files in queue (#4.3.0)'
    case 71:
      return 'Zmail server temporarily rejected message (#4.3.0)'
    case 72:
      return 'Zconnection to mail server timed out (#4.4.1)'
    case 73:
      return 'Zconnection to mail server rejected (#4.4.1)'
    case 74:
      return 'Zcommunication with mail server failed (#4.4.2)'
    case 81:
    case 91:
      return 'Zqq internal bug (#4.3.0)'
    case 120:
      return 'Zunable to exec qq (#4.3.0)'
  }
  return code >= 11 && code <= 40 ? 'Dqq permanent problem (#5.3.0)' : 'Zqq temporary problem (#4.3.0)'
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

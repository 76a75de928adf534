import { spawn } from 'node:child_process'
import type { Socket } from 'node:net'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { qmailQueueEnvelope, qmailQueueFailure, type Verdict } from '@qmqpkit/qmqp'
import type { Backend, BackendContext, BackendFactory } from '../backend.js'
import type { InjectedMessage } from '../injected-message.js'
import { BackendSpecError } from './errors.js'

/**
 * The reply qmail-qmqpd gives for a queue program's exit code (qmail's `qmail.c` table); K for 0,
 * with the text qmail-qmqpd writes: `ok <unix time> qp <pid of the queue program>`.
 */
export function queueExitVerdict(exitCode: number, pid: number, now = Date.now()): Verdict {
  if (exitCode === 0) return { code: 'K', text: `ok ${Math.floor(now / 1000)} qp ${pid}` }
  return qmailQueueFailure(exitCode)
}

/** The qmail-queue envelope: `F<sender>\0`, `T<recipient>\0` for each, then one more `\0`. */
export const queueEnvelope = qmailQueueEnvelope

export interface ExecBackendOptions {
  /** A program still running after this long is killed and the message gets Z (`qq timeout`). */
  timeoutMs?: number
}

/**
 * Runs a qmail-queue-compatible program for each message: the delivered message on its fd 0, the
 * envelope on its fd 1, its exit code mapped to K/Z/D as qmail-qmqpd maps qmail-queue's. So a real
 * qmail-queue (or a filter such as qmail-scanner, or qmail-qmqpc) can sit behind qmqpd.
 */
export class ExecBackend implements Backend {
  readonly name: string
  readonly #timeoutMs: number

  constructor(
    readonly program: string,
    options: ExecBackendOptions = {},
  ) {
    this.name = `exec:${program}`
    this.#timeoutMs = options.timeoutMs ?? 24 * 3600 * 1000
  }

  deliver(msg: InjectedMessage): Promise<Verdict> {
    return new Promise<Verdict>(resolve => {
      let settled = false
      const finish = (verdict: Verdict) => {
        if (settled) return
        settled = true
        clearTimeout(timer)
        resolve(verdict)
      }
      let timedOut = false
      let sourceFailed = false
      // Node makes 'pipe' stdio from socket pairs, so the child's fd 1 is writable from this side too.
      const child = spawn(this.program, [], { stdio: ['pipe', 'pipe', 'inherit'] })
      const timer = setTimeout(() => {
        timedOut = true
        child.kill('SIGKILL')
      }, this.#timeoutMs)
      child.once('error', () => finish({ code: 'Z', text: 'unable to exec qq (#4.3.0)' }))
      child.once('close', (code, signal) => {
        if (sourceFailed) finish({ code: 'Z', text: 'qq read error (#4.3.0)' })
        else if (timedOut) finish({ code: 'Z', text: 'qq timeout (#4.3.0)' })
        else if (code === null || signal !== null) finish({ code: 'Z', text: 'qq crashed (#4.3.0)' })
        else finish(queueExitVerdict(code, child.pid ?? 0))
      })
      // As qmail-qmqpd: the whole message first, then the envelope. A program that stops reading
      // early (EPIPE) has spoken through its exit code. If our copy of the message fails, the program
      // is killed before it sees an envelope, so it cannot queue a partial message.
      const envelope = child.stdout as unknown as Socket
      envelope.on('error', () => {})
      envelope.resume()
      let source: Readable
      try {
        source = msg.delivered.stream()
      } catch {
        source = new Readable({ read() {} })
        process.nextTick(() => source.destroy(new Error('message body unreadable')))
      }
      source.once('error', () => {
        sourceFailed = true
        child.kill('SIGKILL')
      })
      pipeline(source, child.stdin).then(
        () => envelope.end(queueEnvelope(msg.sender, msg.recipients)),
        () => envelope.end(),
      )
    })
  }

  async close(): Promise<void> {}
}

/** `exec:PROGRAM` */
export const execBackendFactory: BackendFactory = {
  scheme: 'exec',
  description:
    'exec:PROGRAM  run a qmail-queue-compatible program per message (message on fd 0, envelope on fd 1)',
  async create(spec: string, _context: BackendContext): Promise<Backend> {
    const program = spec.slice('exec:'.length)
    if (program === '') throw new BackendSpecError(spec, 'no program')
    return new ExecBackend(program)
  },
}

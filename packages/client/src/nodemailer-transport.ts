import type { Readable } from 'node:stream'
import { resolveServers, send, type SendOptions } from './library.js'
import type { Verdict } from '@qmqpkit/qmqp'

/** The parts of nodemailer's MailMessage the transport uses (nodemailer itself is not a dependency). */
export interface NodemailerMail {
  message: {
    getEnvelope(): { from: string | false; to: string[] }
    messageId(): string
    createReadStream(): Readable
  }
}

/** What nodemailer's `sendMail()` resolves with for this transport. */
export interface QmqpSentMessageInfo {
  envelope: { from: string | false; to: string[] }
  messageId: string
  /** The server's answer as on the wire: `K` and its text. */
  response: string
  verdict: Verdict
  /** The server that answered, `host:port`. */
  server: string
  accepted: string[]
  rejected: string[]
}

/** Options of {@link qmqpTransport}: where to send, as for {@link send}. */
export type QmqpTransportOptions = Pick<
  SendOptions,
  'servers' | 'home' | 'env' | 'connectTimeoutMs' | 'timeoutMs' | 'failoverOn'
>

/** A nodemailer transport object (`name`, `version`, `send`, `verify`). */
export interface QmqpTransport {
  name: string
  version: string
  send(mail: NodemailerMail, callback: (err: Error | null, info?: QmqpSentMessageInfo) => void): void
  verify(): Promise<true>
}

/**
 * A nodemailer transport that sends nodemailer's built message over QMQP: lines end in LF (as
 * QMQP wants), Bcc is left out, the envelope is nodemailer's (`envelope` option or the
 * addresses). `info` carries the envelope, the server's K answer and which server gave it; a
 * Z or D answer fails the send with ClientRejectedError (`temporary` tells which).
 *
 * @example
 * const transporter = nodemailer.createTransport(qmqpTransport({ servers: ['10.0.0.5'] }))
 * const info = await transporter.sendMail({ from: 'app@example.com', to: 'ops@example.com', text: 'hi' })
 */
export function qmqpTransport(options: QmqpTransportOptions = {}): QmqpTransport {
  return {
    name: 'QMQP',
    version: '0.1.0',
    send(mail, callback) {
      deliver(mail, options).then(
        info => callback(null, info),
        (err: Error) => callback(err),
      )
    },
    async verify() {
      // Nothing to log in to: verifying means the server list can be resolved.
      resolveServers(options)
      return true
    },
  }
}

async function deliver(mail: NodemailerMail, options: QmqpTransportOptions): Promise<QmqpSentMessageInfo> {
  const envelope = mail.message.getEnvelope()
  const messageId = mail.message.messageId()
  const chunks: Buffer[] = []
  for await (const chunk of mail.message.createReadStream())
    chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as string))
  const result = await send(
    toLf(Buffer.concat(chunks)),
    { sender: envelope.from === false ? '' : envelope.from, recipients: envelope.to },
    options,
  )
  return {
    envelope,
    messageId,
    response: `${result.verdict.code}${result.verdict.text}`,
    verdict: result.verdict,
    server: result.server,
    accepted: [...envelope.to],
    rejected: [],
  }
}

/** CR LF line ends to LF: QMQP carries a message with LF-only lines. */
function toLf(message: Buffer): Buffer {
  const out = Buffer.allocUnsafe(message.length)
  let n = 0
  for (let i = 0; i < message.length; i++) {
    const c = message[i]!
    if (c === 0x0d && message[i + 1] === 0x0a) continue
    out[n++] = c
  }
  return out.subarray(0, n)
}

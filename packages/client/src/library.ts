import { statSync } from 'node:fs'
import { join } from 'node:path'
import { envFromObject } from '@qmqpkit/classic'
import { send as qmqpSend, type MessageSource, type Verdict } from '@qmqpkit/qmqp'
import { formatServer, parseServerLine, QMQP_PORT, readQmqpServers, type QmqpServer } from './control.js'
import { ClientRejectedError, ClientUsageError } from './errors.js'
import { clientHome, DEFAULT_CLIENT_HOME } from './home.js'
import { readInjectControl } from './inject/control-files.js'
import { prepareMessage } from './inject/prepare.js'

/** Where a message goes: the envelope sender (may be empty, for bounces) and the recipients. */
export interface Envelope {
  sender: Buffer | string
  recipients: Array<Buffer | string>
}

/** A message: bytes, text (UTF-8), a spooled body from @qmqpkit/qmqp, or `{ stream, size }` (sent once). */
export type MessageInput = MessageSource

/** Options of {@link send}; every default is stated here. */
export interface SendOptions {
  /**
   * Servers to try in order, as `qmqpservers` lines (`10.0.0.5`, `mx.example.com:6628`,
   * `[2001:db8::1]:628`) or objects. Default: `HOME/control/qmqpservers`.
   */
  servers?: Array<string | QmqpServer>
  /** Client home whose `control/qmqpservers` is read. Default: `QMQPKIT_CLIENT_HOME`, else `/var/hvmail-client`. */
  home?: string
  /** Environment consulted for `QMQPKIT_CLIENT_HOME`. Default: `process.env`. */
  env?: Map<string, Buffer>
  /** Connect timeout per server (qmail-qmqpc: 10 s). */
  connectTimeoutMs?: number
  /** Timeout of each read or write once connected (qmail-qmqpc: 60 s). */
  timeoutMs?: number
  /** When to try the next server: only when connecting fails (qmail-qmqpc), or also on a Z answer. */
  failoverOn?: 'connect' | 'connect-or-Z'
  /** Send a message with no recipients instead of refusing it (qmail-inject does; default false). */
  allowNoRecipients?: boolean
}

/** The answer of an accepted message. */
export interface SendResult {
  /** The server's K verdict; its text usually carries the queue id. */
  verdict: Verdict
  /** The server that answered, as `host:port`. */
  server: string
  /** The envelope as sent. */
  envelope: { sender: Buffer; recipients: Buffer[] }
}

/**
 * Sends one message over QMQP, trying the servers in order, and resolves when a server
 * answered K. A Z or D answer rejects with ClientRejectedError (`temporary` true for Z); a
 * failure to reach any server rejects with the QMQP client's error (QmqpConnectError, …),
 * and missing configuration with ClientConfigError. Every error carries `temporary`.
 *
 * Without an envelope the message goes through qmail-inject's preparation first, as
 * `qmail-inject` with no arguments would send it: recipients from To/Cc/Bcc, the sender from
 * Return-Path or the user, Date, Message-ID and From added, addresses completed from the
 * client home's control files (`options.home`).
 *
 * @example
 * const { verdict, server } = await send('Subject: hi\n\nhello\n',
 *   { sender: 'app@example.com', recipients: ['ops@example.com'] }, { servers: ['127.0.0.1:628'] })
 */
export async function send(
  message: MessageInput,
  envelope?: Envelope,
  options: SendOptions = {},
): Promise<SendResult> {
  if (envelope === undefined) return sendPrepared(message, options)
  const sender = toBuffer(envelope.sender)
  const recipients = envelope.recipients.map(toBuffer)
  if (recipients.length === 0 && options.allowNoRecipients !== true)
    throw new ClientUsageError('no recipients')
  const servers = serverList(options)
  const result = await qmqpSend(
    { message, sender, recipients },
    {
      servers,
      port: QMQP_PORT,
      connectTimeoutMs: options.connectTimeoutMs ?? 10_000,
      timeoutMs: options.timeoutMs ?? 60_000,
      failoverOn: options.failoverOn ?? 'connect',
    },
  )
  if (result.verdict.code !== 'K') {
    throw new ClientRejectedError({ code: result.verdict.code, text: result.verdict.text }, result.server)
  }
  return { verdict: result.verdict, server: result.server, envelope: { sender, recipients } }
}

/** The envelope-less form of {@link send}: qmail-inject's preparation, then the send. */
async function sendPrepared(message: MessageInput, options: SendOptions): Promise<SendResult> {
  if (typeof message !== 'string' && !Buffer.isBuffer(message)) {
    throw new ClientUsageError('a message without an envelope must be a Buffer or a string')
  }
  const env = options.env ?? envFromObject(process.env)
  const home = options.home ?? clientHome(env)
  const prepared = await prepareMessage(toBuffer(message), {
    args: [],
    flags: { recipients: 'A', print: false, senders: [] },
    env,
    control: await readInjectControl(home),
    now: new Date(),
    pid: process.pid,
  })
  return send(
    prepared.message,
    { sender: prepared.sender, recipients: prepared.recipients },
    { ...options, home, env },
  )
}

/** The server list of a send: the explicit one, else the client home's `qmqpservers`. */
export function resolveServers(options: Pick<SendOptions, 'servers' | 'home' | 'env'>): string[] {
  return serverList(options).slice()
}

/** resolveServers() without the copy (the list may be cached: never change it). */
function serverList(options: Pick<SendOptions, 'servers' | 'home' | 'env'>): readonly string[] {
  const given = options.servers
  if (given !== undefined) {
    if (given.length === 0) throw new ClientUsageError('no servers given')
    const out: string[] = new Array(given.length)
    for (let i = 0; i < given.length; i++) {
      const s = given[i]!
      out[i] = typeof s === 'string' ? serverOfLine(s) : formatServer(s)
    }
    return out
  }
  const home =
    options.home ??
    (options.env !== undefined
      ? clientHome(options.env)
      : process.env.QMQPKIT_CLIENT_HOME || DEFAULT_CLIENT_HOME)
  return homeServers(home)
}

/** Server lines given as strings, parsed and formatted: a sender gives the same few every time. */
const givenLines = new Map<string, string>()

function serverOfLine(line: string): string {
  let formatted = givenLines.get(line)
  if (formatted === undefined) {
    const parsed = parseServerLine(line.trim())
    if (parsed === undefined) throw new ClientUsageError(`not a server: ${line}`)
    formatted = formatServer(parsed)
    if (givenLines.size >= 256) givenLines.clear()
    givenLines.set(line, formatted)
  }
  return formatted
}

/**
 * `HOME/control/qmqpservers`, read again only when the file changed (its inode, size, or
 * modification or change time in nanoseconds): one stat per send instead of a read and a parse.
 */
const homeCache = new Map<string, { stamp: string; servers: readonly string[] }>()

function homeServers(home: string): readonly string[] {
  const path = join(home, 'control', 'qmqpservers')
  let stamp: string | undefined
  try {
    const st = statSync(path, { bigint: true, throwIfNoEntry: false })
    if (st !== undefined) stamp = `${st.ino} ${st.size} ${st.mtimeNs} ${st.ctimeNs}`
  } catch {
    // Let the read report it.
  }
  const cached = homeCache.get(home)
  if (stamp !== undefined && cached !== undefined && cached.stamp === stamp) return cached.servers
  const servers = Object.freeze(readQmqpServers(home).map(formatServer))
  if (stamp === undefined) homeCache.delete(home)
  else {
    if (homeCache.size >= 64) homeCache.clear()
    homeCache.set(home, { stamp, servers })
  }
  return servers
}

function toBuffer(value: Buffer | string): Buffer {
  return Buffer.isBuffer(value) ? value : Buffer.from(value)
}

import net, { type AddressInfo, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import type { Readable, Writable } from 'node:stream'
import { QmqpLimitError, QmqpProtocolError, QmqpSpoolError, type RequestStage } from './errors.js'
import { BodySpool, type MessageBody } from './message-body.js'
import { RequestDecoder, type Compat, type QmqpRequest } from './request.js'
import { encodeReply } from './response.js'
import { isVerdict, verdictFromText, type Verdict } from './verdict.js'

/** The connection as the socket reports it (addresses not normalised). */
export interface ConnectionFacts {
  id: string
  remoteAddress: string
  remotePort: number
  localAddress: string
  localPort: number
  family: 'IPv4' | 'IPv6'
}

/** Sizes and times of one request, filled in as it is read. Times are ms since the epoch. */
export interface RequestTranscript {
  outerLength: number
  messageLength: number
  senderLength: number
  recipientLengths: number[]
  startedAt: number
  firstByteAt?: number
  bodyDoneAt?: number
  requestDoneAt?: number
}

/** What the access hook decided. `reply`: a verdict sent at once instead of closing silently. */
export interface ConnectionDecision {
  allow: boolean
  /** Read the request no faster than this (fault injection, slow-server tests). */
  readBytesPerSecond?: number
  /** Anything; handed to onRequest as its fourth argument. */
  context?: unknown
  /** When refusing: reply this before closing (Postfix answers `DError: ... is not authorized ...`). */
  reply?: Verdict
}

/**
 * What onRequest may return instead of a plain Verdict: wait `delayMs`, then close without a
 * reply (`close: 'before-reply'`), write `raw` bytes instead of a reply netstring, or reply `verdict`.
 */
export interface ReplyPlan {
  verdict?: Verdict
  delayMs?: number
  close?: 'before-reply'
  raw?: Buffer
}

/** Reply texts, each starting with its code letter. A timeout text of null closes without a reply. */
export interface ServerTexts {
  /** Message length over maxMessageBytes (qmail mode; Postfix mode uses Postfix's text). */
  messageTooBig: string
  tooManyRecipients: string
  /** qmail-qmqpd's answer to an address of 1000+ bytes or with a NUL. */
  badAddress: string
  /** onRequest threw or the spool failed. Always a Z. */
  temporaryFailure: string
  idleTimeout: string | null
  totalTimeout: string | null
}

/** The server's limits; `null` means none. Every default is in DEFAULT_LIMITS / resolveLimits. */
export interface ServerLimits {
  /** Refused while the message length is read, before the body arrives. qmail has none (null); Postfix mode defaults to 10,240,000. */
  maxMessageBytes: number | null
  maxRecipients: number | null
  /** Longest address: 999 in qmail mode (1000+ is refused), 2048 in Postfix mode. */
  maxAddressBytes: number
  /** qmail's guard on the outer length: 200,000,000. A longer one drops the connection. */
  maxOuterBytes: number
  /** Longest silence from the client while the request is read. null = none (qmail). */
  idleTimeoutMs: number | null
  /** Longest connection (qmail: one hour). null = none. */
  totalTimeoutMs: number | null
  spoolThresholdBytes: number
  spoolDir: string
  compat: Compat
  /** Wait before every non-K reply (Postfix's qmqpd_error_delay is 1 s). Default 0. */
  errorDelayMs: number
  /** After a reply, how long unread input is drained before the socket is destroyed. Default 2000. */
  lingerMs: number
  texts: ServerTexts
}

/** Limits as options take them: any subset, texts too. */
export type ServerLimitsInput = Partial<Omit<ServerLimits, 'texts'>> & { texts?: Partial<ServerTexts> }

export const DEFAULT_TEXTS: ServerTexts = {
  messageTooBig: 'Dsorry, that message size exceeds my databytes limit (#5.3.4)',
  tooManyRecipients: 'Dsorry, too many recipients (#5.5.3)',
  badAddress: "Dsorry, I can't accept addresses like that (#5.1.3)",
  temporaryFailure: 'Zqq temporary problem (#4.3.0)',
  idleTimeout: null,
  totalTimeout: null,
}

/** Fills in defaults: qmail-qmqpd's behaviour unless `compat: 'postfix'`. */
export function resolveLimits(input: ServerLimitsInput = {}): ServerLimits {
  const compat = input.compat ?? 'qmail'
  const postfix = compat === 'postfix'
  const limits: ServerLimits = {
    maxMessageBytes:
      input.maxMessageBytes !== undefined ? input.maxMessageBytes : postfix ? 10_240_000 : null,
    maxRecipients: input.maxRecipients ?? null,
    maxAddressBytes: input.maxAddressBytes ?? (postfix ? 2048 : 999),
    maxOuterBytes: input.maxOuterBytes ?? 200_000_000,
    idleTimeoutMs: input.idleTimeoutMs ?? (postfix ? 300_000 : null),
    totalTimeoutMs: input.totalTimeoutMs !== undefined ? input.totalTimeoutMs : 3_600_000,
    spoolThresholdBytes: input.spoolThresholdBytes ?? 1024 * 1024,
    spoolDir: input.spoolDir ?? tmpdir(),
    compat,
    errorDelayMs: input.errorDelayMs ?? 0,
    lingerMs: input.lingerMs ?? 2000,
    texts: { ...DEFAULT_TEXTS, ...input.texts },
  }
  for (const t of [
    limits.texts.messageTooBig,
    limits.texts.tooManyRecipients,
    limits.texts.badAddress,
    limits.texts.temporaryFailure,
  ])
    verdictFromText(t)
  if (limits.texts.temporaryFailure[0] !== 'Z') throw new TypeError('texts.temporaryFailure must be a Z text')
  return limits
}

/** How a connection ended. */
export type ConnectionOutcome = 'reply' | 'drop' | 'refused' | 'client-abort' | 'timeout'

/** What the server reports; `id` is the connection id. */
export type ServerEvent =
  | { type: 'connection-open'; id: string; facts: ConnectionFacts }
  | { type: 'connection-refused'; id: string; facts: ConnectionFacts; replied: boolean }
  | {
      type: 'request-parsed'
      id: string
      facts: ConnectionFacts
      transcript: RequestTranscript
      messageBytes: number
      recipients: number
      spooled: boolean
    }
  | {
      type: 'protocol-error'
      id: string
      facts: ConnectionFacts
      reason: string
      stage: RequestStage
      message: string
      action: 'drop' | 'reply'
      bytesRead: number
    }
  | { type: 'timeout'; id: string; facts: ConnectionFacts; kind: 'idle' | 'total'; action: 'drop' | 'reply' }
  | { type: 'request-error'; id: string; facts: ConnectionFacts; error: unknown }
  | {
      type: 'reply-sent'
      id: string
      facts: ConnectionFacts
      verdict: Verdict | null
      bytes: number
      bytesRead: number
      ms: number
    }
  | {
      type: 'connection-close'
      id: string
      facts: ConnectionFacts
      outcome: ConnectionOutcome
      bytesRead: number
      ms: number
    }

export interface QmqpServerOptions {
  limits?: ServerLimitsInput
  /** Access decision before any byte is read. Default: allow. A throw refuses the connection. */
  onConnection?(facts: ConnectionFacts): ConnectionDecision | Promise<ConnectionDecision>
  /**
   * Called once per well-formed request, after its final comma. The handler owns `req.message`
   * and must `dispose()` it when done with it (if it throws, the server disposes it). A throw
   * becomes a Z reply (`texts.temporaryFailure`), never a K.
   */
  onRequest(
    req: QmqpRequest,
    facts: ConnectionFacts,
    transcript: RequestTranscript,
    context: unknown,
  ): Promise<Verdict | ReplyPlan>
  onEvent?(event: ServerEvent): void
}

export interface QmqpServer {
  readonly limits: ServerLimits
  /** The underlying listener (created on first listen). */
  readonly netServer: net.Server
  /** Open connections now. */
  readonly connections: number
  listen(port: number, host?: string): Promise<AddressInfo>
  /** Serves one accepted socket (from any listener). */
  handleSocket(socket: Socket): Promise<void>
  /** Serves one connection over separate streams (`--stdio`, under tcpserver). */
  handleStreams(input: Readable, output: Writable, facts: ConnectionFacts): Promise<void>
  /** Stops accepting, waits up to `graceMs` (default 0) for open connections, then destroys them. */
  close(graceMs?: number): Promise<void>
}

let nextId = 0
const idPrefix = Date.now().toString(36)

const ALLOW: ConnectionDecision = { allow: true }

/** The facts of a socket, looked up now. */
function socketFacts(socket: Socket): ConnectionFacts {
  return {
    id: connectionId(),
    remoteAddress: socket.remoteAddress ?? '',
    remotePort: socket.remotePort ?? 0,
    localAddress: socket.localAddress ?? '',
    localPort: socket.localPort ?? 0,
    family: socket.remoteFamily === 'IPv6' ? 'IPv6' : 'IPv4',
  }
}

/** The facts of a socket, looked up on first use; own getters, so spreading the object works. */
function lazySocketFacts(socket: Socket): ConnectionFacts {
  let known: ConnectionFacts | undefined
  const get = () => (known ??= socketFacts(socket))
  return {
    id: connectionId(),
    get remoteAddress() {
      return get().remoteAddress
    },
    get remotePort() {
      return get().remotePort
    },
    get localAddress() {
      return get().localAddress
    },
    get localPort() {
      return get().localPort
    },
    get family() {
      return get().family
    },
  }
}

/** A fresh connection id: unique within this process. */
export function connectionId(): string {
  return `${idPrefix}.${(nextId++).toString(36)}`
}

const POSTFIX_STAGE: Record<RequestStage, string> = {
  header: 'QMQP packet header',
  message: 'message content',
  sender: 'sender address',
  recipient: 'recipient address',
  trailer: 'QMQP packet header',
  reply: 'QMQP packet header',
}

const delay = (ms: number) => new Promise<void>(resolve => setTimeout(resolve, ms).unref?.())

/** Builds a QMQP server core: access hook, streaming request parser with limits, reply, close. */
export function createQmqpServer(options: QmqpServerOptions): QmqpServer {
  const limits = resolveLimits(options.limits)
  const open = new Set<Connection>()
  let netServer: net.Server | undefined
  const getNetServer = () =>
    (netServer ??= net.createServer({ allowHalfOpen: true }, socket => {
      void api.handleSocket(socket)
    }))

  const api: QmqpServer = {
    limits,
    get netServer() {
      return getNetServer()
    },
    get connections() {
      return open.size
    },
    async listen(port, host) {
      const s = getNetServer()
      await new Promise<void>((resolve, reject) => {
        s.once('error', reject)
        s.listen(port, host, () => {
          s.off('error', reject)
          resolve()
        })
      })
      return s.address() as AddressInfo
    },
    handleSocket(socket) {
      // The client may half-close after its request; the reply must still go out.
      socket.allowHalfOpen = true
      // Hooks read the addresses at once; without hooks they are looked up only if asked for
      // (each is a system call and a string), and kept once looked up.
      const facts = options.onConnection || options.onEvent ? socketFacts(socket) : lazySocketFacts(socket)
      return run(new Connection(socket, socket, facts, true))
    },
    handleStreams(input, output, facts) {
      return run(new Connection(input, output, facts, false))
    },
    async close(graceMs = 0) {
      const s = netServer
      const closed = s?.listening ? new Promise<void>(resolve => s.close(() => resolve())) : Promise.resolve()
      if (open.size > 0 && graceMs > 0) {
        const all = Promise.all([...open].map(c => c.finished))
        await Promise.race([all, delay(graceMs)])
      }
      for (const c of open) c.destroy()
      await Promise.all([...open].map(c => c.finished))
      await closed
    },
  }

  async function run(conn: Connection): Promise<void> {
    open.add(conn)
    try {
      await conn.serve(limits, options)
    } finally {
      open.delete(conn)
    }
  }

  return api
}

/** One connection: reads one request, replies or drops, closes. */
class Connection {
  readonly startedAt = Date.now()
  readonly finished: Promise<void>
  #resolveFinished!: () => void
  #ended = false
  #bytesRead = 0
  #outcome: ConnectionOutcome = 'drop'
  #onDestroy: (() => void) | undefined

  constructor(
    readonly input: Readable,
    readonly output: Writable,
    readonly facts: ConnectionFacts,
    readonly isSocket: boolean,
  ) {
    this.finished = new Promise(resolve => (this.#resolveFinished = resolve))
    output.on('error', () => undefined)
    input.on('error', () => undefined)
  }

  /** Ends the connection at once, without a reply. */
  destroy(): void {
    this.#onDestroy?.()
    this.#close()
  }

  #close(): void {
    if (this.isSocket) (this.input as Socket).destroy()
    else {
      this.input.destroy()
      if (!this.output.writableEnded) this.output.end()
    }
  }

  async serve(limits: ServerLimits, options: QmqpServerOptions): Promise<void> {
    const onEvent = options.onEvent
    const emit = onEvent
      ? (e: ServerEvent) => {
          try {
            onEvent(e)
          } catch {
            // an event listener's failure must not break the connection
          }
        }
      : () => undefined
    const { id } = this.facts
    const facts = this.facts
    emit({ type: 'connection-open', id, facts })
    try {
      await this.#serve(limits, options, emit)
    } finally {
      emit({
        type: 'connection-close',
        id,
        facts,
        outcome: this.#outcome,
        bytesRead: this.#bytesRead,
        ms: Date.now() - this.startedAt,
      })
      this.#resolveFinished()
    }
  }

  async #serve(
    limits: ServerLimits,
    options: QmqpServerOptions,
    emit: (e: ServerEvent) => void,
  ): Promise<void> {
    const { id } = this.facts
    const facts = this.facts
    let destroyed = false
    const destroyedP = new Promise<'destroyed'>(resolve => {
      this.#onDestroy = () => {
        destroyed = true
        resolve('destroyed')
      }
    })

    // 1. Access decision, before any byte is read.
    let decision: ConnectionDecision = ALLOW
    if (options.onConnection)
      try {
        decision = (await Promise.race([options.onConnection(facts), destroyedP])) as ConnectionDecision
        if (destroyed) return
      } catch {
        decision = { allow: false }
      }
    if (!decision.allow) {
      this.#outcome = 'refused'
      let reply = decision.reply
      if (!reply && limits.compat === 'postfix')
        reply = {
          code: 'D',
          text: `Error: unknown[${facts.remoteAddress}] is not authorized to use this service`,
        }
      emit({ type: 'connection-refused', id, facts, replied: reply !== undefined })
      if (reply) await this.#reply(reply, limits, emit)
      else this.#close()
      return
    }

    // 2. Read one request (unless the client left while the access hook was deciding).
    if (this.input.destroyed || this.input.readableEnded) {
      this.#outcome = 'client-abort'
      return this.#close()
    }
    const transcript: RequestTranscript = {
      outerLength: 0,
      messageLength: 0,
      senderLength: 0,
      recipientLengths: [],
      startedAt: this.startedAt,
    }
    const spool = new BodySpool({
      spoolThresholdBytes: limits.spoolThresholdBytes,
      spoolDir: limits.spoolDir,
    })
    const decoder = new RequestDecoder({
      compat: limits.compat,
      maxOuterBytes: limits.maxOuterBytes,
      maxMessageBytes: limits.maxMessageBytes,
      maxAddressBytes: limits.maxAddressBytes,
      maxRecipients: limits.maxRecipients,
      onMessageLength: n => (transcript.messageLength = n),
      onMessageData: c => {
        if (!spool.write(c)) needDrain = true
      },
      onMessageEnd: () => (transcript.bodyDoneAt = Date.now()),
    })
    let needDrain = false
    type ReadResult =
      | { kind: 'done' }
      | { kind: 'error'; err: unknown }
      | { kind: 'timeout'; which: 'idle' | 'total' }
      | { kind: 'abort' }
    let settle!: (r: ReadResult) => void
    const read = new Promise<ReadResult>(resolve => (settle = resolve))
    let settled = false
    const finish = (r: ReadResult) => {
      if (settled) return
      settled = true
      input.off('data', onData)
      input.off('end', onEnd)
      input.off('close', onAbort)
      input.off('error', onAbort)
      input.pause()
      if (idleTimer) clearTimeout(idleTimer)
      settle(r)
    }
    const input = this.input
    let idleTimer: NodeJS.Timeout | undefined
    const armIdle = () => {
      if (limits.idleTimeoutMs === null) return
      if (idleTimer) clearTimeout(idleTimer)
      idleTimer = setTimeout(() => finish({ kind: 'timeout', which: 'idle' }), limits.idleTimeoutMs)
    }
    let totalTimer: NodeJS.Timeout | undefined
    let totalFired!: (r: 'total') => void
    const totalP = new Promise<'total'>(resolve => (totalFired = resolve))
    if (limits.totalTimeoutMs !== null)
      totalTimer = setTimeout(() => {
        totalFired('total')
        finish({ kind: 'timeout', which: 'total' })
      }, limits.totalTimeoutMs)
    const rate = decision.readBytesPerSecond
    /** Feeds one chunk to the decoder; returns a promise when reading must wait for the spool. */
    const consume = (chunk: Buffer): Promise<void> | undefined => {
      transcript.firstByteAt ??= Date.now()
      let used: number
      try {
        used = decoder.push(chunk)
      } catch (err) {
        this.#bytesRead = decoder.bytesRead
        finish({ kind: 'error', err })
        return undefined
      }
      this.#bytesRead += used
      if (decoder.done) {
        transcript.requestDoneAt = Date.now()
        finish({ kind: 'done' })
        return undefined
      }
      if (!needDrain) return undefined
      needDrain = false
      return spool.onDrain()
    }
    /** Set while a chunk waits to be used or the spool drains; the end of input waits for it. */
    let pending: Promise<unknown> | undefined
    const waitThenResume = (wait: Promise<unknown>) => {
      input.pause()
      if (idleTimer) clearTimeout(idleTimer)
      const p = (pending = wait.then(
        () => {
          if (pending === p) pending = undefined
          if (settled) return
          armIdle()
          input.resume()
        },
        err => finish({ kind: 'error', err }),
      ))
    }
    const onData = (chunk: Buffer) => {
      if (rate && rate > 0) {
        // A throttled connection: each chunk waits its share of time before it is used.
        return waitThenResume(
          delay((chunk.length / rate) * 1000).then(() => {
            if (!settled) return consume(chunk)
          }),
        )
      }
      const wait = consume(chunk)
      if (settled) return
      if (wait) waitThenResume(wait)
      else armIdle()
    }
    const endOfInput = () => {
      if (settled) return
      if (pending) return void pending.then(endOfInput)
      try {
        decoder.end()
        finish({ kind: 'done' })
      } catch (err) {
        finish({ kind: 'error', err })
      }
    }
    const onEnd = () => endOfInput()
    const onAbort = () => finish({ kind: 'abort' })
    this.#onDestroy = () => {
      destroyed = true
      finish({ kind: 'abort' })
    }
    input.on('data', onData)
    input.on('end', onEnd)
    input.on('close', onAbort)
    input.on('error', onAbort)
    armIdle()
    input.resume()

    try {
      const r = await read
      Object.assign(transcript, {
        outerLength: decoder.envelope.outerLength,
        messageLength: decoder.envelope.messageLength,
        senderLength: decoder.envelope.senderLength,
        recipientLengths: decoder.envelope.recipientLengths,
      })
      if (r.kind !== 'done') {
        await spool.abort()
        if (destroyed) return
        if (r.kind === 'abort') {
          this.#outcome = 'client-abort'
          return this.#close()
        }
        if (r.kind === 'timeout') return this.#timeout(r.which, limits, emit)
        return this.#protocolError(r.err, decoder.stage, limits, emit)
      }

      // 3. The whole request is here.
      let body: MessageBody
      try {
        body = await spool.finish()
      } catch (err) {
        await spool.abort()
        emit({ type: 'request-error', id, facts, error: err })
        return this.#reply(verdictFromText('Zqq write error or disk full (#4.3.0)'), limits, emit)
      }
      const env = decoder.envelope
      emit({
        type: 'request-parsed',
        id,
        facts,
        transcript,
        messageBytes: body.size,
        recipients: env.recipientCount,
        spooled: spool.path !== undefined,
      })
      let refusal: string | undefined
      if (env.badAddress) refusal = limits.texts.badAddress
      else if (env.tooManyRecipients) refusal = limits.texts.tooManyRecipients
      else if (limits.compat === 'postfix' && env.recipients.length === 0)
        refusal = 'DError: no recipients specified'
      if (refusal !== undefined) {
        await body.dispose()
        return this.#reply(verdictFromText(refusal), limits, emit)
      }

      // 4. Hand it on; an exception is a temporary failure, never a K.
      const req: QmqpRequest = { message: body, sender: env.sender, recipients: env.recipients }
      let plan: Verdict | ReplyPlan | 'total' | 'destroyed'
      try {
        plan = await Promise.race([
          options.onRequest(req, facts, transcript, decision.context),
          totalP,
          destroyedP,
        ])
      } catch (err) {
        await body.dispose()
        emit({ type: 'request-error', id, facts, error: err })
        plan = verdictFromText(limits.texts.temporaryFailure)
      }
      if (plan === 'destroyed') return
      if (plan === 'total') return this.#timeout('total', limits, emit)
      return await this.#applyPlan(plan, limits, emit, totalP)
    } finally {
      if (totalTimer) clearTimeout(totalTimer)
    }
  }

  async #applyPlan(
    plan: Verdict | ReplyPlan,
    limits: ServerLimits,
    emit: (e: ServerEvent) => void,
    totalP: Promise<'total'>,
  ): Promise<void> {
    if (isVerdict(plan)) return this.#reply(plan, limits, emit)
    if (plan.delayMs && plan.delayMs > 0) {
      let timer: NodeJS.Timeout | undefined
      const waited = await Promise.race([
        new Promise<'ok'>(r => (timer = setTimeout(() => r('ok'), plan.delayMs))),
        totalP,
        this.finished.then(() => 'gone' as const),
      ])
      clearTimeout(timer)
      if (waited === 'total') return this.#timeout('total', limits, emit)
      if (waited === 'gone') return
    }
    if (plan.close === 'before-reply') {
      this.#outcome = 'drop'
      return this.#close()
    }
    if (plan.raw) return this.#send(plan.raw, null, limits, emit)
    if (plan.verdict && isVerdict(plan.verdict)) return this.#reply(plan.verdict, limits, emit)
    return this.#reply(verdictFromText(limits.texts.temporaryFailure), limits, emit)
  }

  async #timeout(
    which: 'idle' | 'total',
    limits: ServerLimits,
    emit: (e: ServerEvent) => void,
  ): Promise<void> {
    const text = which === 'idle' ? limits.texts.idleTimeout : limits.texts.totalTimeout
    emit({
      type: 'timeout',
      id: this.facts.id,
      facts: this.facts,
      kind: which,
      action: text === null ? 'drop' : 'reply',
    })
    if (text === null) {
      this.#outcome = 'timeout'
      return this.#close()
    }
    await this.#reply(verdictFromText(text), limits, emit)
    this.#outcome = 'timeout'
  }

  async #protocolError(
    err: unknown,
    stage: RequestStage,
    limits: ServerLimits,
    emit: (e: ServerEvent) => void,
  ): Promise<void> {
    const postfix = limits.compat === 'postfix'
    let reply: string | undefined
    let reason: string
    if (err instanceof QmqpLimitError) {
      reason = `${err.limit}-limit`
      stage = err.stage
      if (err.limit === 'message-bytes' || err.limit === 'address-bytes')
        reply = postfix
          ? `Dnetstring length exceeds storage limit while receiving ${POSTFIX_STAGE[stage]}`
          : limits.texts.messageTooBig
      // outer-bytes: qmail's resource guard ends the process without a reply.
    } else if (err instanceof QmqpProtocolError) {
      reason = err.reason
      stage = err.stage
      if (postfix && err.reason !== 'truncated')
        reply = `Dnetstring format error while receiving ${POSTFIX_STAGE[stage]}`
      if (err.reason === 'truncated') this.#outcome = 'client-abort'
    } else {
      reason = err instanceof QmqpSpoolError ? 'spool' : 'internal'
      reply =
        err instanceof QmqpSpoolError
          ? 'Zqq write error or disk full (#4.3.0)'
          : limits.texts.temporaryFailure
    }
    emit({
      type: 'protocol-error',
      id: this.facts.id,
      facts: this.facts,
      reason,
      stage,
      message: err instanceof Error ? err.message : String(err),
      action: reply ? 'reply' : 'drop',
      bytesRead: this.#bytesRead,
    })
    if (reply) return this.#reply(verdictFromText(reply), limits, emit)
    this.#close()
  }

  async #reply(verdict: Verdict, limits: ServerLimits, emit: (e: ServerEvent) => void): Promise<void> {
    if (verdict.code !== 'K' && limits.errorDelayMs > 0) await delay(limits.errorDelayMs)
    return this.#send(encodeReply(verdict), verdict, limits, emit)
  }

  async #send(
    bytes: Buffer,
    verdict: Verdict | null,
    limits: ServerLimits,
    emit: (e: ServerEvent) => void,
  ): Promise<void> {
    if (this.#ended) return
    this.#ended = true
    const out = this.output
    if (out.destroyed || out.writableEnded) return this.#close()
    if (this.#outcome !== 'refused') this.#outcome = 'reply'
    await new Promise<void>(resolve => {
      out.once('error', () => resolve())
      out.once('close', () => resolve())
      out.end(bytes, () => resolve())
    })
    emit({
      type: 'reply-sent',
      id: this.facts.id,
      facts: this.facts,
      verdict,
      bytes: bytes.length,
      bytesRead: this.#bytesRead,
      ms: Date.now() - this.startedAt,
    })
    if (!this.isSocket) return this.#close()
    // Drain what the client still sends, so closing does not reset the connection under the reply.
    const socket = this.input as Socket
    if (socket.destroyed) return
    await new Promise<void>(resolve => {
      const timer = setTimeout(() => socket.destroy(), limits.lingerMs)
      socket.once('close', () => {
        clearTimeout(timer)
        resolve()
      })
      socket.on('data', () => undefined)
      socket.once('end', () => socket.destroy())
      socket.resume()
    })
  }
}

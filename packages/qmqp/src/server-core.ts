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
  /**
   * The event types onEvent is given (default: all). Events nobody asked for are not built:
   * a server that only logs the end of each connection need not pay for the others.
   */
  eventTypes?: ReadonlyArray<ServerEvent['type']>
}

const EVENT_TYPES: ReadonlyArray<ServerEvent['type']> = [
  'connection-open',
  'connection-refused',
  'request-parsed',
  'protocol-error',
  'timeout',
  'request-error',
  'reply-sent',
  'connection-close',
]

export interface QmqpServer {
  readonly limits: ServerLimits
  /** The underlying listener (created on first listen). */
  readonly netServer: net.Server
  /** Open connections now. */
  readonly connections: number
  listen(port: number, host?: string): Promise<AddressInfo>
  /**
   * Serves a socket accepted elsewhere; resolves once that connection is over. `local`, when the
   * caller knows it (a listener bound to one address), is the socket's local end, which then
   * need not be asked of the kernel.
   */
  handleSocket(socket: Socket, local?: { address: string; port: number }): Promise<void>
  /** As handleSocket, for a caller that does not wait for the connection's end (no promise is made). */
  acceptSocket(socket: Socket, local?: { address: string; port: number }): void
  /** Serves one connection over separate streams (`--stdio`, under tcpserver). */
  handleStreams(input: Readable, output: Writable, facts: ConnectionFacts): Promise<void>
  /** Stops accepting, waits up to `graceMs` (default 0) for open connections, then destroys them. */
  close(graceMs?: number): Promise<void>
}

let nextId = 0
const idPrefix = Date.now().toString(36)

const ALLOW: ConnectionDecision = { allow: true }

/** The facts of a socket, looked up now. */
function socketFacts(socket: Socket, local?: { address: string; port: number }): ConnectionFacts {
  return {
    id: connectionId(),
    remoteAddress: socket.remoteAddress ?? '',
    remotePort: socket.remotePort ?? 0,
    localAddress: local ? local.address : (socket.localAddress ?? ''),
    localPort: local ? local.port : (socket.localPort ?? 0),
    family: socket.remoteFamily === 'IPv6' ? 'IPv6' : 'IPv4',
  }
}

/** The facts of a socket, looked up on first use; own getters, so spreading the object works. */
function lazySocketFacts(socket: Socket, local?: { address: string; port: number }): ConnectionFacts {
  let known: ConnectionFacts | undefined
  const get = () => (known ??= socketFacts(socket, local))
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

/**
 * Deadlines that all share one duration, kept in arming order: the head is always the earliest,
 * so one timer serves every connection of a server. A connection's slot is re-armed in place
 * (moved to the tail), so a timeout costs no Timeout object and no closure per connection.
 */
class DeadlineList {
  #head: DeadlineSlot | null = null
  #tail: DeadlineSlot | null = null
  #timer: NodeJS.Timeout | undefined

  constructor(readonly ms: number) {}

  arm(slot: DeadlineSlot): void {
    if (slot.list) this.#unlink(slot)
    slot.at = performance.now() + this.ms
    slot.list = this
    slot.prev = this.#tail
    slot.next = null
    if (this.#tail) this.#tail.next = slot
    else this.#head = slot
    this.#tail = slot
    if (!this.#timer) this.#timer = setTimeout(this.#fire, this.ms)
  }

  disarm(slot: DeadlineSlot): void {
    if (slot.list !== this) return
    this.#unlink(slot)
    // Nothing left to wait for: the timer must not hold the process open.
    if (!this.#head && this.#timer) {
      clearTimeout(this.#timer)
      this.#timer = undefined
    }
  }

  #unlink(slot: DeadlineSlot): void {
    if (slot.prev) slot.prev.next = slot.next
    else this.#head = slot.next
    if (slot.next) slot.next.prev = slot.prev
    else this.#tail = slot.prev
    slot.prev = slot.next = null
    slot.list = null
  }

  readonly #fire = (): void => {
    this.#timer = undefined
    const now = performance.now()
    let slot: DeadlineSlot | null
    while ((slot = this.#head) && slot.at <= now) {
      this.#unlink(slot)
      slot.conn.onDeadline(slot.kind)
    }
    // The earliest slot left was armed later (or re-armed): wait for it.
    if (this.#head && !this.#timer)
      this.#timer = setTimeout(this.#fire, Math.max(1, Math.ceil(this.#head.at - now)))
  }
}

type DeadlineKind = 'idle' | 'total' | 'linger'

/** A connection's place in one DeadlineList. */
class DeadlineSlot {
  at = 0
  prev: DeadlineSlot | null = null
  next: DeadlineSlot | null = null
  list: DeadlineList | null = null
  constructor(
    readonly conn: Connection,
    readonly kind: DeadlineKind,
  ) {}
}

/** What every connection of one server shares. */
interface ServerShared {
  limits: ServerLimits
  options: QmqpServerOptions
  open: Set<Connection>
  idle: DeadlineList | null
  total: DeadlineList | null
  linger: DeadlineList
  /** Per event type: is it given to onEvent? */
  emits: Record<ServerEvent['type'], boolean>
}

/** Builds a QMQP server core: access hook, streaming request parser with limits, reply, close. */
export function createQmqpServer(options: QmqpServerOptions): QmqpServer {
  const limits = resolveLimits(options.limits)
  const open = new Set<Connection>()
  const shared: ServerShared = {
    limits,
    options,
    open,
    idle: limits.idleTimeoutMs === null ? null : new DeadlineList(limits.idleTimeoutMs),
    total: limits.totalTimeoutMs === null ? null : new DeadlineList(limits.totalTimeoutMs),
    linger: new DeadlineList(limits.lingerMs),
    emits: Object.fromEntries(
      EVENT_TYPES.map(type => [
        type,
        options.onEvent !== undefined && (options.eventTypes?.includes(type) ?? true),
      ]),
    ) as Record<ServerEvent['type'], boolean>,
  }
  let netServer: net.Server | undefined
  const serveSocket = (socket: Socket, local?: { address: string; port: number }): Connection => {
    // The client may half-close after its request; the reply must still go out.
    socket.allowHalfOpen = true
    // Hooks read the addresses at once; without hooks they are looked up only if asked for
    // (each is a system call and a string), and kept once looked up.
    const facts =
      options.onConnection || options.onEvent ? socketFacts(socket, local) : lazySocketFacts(socket, local)
    const conn = new Connection(socket, socket, facts, true, shared)
    conn.start()
    return conn
  }
  const getNetServer = () =>
    (netServer ??= net.createServer({ allowHalfOpen: true }, socket => void serveSocket(socket)))

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
    handleSocket(socket, local) {
      return serveSocket(socket, local).finished
    },
    acceptSocket(socket, local) {
      serveSocket(socket, local)
    },
    handleStreams(input, output, facts) {
      const conn = new Connection(input, output, facts, false, shared)
      conn.start()
      return conn.finished
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
  return api
}

const ignore = (): void => undefined

type ReadResult =
  | { kind: 'done' }
  | { kind: 'error'; err: unknown }
  | { kind: 'timeout'; which: 'idle' | 'total' }
  | { kind: 'abort' }

const READ_DONE: ReadResult = { kind: 'done' }
const READ_ABORT: ReadResult = { kind: 'abort' }

/**
 * Where a connection is. Each phase decides what a deadline or destroy() does: 'decide' and
 * 'read' end at once, 'handler' and 'delay' see the total timeout, later phases only close.
 */
type Phase = 'decide' | 'read' | 'parsed' | 'handler' | 'delay' | 'reply' | 'done'

/**
 * One connection: reads one request, replies or drops, closes. Driven by callbacks rather than
 * awaits, so a connection costs few promises; every path ends in #done() exactly once.
 */
class Connection {
  readonly startedAt = Date.now()
  #finished: Promise<void> | undefined
  #resolveFinished: (() => void) | undefined
  #phase: Phase = 'decide'
  #destroyed = false
  #bytesRead = 0
  #outcome: ConnectionOutcome = 'drop'
  /** Set by a timeout that replied: the connection still ends as a timeout. */
  #finalOutcome: ConnectionOutcome | undefined
  #shared: ServerShared
  #decision: ConnectionDecision = ALLOW
  // The request being read.
  #transcript: RequestTranscript | undefined
  #spool: BodySpool | undefined
  #decoder: RequestDecoder | undefined
  #needDrain = false
  #listening = false
  #settled = false
  /** Set while a chunk waits to be used or the spool drains; the end of input waits for it. */
  #pending: Promise<unknown> | undefined
  #idleSlot: DeadlineSlot | undefined
  #totalSlot: DeadlineSlot | undefined
  #lingerSlot: DeadlineSlot | undefined
  /** Wakes a plan's delay early when the total timeout strikes. */
  #wakeDelay: ((r: 'total') => void) | undefined

  constructor(
    readonly input: Readable,
    readonly output: Writable,
    readonly facts: ConnectionFacts,
    readonly isSocket: boolean,
    shared: ServerShared,
  ) {
    this.#shared = shared
    output.on('error', ignore)
    if ((input as unknown) !== output) input.on('error', ignore)
  }

  /** Gives `e` to onEvent (the caller checked that its type is wanted). */
  #emit(e: ServerEvent): void {
    try {
      this.#shared.options.onEvent!(e)
    } catch {
      // an event listener's failure must not break the connection
    }
  }

  /** Resolves once the connection is over (reply sent and socket closed, or dropped). */
  get finished(): Promise<void> {
    return (this.#finished ??=
      this.#phase === 'done' ? Promise.resolve() : new Promise(resolve => (this.#resolveFinished = resolve)))
  }

  /** Ends the connection at once, without a reply. */
  destroy(): void {
    this.#destroyed = true
    if (this.#phase === 'decide') this.#done()
    else if (this.#phase === 'read') this.#finishRead(READ_ABORT)
    this.#close()
  }

  #close(): void {
    if (this.isSocket) (this.input as Socket).destroy()
    else {
      this.input.destroy()
      if (!this.output.writableEnded) this.output.end()
    }
  }

  /** The end of every path: one connection-close event, `finished` settles. */
  #done(): void {
    if (this.#phase === 'done') return
    this.#phase = 'done'
    const shared = this.#shared
    if (this.#idleSlot) shared.idle?.disarm(this.#idleSlot)
    if (this.#totalSlot) shared.total?.disarm(this.#totalSlot)
    if (this.#lingerSlot) shared.linger.disarm(this.#lingerSlot)
    if (this.#shared.emits['connection-close'])
      this.#emit({
        type: 'connection-close',
        id: this.facts.id,
        facts: this.facts,
        outcome: this.#finalOutcome ?? this.#outcome,
        bytesRead: this.#bytesRead,
        ms: Date.now() - this.startedAt,
      })
    shared.open.delete(this)
    this.#resolveFinished?.()
  }

  /** Called by the shared deadline lists. */
  onDeadline(kind: DeadlineKind): void {
    if (kind === 'linger') {
      ;(this.input as Socket).destroy()
      return
    }
    const phase = this.#phase
    if (phase === 'read') this.#finishRead({ kind: 'timeout', which: kind })
    else if (kind === 'total') {
      if (phase === 'handler') this.#timeout('total')
      else if (phase === 'delay') this.#wakeDelay?.('total')
    }
  }

  start(): void {
    this.#shared.open.add(this)
    const facts = this.facts
    if (this.#shared.emits['connection-open']) this.#emit({ type: 'connection-open', id: facts.id, facts })
    // 1. Access decision, before any byte is read.
    const onConnection = this.#shared.options.onConnection
    if (!onConnection) return this.#decided(ALLOW)
    let answer: ConnectionDecision | Promise<ConnectionDecision>
    try {
      answer = onConnection(facts)
    } catch {
      return this.#decided({ allow: false })
    }
    // A decision made at once is taken at once; a promised one may see the client leave
    // meanwhile, and is not waited for then (destroy() ends the 'decide' phase).
    if (answer && typeof (answer as Partial<Promise<ConnectionDecision>>).then !== 'function')
      return this.#decided(answer as ConnectionDecision)
    Promise.resolve(answer).then(
      d => this.#decided(d),
      () => this.#decided({ allow: false }),
    )
  }

  #decided(decision: ConnectionDecision): void {
    if (this.#phase !== 'decide') return
    const limits = this.#shared.limits
    const facts = this.facts
    if (!decision.allow) {
      this.#phase = 'parsed'
      this.#outcome = 'refused'
      let reply = decision.reply
      if (!reply && limits.compat === 'postfix')
        reply = {
          code: 'D',
          text: `Error: unknown[${facts.remoteAddress}] is not authorized to use this service`,
        }
      if (this.#shared.emits['connection-refused'])
        this.#emit({ type: 'connection-refused', id: facts.id, facts, replied: reply !== undefined })
      if (reply) return this.#reply(reply)
      this.#close()
      return this.#done()
    }
    this.#decision = decision

    // 2. Read one request (unless the client left while the access hook was deciding).
    const input = this.input
    if (input.destroyed || input.readableEnded) {
      this.#outcome = 'client-abort'
      this.#close()
      return this.#done()
    }
    this.#phase = 'read'
    const transcript: RequestTranscript = (this.#transcript = {
      outerLength: 0,
      messageLength: 0,
      senderLength: 0,
      recipientLengths: [],
      startedAt: this.startedAt,
    })
    // The socket's chunks are not used after the decoder has seen them: the spool may free each
    // one as soon as it is in the file, so a large message does not pile up garbage.
    const spool = (this.#spool = new BodySpool({
      spoolThresholdBytes: limits.spoolThresholdBytes,
      spoolDir: limits.spoolDir,
      releaseWritten: true,
    }))
    this.#decoder = new RequestDecoder({
      compat: limits.compat,
      maxOuterBytes: limits.maxOuterBytes,
      maxMessageBytes: limits.maxMessageBytes,
      maxAddressBytes: limits.maxAddressBytes,
      maxRecipients: limits.maxRecipients,
      onMessageLength: n => (transcript.messageLength = n),
      onMessageData: c => {
        if (!spool.write(c)) this.#needDrain = true
      },
      onMessageEnd: () => (transcript.bodyDoneAt = Date.now()),
    })
    this.#listen()
    const total = this.#shared.total
    if (total) total.arm((this.#totalSlot = new DeadlineSlot(this, 'total')))
    this.#armIdle()
    input.resume()
  }

  #armIdle(): void {
    const idle = this.#shared.idle
    if (idle) idle.arm((this.#idleSlot ??= new DeadlineSlot(this, 'idle')))
  }

  #onData(chunk: Buffer): void {
    if (this.#settled || this.#phase !== 'read') return
    const rate = this.#decision.readBytesPerSecond
    if (rate && rate > 0) {
      // A throttled connection: each chunk waits its share of time before it is used.
      return this.#waitThenResume(
        delay((chunk.length / rate) * 1000).then(() => {
          if (!this.#settled) return this.#consume(chunk)
        }),
      )
    }
    const wait = this.#consume(chunk)
    if (this.#settled) return
    if (wait) this.#waitThenResume(wait)
    else this.#armIdle()
  }

  /** Feeds one chunk to the decoder; returns a promise when reading must wait for the spool. */
  #consume(chunk: Buffer): Promise<void> | undefined {
    const decoder = this.#decoder!
    this.#transcript!.firstByteAt ??= Date.now()
    let used: number
    try {
      used = decoder.push(chunk)
    } catch (err) {
      this.#bytesRead = decoder.bytesRead
      this.#finishRead({ kind: 'error', err })
      return undefined
    }
    this.#bytesRead += used
    if (decoder.done) {
      this.#transcript!.requestDoneAt = Date.now()
      this.#finishRead(READ_DONE)
      return undefined
    }
    if (!this.#needDrain) return undefined
    this.#needDrain = false
    return this.#spool!.onDrain()
  }

  #waitThenResume(wait: Promise<unknown>): void {
    this.input.pause()
    if (this.#idleSlot) this.#shared.idle?.disarm(this.#idleSlot)
    const p = (this.#pending = wait.then(
      () => {
        if (this.#pending === p) this.#pending = undefined
        if (this.#settled) return
        this.#armIdle()
        this.input.resume()
      },
      err => this.#finishRead({ kind: 'error', err }),
    ))
  }

  /**
   * Attaches the input listeners, once. They serve the whole connection: after the request they
   * ignore what the client still sends, and while lingering after the reply its end and close
   * finish the connection.
   */
  #listen(): void {
    if (this.#listening) return
    this.#listening = true
    const input = this.input
    input.on('data', (chunk: Buffer) => this.#onData(chunk))
    input.on('end', () => this.#onInputEnd())
    input.on('close', () => this.#onInputClose())
    input.on('error', () => this.#finishRead(READ_ABORT))
  }

  #onInputEnd(): void {
    // The client's end while lingering: the reply is out, close now.
    if (this.#lingerSlot) (this.input as Socket).destroy()
    else this.#endOfInput()
  }

  #onInputClose(): void {
    if (this.#lingerSlot) this.#done()
    else this.#finishRead(READ_ABORT)
  }

  #endOfInput(): void {
    if (this.#settled) return
    if (this.#pending) return void this.#pending.then(() => this.#endOfInput())
    try {
      this.#decoder!.end()
      this.#finishRead(READ_DONE)
    } catch (err) {
      this.#finishRead({ kind: 'error', err })
    }
  }

  #finishRead(r: ReadResult): void {
    if (this.#settled || this.#phase !== 'read') return
    this.#settled = true
    this.#phase = 'parsed'
    // A socket keeps flowing: what follows the request is read and ignored (as while lingering),
    // and the client's end is seen whenever it comes. Other input is not read further.
    if (!this.isSocket) this.input.pause()
    if (this.#idleSlot) this.#shared.idle?.disarm(this.#idleSlot)
    const env = this.#decoder!.envelope
    const transcript = this.#transcript!
    transcript.outerLength = env.outerLength
    transcript.messageLength = env.messageLength
    transcript.senderLength = env.senderLength
    transcript.recipientLengths = env.recipientLengths
    if (r.kind === 'done') return this.#requestRead()
    const spool = this.#spool!
    if (spool.path === undefined) {
      void spool.abort()
      return this.#readFailed(r)
    }
    void spool.abort().then(() => this.#readFailed(r))
  }

  #readFailed(r: Exclude<ReadResult, { kind: 'done' }>): void {
    if (this.#destroyed) return this.#done()
    if (r.kind === 'abort') {
      this.#outcome = 'client-abort'
      this.#close()
      return this.#done()
    }
    if (r.kind === 'timeout') return this.#timeout(r.which)
    this.#protocolError(r.err, this.#decoder!.stage)
  }

  /** 3. The whole request is here. */
  #requestRead(): void {
    const spool = this.#spool!
    const body = spool.finishInMemory()
    if (body) return this.#withBody(body)
    spool.finish().then(
      b => this.#withBody(b),
      async (err: unknown) => {
        await spool.abort()
        if (this.#shared.emits['request-error'])
          this.#emit({ type: 'request-error', id: this.facts.id, facts: this.facts, error: err })
        this.#reply(verdictFromText('Zqq write error or disk full (#4.3.0)'))
      },
    )
  }

  #withBody(body: MessageBody): void {
    const limits = this.#shared.limits
    const facts = this.facts
    const env = this.#decoder!.envelope
    if (this.#shared.emits['request-parsed'])
      this.#emit({
        type: 'request-parsed',
        id: facts.id,
        facts,
        transcript: this.#transcript!,
        messageBytes: body.size,
        recipients: env.recipientCount,
        spooled: this.#spool!.path !== undefined,
      })
    let refusal: string | undefined
    if (env.badAddress) refusal = limits.texts.badAddress
    else if (env.tooManyRecipients) refusal = limits.texts.tooManyRecipients
    else if (limits.compat === 'postfix' && env.recipients.length === 0)
      refusal = 'DError: no recipients specified'
    if (refusal !== undefined) {
      const verdict = verdictFromText(refusal)
      void body.dispose().then(() => this.#reply(verdict))
      return
    }

    // 4. Hand it on; an exception is a temporary failure, never a K.
    const req: QmqpRequest = { message: body, sender: env.sender, recipients: env.recipients }
    this.#phase = 'handler'
    let answer: Promise<Verdict | ReplyPlan>
    try {
      answer = this.#shared.options.onRequest(req, facts, this.#transcript!, this.#decision.context)
    } catch (err) {
      return this.#handlerFailed(body, err)
    }
    // A total timeout meanwhile answers for us (onDeadline); the handler's late answer is then ignored.
    Promise.resolve(answer).then(
      plan => {
        if (this.#phase === 'handler') this.#applyPlan(plan)
      },
      err => {
        if (this.#phase === 'handler') this.#handlerFailed(body, err)
      },
    )
  }

  #handlerFailed(body: MessageBody, err: unknown): void {
    this.#phase = 'parsed'
    void body.dispose().then(() => {
      if (this.#shared.emits['request-error'])
        this.#emit({ type: 'request-error', id: this.facts.id, facts: this.facts, error: err })
      this.#reply(verdictFromText(this.#shared.limits.texts.temporaryFailure))
    })
  }

  #applyPlan(plan: Verdict | ReplyPlan): void {
    this.#phase = 'parsed'
    if (isVerdict(plan)) return this.#reply(plan)
    if (plan.delayMs && plan.delayMs > 0) {
      this.#phase = 'delay'
      let timer: NodeJS.Timeout | undefined
      void new Promise<'ok' | 'total'>(resolve => {
        timer = setTimeout(() => resolve('ok'), plan.delayMs)
        this.#wakeDelay = resolve
      }).then(waited => {
        clearTimeout(timer)
        this.#wakeDelay = undefined
        this.#phase = 'parsed'
        if (waited === 'total') return this.#timeout('total')
        this.#carryOut(plan)
      })
      return
    }
    this.#carryOut(plan)
  }

  #carryOut(plan: ReplyPlan): void {
    if (plan.close === 'before-reply') {
      this.#outcome = 'drop'
      this.#close()
      return this.#done()
    }
    if (plan.raw) return this.#send(plan.raw, null)
    if (plan.verdict && isVerdict(plan.verdict)) return this.#reply(plan.verdict)
    this.#reply(verdictFromText(this.#shared.limits.texts.temporaryFailure))
  }

  #timeout(which: 'idle' | 'total'): void {
    this.#phase = 'parsed'
    const texts = this.#shared.limits.texts
    const text = which === 'idle' ? texts.idleTimeout : texts.totalTimeout
    if (this.#shared.emits['timeout'])
      this.#emit({
        type: 'timeout',
        id: this.facts.id,
        facts: this.facts,
        kind: which,
        action: text === null ? 'drop' : 'reply',
      })
    this.#finalOutcome = 'timeout'
    if (text === null) {
      this.#close()
      return this.#done()
    }
    this.#reply(verdictFromText(text))
  }

  #protocolError(err: unknown, stage: RequestStage): void {
    const limits = this.#shared.limits
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
    if (this.#shared.emits['protocol-error'])
      this.#emit({
        type: 'protocol-error',
        id: this.facts.id,
        facts: this.facts,
        reason,
        stage,
        message: err instanceof Error ? err.message : String(err),
        action: reply ? 'reply' : 'drop',
        bytesRead: this.#bytesRead,
      })
    if (reply) return this.#reply(verdictFromText(reply))
    this.#close()
    this.#done()
  }

  #reply(verdict: Verdict): void {
    const ms = this.#shared.limits.errorDelayMs
    if (verdict.code !== 'K' && ms > 0) void delay(ms).then(() => this.#send(encodeReply(verdict), verdict))
    else this.#send(encodeReply(verdict), verdict)
  }

  /** Writes the reply in one write with the end of output, then lingers for the client's close. */
  #send(bytes: Buffer, verdict: Verdict | null): void {
    this.#phase = 'reply'
    if (this.#totalSlot) this.#shared.total?.disarm(this.#totalSlot)
    const out = this.output
    if (out.destroyed || out.writableEnded) {
      this.#close()
      return this.#done()
    }
    if (this.#outcome !== 'refused') this.#outcome = 'reply'
    // end()'s callback runs once the bytes are flushed, or with an error if the stream fails or
    // is destroyed first.
    out.end(bytes, () => this.#sent(bytes, verdict))
  }

  #sent(bytes: Buffer, verdict: Verdict | null): void {
    if (this.#shared.emits['reply-sent'])
      this.#emit({
        type: 'reply-sent',
        id: this.facts.id,
        facts: this.facts,
        verdict,
        bytes: bytes.length,
        bytesRead: this.#bytesRead,
        ms: Date.now() - this.startedAt,
      })
    if (!this.isSocket) {
      this.#close()
      return this.#done()
    }
    // Drain what the client still sends, so closing does not reset the connection under the reply.
    const socket = this.input as Socket
    if (socket.destroyed) return this.#done()
    this.#shared.linger.arm((this.#lingerSlot = new DeadlineSlot(this, 'linger')))
    // The client ended already (while the request was handled): close; 'close' ends the connection.
    if (socket.readableEnded) return void socket.destroy()
    // A refused connection was never read; a throttled read may have left the socket paused.
    this.#listen()
    if (socket.isPaused()) socket.resume()
  }
}

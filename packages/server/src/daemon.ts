import net from 'node:net'
import { performance } from 'node:perf_hooks'
import type { Readable, Writable } from 'node:stream'
import {
  createQmqpServer,
  type ConnectionFacts,
  type QmqpRequest,
  type QmqpServer,
  type ReplyPlan,
  type RequestTranscript,
  type ServerEvent,
  type ServerLimitsInput,
  type Verdict,
} from '@qmqpkit/qmqp'
import type { AccessControl } from './access.js'
import type { DaemonHooks } from './api/inspection.js'
import type { Backend } from './backend.js'
import type { Config, GreenArrowOptions, LimitReply } from './config.js'
import { formatAddress } from './config.js'
import { addressText, applyRuleEnv, connectionEnv, STDIO_RECORDED } from './connection-env.js'
import { QmqpdBindError } from './errors.js'
import {
  applyGreenArrow,
  defaultGreenArrowConfig,
  type GreenArrowConfig,
  type GreenArrowPolicy,
} from './greenarrow/index.js'
import type { ConnectionInfo, InjectedMessage } from './injected-message.js'
import type { QmqpdLog } from './log.js'

/** What a Qmqpd is made of; the CLI builds these from the Config. */
export interface QmqpdParts {
  config: Config
  log: QmqpdLog
  access: AccessControl
  /** Delivered to in order; each must answer K for the message to be accepted. */
  backends: Backend[]
  /** Test-server hooks (inspection API, fault rules, metrics); none in plain service. */
  hooks?: DaemonHooks
}

/** One bound listener. */
export interface BoundAddress {
  host: string
  port: number
}

interface ConnState {
  info: ConnectionInfo | null
  remote: string
  local: string
  decision: string
  ruleKey: string | null
  verdict: Verdict | null
  reason?: string
}

const limitText = (r: LimitReply): string | null => (r === null ? null : `${r.code}${r.text}`)

/** The limits qmqpd hands the wire: only what was configured, so `--compat` defaults apply otherwise. */
export function serverLimits(config: Config): ServerLimitsInput {
  const limits: ServerLimitsInput = {
    compat: config.compat,
    totalTimeoutMs: config.totalTimeoutMs,
    texts: {
      idleTimeout: limitText(config.replies.idleTimeout),
      totalTimeout: limitText(config.replies.totalTimeout),
    },
  }
  limits.texts!.messageTooBig = limitText(config.replies.size)!
  limits.texts!.tooManyRecipients = limitText(config.replies.recipients)!
  if (config.maxMessageBytes !== null) limits.maxMessageBytes = config.maxMessageBytes
  if (config.maxRecipients !== null) limits.maxRecipients = config.maxRecipients
  if (config.idleTimeoutMs !== null) limits.idleTimeoutMs = config.idleTimeoutMs
  return limits
}

/** qmqpd's GreenArrow options in the form the greenarrow module takes. */
export function greenArrowConfig(o: GreenArrowOptions): GreenArrowConfig {
  const base = defaultGreenArrowConfig(o.me)
  const policy = (p: GreenArrowOptions['unknownMailclass']): GreenArrowPolicy =>
    p.action === 'accept' ? 'accept' : { reply: p.action, text: p.text }
  return {
    ...base,
    receivedFormat: o.receivedFormat,
    honourReceivedHide: o.hideReceivedHonour,
    processXVirtualMta: o.processXVirtualMta,
    defaultMailClass: o.mailclassDefault,
    knownMailClasses: o.mailClasses,
    knownVirtualMtas: o.virtualMtas,
    policies: {
      ...base.policies,
      unknownMailClass: policy(o.unknownMailclass),
      unknownVirtualMta: policy(o.unknownVirtualMta),
    },
  }
}

/**
 * The QMQP daemon: access control and environment as tcpserver, GreenArrow processing, then
 * the backends; K only after every backend said K. One log line per connection and per message.
 */
export class Qmqpd {
  readonly server: QmqpServer
  readonly #parts: QmqpdParts
  readonly #ga: GreenArrowConfig
  readonly #listeners: net.Server[] = []
  readonly #conns = new Map<string, ConnState>()
  /** Requests being handled, and who waits for there to be none. */
  #inFlight = 0
  #whenIdle: Array<() => void> = []
  /** Backend deliveries waiting for an answer, oldest first, under one timer. */
  readonly #deadlines: DeliveryDeadlines
  /**
   * The next message id, a number: it starts at the start-up time in milliseconds and counts
   * up by one per message, so ids grow across restarts (unless a process averaged more than one
   * message per millisecond). It is the `n` of the K reply `ok <unix-time> qp <n>`.
   */
  readonly #ids = new MessageIds(Date.now())
  /** Under `--stdio`: the environment tcpserver set, recorded instead of one built from a socket. */
  #stdioEnv: Array<[string, Buffer]> | null = null
  #lastOutcome: string | null = null
  #closing: Promise<void> | null = null

  constructor(parts: QmqpdParts) {
    this.#parts = parts
    this.#ga = greenArrowConfig(parts.config.greenarrow)
    this.#deadlines = new DeliveryDeadlines(parts.config.backendTimeoutMs)
    this.server = createQmqpServer({
      limits: serverLimits(parts.config),
      onConnection: facts => this.#onConnection(facts),
      onRequest: (req, facts, transcript, context) => {
        this.#inFlight++
        return this.#onRequest(req, facts, transcript, context as ConnectionInfo)
      },
      onEvent: event => {
        this.#onEvent(event)
        parts.hooks?.event(event)
      },
      // The log needs only these; the test-server hooks see every event.
      ...(parts.hooks ? {} : { eventTypes: DAEMON_EVENTS }),
    })
  }

  /** Binds every configured address. Rejects with QmqpdBindError; already bound ones are closed. */
  async listen(): Promise<BoundAddress[]> {
    const bound: BoundAddress[] = []
    try {
      for (const address of this.#parts.config.listen) {
        try {
          bound.push(await this.#bind(address.host, address.port))
        } catch (err) {
          // The default [::]:628 on a host without IPv6: IPv4 alone, as ucspi-tcp would.
          const code = (err as QmqpdBindError).errno
          if (!(this.#parts.config.listenDefault && (code === 'EAFNOSUPPORT' || code === 'EADDRNOTAVAIL')))
            throw err
          bound.push(await this.#bind('0.0.0.0', address.port))
        }
      }
    } catch (err) {
      await this.#closeListeners()
      throw err
    }
    return bound
  }

  #bind(host: string, port: number): Promise<BoundAddress> {
    // A listener bound to one address knows every connection's local end: no getsockname()
    // per connection. On a wildcard address the socket is asked.
    let local: { address: string; port: number } | undefined
    const listener = net.createServer({ allowHalfOpen: true }, socket =>
      this.server.acceptSocket(socket, local),
    )
    return new Promise((resolve, reject) => {
      listener.once('error', (err: NodeJS.ErrnoException) => {
        const privileged = err.code === 'EACCES' && port > 0 && port < 1024
        reject(
          new QmqpdBindError(formatAddress(host, port), err.code, privileged, bindMessage(host, port, err)),
        )
      })
      listener.listen({ port, host, ipv6Only: false }, () => {
        this.#listeners.push(listener)
        const info = listener.address() as net.AddressInfo
        if (info.address !== '::' && info.address !== '0.0.0.0')
          local = { address: info.address, port: info.port }
        resolve({ host: info.address, port: info.port })
      })
    })
  }

  /**
   * `--stdio`: one request on `input`, the reply on `output`, the connection described by the
   * environment tcpserver set (`env`, in its order). Resolves to the exit code.
   */
  async serveStdio(input: Readable, output: Writable, env: Array<[string, Buffer]>): Promise<number> {
    const get = (name: string) => env.find(([n]) => n === name)?.[1].toString('latin1')
    this.#stdioEnv = env.filter(([name]) => STDIO_RECORDED.test(name))
    const remote = get('TCPREMOTEIP') ?? get('TCP6REMOTEIP') ?? '0.0.0.0'
    const facts: ConnectionFacts = {
      id: `stdio.${process.pid}`,
      remoteAddress: remote,
      remotePort: Number(get('TCPREMOTEPORT') ?? 0),
      localAddress: get('TCPLOCALIP') ?? get('TCP6LOCALIP') ?? '0.0.0.0',
      localPort: Number(get('TCPLOCALPORT') ?? 0),
      family: remote.includes(':') ? 'IPv6' : 'IPv4',
    }
    await this.server.handleStreams(input, output, facts)
    await this.#idle()
    // As tcpserver and qmail-qmqpd: 100 for a refusal or a framing error, 111 for a timeout.
    return this.#lastOutcome === 'refused' || this.#lastOutcome === 'drop'
      ? 100
      : this.#lastOutcome === 'timeout'
        ? 111
        : 0
  }

  /** SIGHUP: read the rules again at the next connection and reopen the log file. */
  reopen(): void {
    this.#parts.access.reopen()
    this.#parts.log.reopen()
    this.#parts.log.info({ event: 'reopen' }, 'reopened rules and log')
  }

  /**
   * Stops accepting, lets requests in flight finish within `graceMs`, then closes the
   * connections left and the backends. Safe to call more than once.
   */
  close(graceMs = this.#parts.config.shutdownGraceMs): Promise<void> {
    this.#closing ??= (async () => {
      await this.#closeListeners()
      await this.server.close(graceMs)
      await this.#idle()
      for (const backend of this.#parts.backends) {
        try {
          await backend.close()
        } catch (err) {
          this.#parts.log.error(
            { event: 'backend-close', backend: backend.name, err: String(err) },
            'unable to close backend',
          )
        }
      }
    })()
    return this.#closing
  }

  async #closeListeners(): Promise<void> {
    const all = this.#listeners.splice(0)
    await Promise.all(all.map(l => new Promise<void>(resolve => l.close(() => resolve()))))
  }

  /** Resolves once no request is being handled. */
  #idle(): Promise<void> {
    return this.#inFlight === 0 ? Promise.resolve() : new Promise(resolve => this.#whenIdle.push(resolve))
  }

  /** One request handled (the count went up in onRequest). */
  #requestDone(): void {
    if (--this.#inFlight > 0 || this.#whenIdle.length === 0) return
    for (const wake of this.#whenIdle.splice(0)) wake()
  }

  #onConnection(facts: ConnectionFacts): { allow: boolean; context?: unknown } {
    const stdio = this.#stdioEnv
    const getEnv = (name: string) => stdio?.find(([n]) => n === name)?.[1]
    const remoteHost = (stdio && getEnv('TCPREMOTEHOST')) ?? null
    const remoteInfo = (stdio && getEnv('TCPREMOTEINFO')) ?? null
    const state: ConnState = {
      info: null,
      remote: formatAddress(safeAddress(facts.remoteAddress), facts.remotePort),
      local: formatAddress(safeAddress(facts.localAddress), facts.localPort),
      decision: 'none',
      ruleKey: null,
      verdict: null,
    }
    this.#conns.set(facts.id, state)
    // Under tcpserver without --rules, tcpserver already decided: everyone it passes is allowed.
    const result =
      stdio && !this.#parts.config.rules
        ? { decision: 'none' as const, allow: true, ruleKey: null, env: [] }
        : this.#parts.access.check({ remoteAddress: facts.remoteAddress, remoteHost, remoteInfo })
    state.decision = result.decision
    state.ruleKey = result.ruleKey
    if (result.decision === 'error') {
      state.reason = `unable to read rules: ${result.error?.message}`
      this.#parts.log.warn(
        { event: 'rules-error', conn: facts.id, err: result.error?.message },
        'dropping connection, unable to read rules',
      )
    }
    if (!result.allow) return { allow: false }
    let base: Array<[string, Buffer]>
    let proto: 'TCP' | 'TCP6'
    let remoteIp: string
    let localIp: string
    if (stdio) {
      base = stdio
      proto = getEnv('PROTO')?.toString('latin1') === 'TCP6' ? 'TCP6' : 'TCP'
      remoteIp = safeAddress(facts.remoteAddress)
      localIp = safeAddress(facts.localAddress)
    } else {
      const ce = connectionEnv(
        {
          remoteAddress: facts.remoteAddress,
          remotePort: facts.remotePort,
          localAddress: facts.localAddress,
          localPort: facts.localPort,
          localHost: this.#parts.config.localHost,
        },
        this.#parts.config.rulesDialect,
      )
      ;({ env: base, proto, remoteIp, localIp } = ce)
    }
    const info: ConnectionInfo = {
      id: facts.id,
      remoteIp,
      remotePort: facts.remotePort,
      localIp,
      localPort: facts.localPort,
      proto,
      ruleKey: result.ruleKey,
      decision: result.decision === 'error' ? 'deny' : result.decision,
      // A socket's base environment is this connection's own; under --stdio it is shared.
      env: result.env.length === 0 && !stdio ? base : applyRuleEnv(base, result.env),
    }
    if (remoteHost) info.remoteHost = remoteHost.toString('latin1')
    if (remoteInfo) info.remoteInfo = remoteInfo.toString('latin1')
    state.info = info
    const hooks = this.#parts.hooks
    return hooks ? { allow: true, context: info, ...hooks.connection(info) } : { allow: true, context: info }
  }

  async #onRequest(
    req: QmqpRequest,
    facts: ConnectionFacts,
    transcript: RequestTranscript,
    info: ConnectionInfo,
  ): Promise<Verdict | ReplyPlan> {
    const started = Date.now()
    const id = this.#ids.next()
    const receivedAt = started
    let delivered = req.message
    let verdict: Verdict = PROCESSING_FAILED
    const run: DeliveryRun = { backend: null, verdict: PROCESSING_FAILED }
    try {
      let ga
      try {
        ga = await applyGreenArrow(req.message, info, req.sender, this.#ga, new Date(receivedAt), {
          recipients: req.recipients,
          queueId: id,
        })
      } catch (err) {
        this.#parts.log.error(
          { event: 'greenarrow-error', conn: facts.id, id, err: String(err) },
          'GreenArrow processing failed',
        )
        return verdict
      }
      delivered = ga.delivered
      const msg: InjectedMessage = {
        id,
        receivedAt,
        sender: req.sender,
        recipients: req.recipients,
        connection: info,
        metadata: ga.metadata,
        received: req.message,
        delivered: ga.delivered,
        transcript,
        faults: [],
        namespace: null,
      }
      if (ga.verdict) {
        verdict = ga.verdict
        await this.#parts.hooks?.refused(msg, verdict)
        return verdict
      }
      const hooks = this.#parts.hooks
      if (!hooks) return (verdict = await this.#deliverAll(msg, run))
      // Namespace, fault rules, then the backends (unless a fault says otherwise), then the record.
      const plan = await hooks.request(msg, () => this.#deliverAll(msg, run))
      verdict = 'code' in plan ? plan : (plan.verdict ?? run.verdict)
      return plan
    } finally {
      const state = this.#conns.get(facts.id)
      if (state) state.verdict = verdict
      this.#parts.log.message({
        conn: facts.id,
        id,
        remote: state?.remote ?? facts.remoteAddress,
        rule: info.ruleKey,
        sender: req.sender.toString('latin1'),
        recipients: req.recipients.length,
        bytes: req.message.size,
        verdict: verdict.code,
        text: verdict.text,
        backend: run.backend,
        ms: Date.now() - started,
      })
      try {
        if (delivered !== req.message) await delivered.dispose().catch(ignoreError)
        await req.message.dispose().catch(ignoreError)
      } finally {
        this.#requestDone()
      }
    }
  }

  /** Every backend in order, until one does not answer K; `run` records who answered what. */
  async #deliverAll(msg: InjectedMessage, run: DeliveryRun): Promise<Verdict> {
    const backends = this.#parts.backends
    // qmqpd listens before it opens its backends (it may drop privileges in between): a
    // message that arrives in that window has nowhere to go, so it is refused for now.
    if (backends.length === 0) return (run.verdict = NO_BACKEND_YET)
    for (let i = 0; i < backends.length; i++) {
      const backend = backends[i]!
      run.backend = backend.name
      run.verdict = await this.#deliver(backend, msg)
      if (run.verdict.code !== 'K') break
    }
    return run.verdict
  }

  /** One backend's answer: its verdict, or Z when it throws or takes longer than --backend-timeout. */
  #deliver(backend: Backend, msg: InjectedMessage): Promise<Verdict> {
    return new Promise<Verdict>(resolve => {
      let settled = false
      const slot = this.#deadlines.arm(() => {
        if (settled) return
        settled = true
        this.#parts.log.error(
          { event: 'backend-timeout', backend: backend.name, id: msg.id, timeoutMs: this.#deadlines.ms },
          'backend timed out',
        )
        resolve({ code: 'Z', text: 'backend timed out (#4.3.0)' })
      })
      const failed = (err: unknown): void => {
        if (settled) return
        settled = true
        this.#deadlines.disarm(slot)
        this.#parts.log.error(
          { event: 'backend-error', backend: backend.name, id: msg.id, err: String(err) },
          'backend failed',
        )
        resolve({ code: 'Z', text: 'backend failure (#4.3.0)' })
      }
      let answer: Promise<Verdict>
      try {
        answer = Promise.resolve(backend.deliver(msg))
      } catch (err) {
        return failed(err)
      }
      answer.then(verdict => {
        if (settled) return
        settled = true
        this.#deadlines.disarm(slot)
        resolve(
          verdict &&
            (verdict.code === 'K' || verdict.code === 'Z' || verdict.code === 'D') &&
            typeof verdict.text === 'string'
            ? verdict
            : { code: 'Z', text: 'backend gave no verdict (#4.3.0)' },
        )
      }, failed)
    })
  }

  #onEvent(event: ServerEvent): void {
    const state = this.#conns.get(event.id)
    switch (event.type) {
      case 'reply-sent':
        if (state) state.verdict = event.verdict
        break
      case 'protocol-error':
        if (state) state.reason = `${event.reason} in ${event.stage}`
        break
      case 'timeout':
        if (state) state.reason = `${event.kind} timeout`
        break
      case 'request-error':
        this.#parts.log.error(
          { event: 'request-error', conn: event.id, err: String(event.error) },
          'request failed',
        )
        break
      case 'connection-close': {
        this.#conns.delete(event.id)
        this.#lastOutcome = event.outcome
        const verdict = event.outcome === 'refused' ? 'deny' : state?.verdict ? state.verdict.code : 'drop'
        const line = {
          conn: event.id,
          remote:
            state?.remote ?? formatAddress(safeAddress(event.facts.remoteAddress), event.facts.remotePort),
          local: state?.local ?? formatAddress(safeAddress(event.facts.localAddress), event.facts.localPort),
          rule: state?.ruleKey ?? null,
          decision: state?.decision ?? 'none',
          verdict: state?.decision === 'error' ? 'error' : verdict,
          bytes: event.bytesRead,
          ms: event.ms,
        }
        const reason = state?.reason ?? (event.outcome === 'client-abort' ? 'client closed early' : undefined)
        this.#parts.log.connection(reason ? { ...line, reason } : line)
        break
      }
    }
  }
}

/**
 * Decimal ids counting up from a start value. The text is made from a high part kept as text
 * and a low part under a million: writing out a 13-digit number for every message costs more.
 */
export class MessageIds {
  #high: number
  #highText: string
  #low: number

  constructor(start: number) {
    this.#high = Math.floor(start / 1e6)
    this.#highText = this.#high === 0 ? '' : String(this.#high)
    this.#low = start % 1e6
  }

  next(): string {
    const low = this.#low
    const text = this.#highText === '' ? String(low) : this.#highText + String(low).padStart(6, '0')
    if (++this.#low === 1e6) {
      this.#low = 0
      this.#highText = String(++this.#high)
    }
    return text
  }
}

/** The server events the daemon itself uses (#onEvent). */
const DAEMON_EVENTS: ReadonlyArray<ServerEvent['type']> = [
  'reply-sent',
  'protocol-error',
  'timeout',
  'request-error',
  'connection-close',
]

/** Which backend answered last, and how: for the message's log line. */
interface DeliveryRun {
  backend: string | null
  verdict: Verdict
}

const PROCESSING_FAILED: Verdict = Object.freeze({
  code: 'Z',
  text: 'temporary failure processing the message (#4.3.0)',
})
const NO_BACKEND_YET: Verdict = Object.freeze({
  code: 'Z',
  text: 'qmqpd is starting: no backend is open yet (#4.3.0)',
})
const ignoreError = (): void => undefined

/** One delivery's deadline in a DeliveryDeadlines list. */
interface DeliverySlot {
  at: number
  expire: (() => void) | null
}

/**
 * The deadlines of backend deliveries under one timer. Every delivery gets the same timeout, so
 * deadlines come in the order they were armed: a queue, its head the next to expire. A delivery
 * that answers in time is only marked; the timer skips it when it reaches the head.
 */
class DeliveryDeadlines {
  readonly #queue: DeliverySlot[] = []
  #head = 0
  #timer: NodeJS.Timeout | undefined
  readonly #fire = (): void => this.#expire()

  constructor(readonly ms: number) {}

  arm(expire: () => void): DeliverySlot {
    const slot: DeliverySlot = { at: performance.now() + this.ms, expire }
    this.#queue.push(slot)
    // A timer left from earlier deliveries fires no later than this deadline: it is kept.
    if (this.#timer) this.#timer.ref()
    else this.#timer = setTimeout(this.#fire, this.ms)
    return slot
  }

  disarm(slot: DeliverySlot): void {
    slot.expire = null
    while (this.#head < this.#queue.length && this.#queue[this.#head]!.expire === null) this.#head++
    // Nothing waits: the timer stays (cheaper than one per delivery) but keeps no process alive.
    if (this.#head === this.#queue.length) {
      this.#queue.length = 0
      this.#head = 0
      this.#timer?.unref()
    }
  }

  #expire(): void {
    this.#timer = undefined
    const now = performance.now()
    while (this.#head < this.#queue.length) {
      const slot = this.#queue[this.#head]!
      if (slot.expire !== null && slot.at > now) break
      this.#head++
      const expire = slot.expire
      slot.expire = null
      expire?.()
    }
    if (this.#head >= this.#queue.length) {
      this.#queue.length = 0
      this.#head = 0
      return
    }
    // Keep the queue's dead head from growing without bound.
    if (this.#head > 1024 && this.#head * 2 > this.#queue.length) {
      this.#queue.splice(0, this.#head)
      this.#head = 0
    }
    this.#timer = setTimeout(this.#fire, Math.max(1, this.#queue[this.#head]!.at - now))
  }
}

function safeAddress(address: string): string {
  try {
    return addressText(address)
  } catch {
    return address || 'unknown'
  }
}

/**
 * The fatal message for a failed bind. For a port below 1024 refused for lack of privilege it
 * names the ways out: an unprivileged port, or the capability to bind low ports.
 */
export function bindMessage(host: string, port: number, err: NodeJS.ErrnoException): string {
  const where = formatAddress(host, port)
  if (err.code === 'EACCES' && port > 0 && port < 1024)
    return (
      `unable to bind ${where}: permission denied: ports below 1024 need root or the CAP_NET_BIND_SERVICE capability ` +
      `(setcap cap_net_bind_service=+ep "$(command -v node)", or AmbientCapabilities=CAP_NET_BIND_SERVICE in a systemd unit); ` +
      `without privileges use a higher port, e.g. --listen 127.0.0.1:6628`
    )
  if (err.code === 'EADDRINUSE') return `unable to bind ${where}: address in use`
  return `unable to bind ${where}: ${err.message}`
}

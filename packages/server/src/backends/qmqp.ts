import { send, type Verdict } from '@qmqpkit/qmqp'
import type { Backend, BackendContext, BackendFactory } from '../backend.js'
import type { InjectedMessage } from '../injected-message.js'
import { BackendSpecError } from './errors.js'

export interface QmqpForwardOptions {
  /** Servers tried in order (`host:port`, `[v6]:port`); the first one that answers decides. */
  servers: string[]
  connectTimeoutMs?: number
  timeoutMs?: number
}

/**
 * The reply for a forward that got no verdict from any upstream, worded as qmail-qmqpc's exit
 * codes read through qmail's table: refused, timed out, or broken off. Always Z: the upstream
 * has not said no, so the client must try again.
 */
export function forwardFailureText(err: unknown): string {
  const e = err as { code?: unknown; reason?: unknown } | undefined
  if (e?.code === 'QMQP_ERR_CONNECT')
    return e.reason === 'timeout'
      ? 'connection to mail server timed out (#4.4.1)'
      : 'connection to mail server rejected (#4.4.1)'
  if (e?.code === 'QMQP_ERR_TIMEOUT') return 'connection to mail server timed out (#4.4.1)'
  return 'communication with mail server failed (#4.4.2)'
}

/**
 * Forwards each message (as delivered: with qmqpd's Received line) to an upstream QMQP server.
 * K only after the upstream's K; its Z or D is passed back as it was given.
 */
export class QmqpForwardBackend implements Backend {
  readonly name: string

  constructor(readonly options: QmqpForwardOptions) {
    this.name = `qmqp://${options.servers.join(',')}`
  }

  async deliver(msg: InjectedMessage): Promise<Verdict> {
    try {
      const result = await send(
        { message: msg.delivered, sender: msg.sender, recipients: msg.recipients },
        {
          servers: this.options.servers,
          ...(this.options.connectTimeoutMs !== undefined && {
            connectTimeoutMs: this.options.connectTimeoutMs,
          }),
          ...(this.options.timeoutMs !== undefined && { timeoutMs: this.options.timeoutMs }),
        },
      )
      return result.verdict
    } catch (err) {
      return { code: 'Z', text: forwardFailureText(err) }
    }
  }

  async close(): Promise<void> {}
}

/** Parses `qmqp://HOST[:PORT][,HOST[:PORT]…][?timeout=MS&connect-timeout=MS]` (port 628 by default). */
export function parseQmqpSpec(spec: string): QmqpForwardOptions {
  const m = /^qmqp:\/\/([^?]*)(?:\?(.*))?$/.exec(spec)
  if (!m || m[1] === '') throw new BackendSpecError(spec, 'expected qmqp://host:port')
  const servers = m[1]!.split(',').map(server => {
    const v6 = /^\[([0-9a-fA-F:.]+)\](?::(\d+))?$/.exec(server)
    const plain = /^([^:[\]/]+)(?::(\d+))?$/.exec(server)
    const found = v6 ?? plain
    if (!found) throw new BackendSpecError(spec, `bad server ${JSON.stringify(server)}`)
    const port = found[2] === undefined ? 628 : Number(found[2])
    if (!(port >= 1 && port <= 65535))
      throw new BackendSpecError(spec, `bad port in ${JSON.stringify(server)}`)
    return v6 ? `[${found[1]}]:${port}` : `${found[1]}:${port}`
  })
  const options: QmqpForwardOptions = { servers }
  for (const [key, value] of new URLSearchParams(m[2] ?? '')) {
    const ms = Number(value)
    if (!(Number.isInteger(ms) && ms > 0))
      throw new BackendSpecError(spec, `${key} must be a positive integer`)
    if (key === 'timeout') options.timeoutMs = ms
    else if (key === 'connect-timeout') options.connectTimeoutMs = ms
    else throw new BackendSpecError(spec, `unknown option ${key}`)
  }
  return options
}

/** `qmqp://host:port` */
export const qmqpBackendFactory: BackendFactory = {
  scheme: 'qmqp',
  description: 'qmqp://HOST:PORT[,HOST:PORT…]  forward to QMQP servers; K only after the upstream K',
  async create(spec: string, _context: BackendContext): Promise<Backend> {
    return new QmqpForwardBackend(parseQmqpSpec(spec))
  },
}

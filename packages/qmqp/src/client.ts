import net, { type Socket } from 'node:net'
import { Readable } from 'node:stream'
import {
  QmqpConfigError,
  QmqpConnectError,
  QmqpConnectionError,
  QmqpError,
  QmqpReplyError,
  QmqpTimeoutError,
} from './errors.js'
import { bodyBytes, isMessageBody } from './message-body.js'
import { COMMA } from './netstring-encoder.js'
import {
  encodeEnvelopeTail,
  encodeRequest,
  messageSize,
  requestHead,
  writeRequest,
  type MessageSource,
  type RequestInput,
} from './request.js'
import { ReplyDecoder } from './response.js'
import type { Verdict } from './verdict.js'

/**
 * Milliseconds on the monotonic clock. Not the global `performance`: its first use loads
 * perf_hooks, a millisecond or more at the start of every one-shot sending command.
 */
function now(): number {
  const [s, ns] = process.hrtime()
  return s * 1e3 + ns / 1e6
}

/** What to send. A plain Readable as `message` needs `size`; such a stream can be sent only once. */
export interface SendRequest {
  message: MessageSource | Readable
  /** Byte count of `message` when it is a plain Readable. */
  size?: number
  sender: Buffer | string
  recipients: ReadonlyArray<Buffer | string>
}

/** How to send; every default is here. */
export interface SendOptions {
  /** Tried in order: `1.2.3.4`, `1.2.3.4:629`, `[::1]:6628`, `::1`, `mx.example.com`, `mx.example.com:629`. */
  servers: ReadonlyArray<string>
  /** Port for servers named without one. Default 628. */
  port?: number
  /** Per server. Default 10,000 (qmail-qmqpc). */
  connectTimeoutMs?: number
  /** Longest wait for any progress while writing or reading. Default 60,000 (qmail-qmqpc). */
  timeoutMs?: number
  /**
   * 'connect' (default, qmail-qmqpc): the next server only when connecting fails; once connected the
   * answer is final. 'connect-or-Z': also after a Z. A D is always final.
   */
  failoverOn?: 'connect' | 'connect-or-Z'
}

/** A server as parsed from its spec. */
export interface ServerAddress {
  host: string
  port: number
  /** The spec as given. */
  spec: string
}

/** One server tried. */
export interface SendAttempt {
  server: string
  verdict?: Verdict
  error?: QmqpError
}

export interface SendResult {
  verdict: Verdict
  /** The server spec that answered, as given in `servers`. */
  server: string
  /** Its address and port as connected. */
  remoteAddress: string
  remotePort: number
  attempts: SendAttempt[]
  /** Milliseconds: connecting to the answering server, writing the request, waiting for the reply, and all attempts. */
  timings: { connectMs: number; writeMs: number; replyMs: number; totalMs: number }
}

/** Parses a server spec (see SendOptions.servers). Throws QmqpConfigError. */
export function parseServer(spec: string, defaultPort = 628): ServerAddress {
  const s = spec.trim()
  const bad = (why: string) => new QmqpConfigError(`bad server ${JSON.stringify(spec)}: ${why}`)
  const portOf = (p: string) => {
    if (!/^[0-9]{1,5}$/.test(p) || Number(p) < 1 || Number(p) > 65535) throw bad('port must be 1-65535')
    return Number(p)
  }
  if (s === '') throw bad('empty')
  let m = /^\[([^\]]+)\](?::(.*))?$/.exec(s)
  if (m) {
    if (net.isIPv6(m[1]!) === false) throw bad('not an IPv6 address in brackets')
    return { host: m[1]!, port: m[2] !== undefined ? portOf(m[2]) : defaultPort, spec }
  }
  if (s.indexOf(':') !== s.lastIndexOf(':')) {
    if (!net.isIPv6(s)) throw bad('not an IPv6 address')
    return { host: s, port: defaultPort, spec }
  }
  m = /^([^:]+):(.*)$/.exec(s)
  const host = m ? m[1]! : s
  if (!/^[A-Za-z0-9._-]+$/.test(host)) throw bad('not a host name or address')
  return { host, port: m ? portOf(m[2]!) : defaultPort, spec }
}

function connectReason(code: string | undefined): QmqpConnectError['reason'] {
  if (code === 'ECONNREFUSED') return 'refused'
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN' || code === 'EAI_FAIL' || code === 'EAI_NODATA')
    return 'dns'
  if (code === 'ETIMEDOUT') return 'timeout'
  return 'unreachable'
}

/** Connects within `timeoutMs`, or rejects with QmqpConnectError. */
export function connectServer(addr: ServerAddress, timeoutMs: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: addr.host, port: addr.port, allowHalfOpen: true })
    const timer = setTimeout(() => {
      socket.destroy()
      reject(
        new QmqpConnectError('timeout', addr.spec, `connect to ${addr.spec} timed out after ${timeoutMs} ms`),
      )
    }, timeoutMs)
    socket.once('connect', () => {
      clearTimeout(timer)
      socket.removeAllListeners('error')
      resolve(socket)
    })
    socket.once('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer)
      socket.destroy()
      const reason = connectReason(err.code)
      reject(
        new QmqpConnectError(
          reason,
          addr.spec,
          `cannot connect to ${addr.spec}: ${err.code ?? err.message}`,
          { cause: err },
        ),
      )
    })
  })
}

/**
 * Sends one request on a connected socket and reads the verdict. The request is written with
 * backpressure; a reply that arrives before the last byte is written (a server refusing a
 * size early) is taken and the writing stops. Always destroys the socket.
 */
export function exchange(
  socket: Socket,
  req: RequestInput,
  server: string,
  timeoutMs: number,
): Promise<{ verdict: Verdict; writeMs: number; replyMs: number }> {
  const t0 = now()
  let tWritten: number | undefined
  return new Promise((resolve, reject) => {
    const replies = new ReplyDecoder()
    let done = false
    const finish = (err: Error | undefined, verdict?: Verdict) => {
      if (done) return
      done = true
      socket.setTimeout(0)
      socket.destroy()
      const tEnd = now()
      if (err) reject(err)
      else
        resolve({
          verdict: verdict!,
          writeMs: (tWritten ?? tEnd) - t0,
          replyMs: tWritten === undefined ? 0 : tEnd - tWritten,
        })
    }
    socket.setTimeout(timeoutMs, () =>
      finish(new QmqpTimeoutError(tWritten === undefined ? 'write' : 'read', timeoutMs, server)),
    )
    socket.on('data', (chunk: Buffer) => {
      try {
        const v = replies.push(chunk)
        if (v) finish(undefined, v)
      } catch (err) {
        finish(new QmqpReplyError('bad-reply', server, `${server}: ${(err as Error).message}`))
      }
    })
    const noReply = () => {
      if (!done)
        finish(new QmqpReplyError('no-reply', server, `${server} closed the connection without a reply`))
    }
    socket.on('end', noReply)
    socket.on('error', (err: NodeJS.ErrnoException) => {
      // A reset while writing may follow a reply already read; 'data' runs first, so `done` is set.
      finish(
        new QmqpConnectionError(server, `connection to ${server} failed: ${err.code ?? err.message}`, {
          cause: err,
        }),
      )
    })
    socket.on('close', noReply)
    writeRequest(socket, req).then(
      () => {
        tWritten = now()
      },
      (err: unknown) => {
        if (done) return
        if (err instanceof QmqpError) return finish(err)
        // The socket broke under the writer: let the reply, an 'end' or an 'error' decide; if none comes, say so.
        setImmediate(() =>
          finish(
            new QmqpConnectionError(
              server,
              `connection to ${server} lost while sending: ${(err as Error).message}`,
              { cause: err },
            ),
          ),
        )
      },
    )
  })
}

/** A parsed server and whether its host is an IPv4 literal (then the connected address is the host itself). */
interface Target extends ServerAddress {
  readonly ipv4: boolean
}

/** Parsed server specs by port, then spec: a sender given the same list every time parses it once. */
const targets = new Map<number, Map<string, Target>>()

function target(spec: string, port: number): Target {
  let byPort = targets.get(port)
  if (byPort === undefined) targets.set(port, (byPort = new Map()))
  let t = byPort.get(spec)
  if (t === undefined) {
    const addr = parseServer(spec, port)
    t = Object.freeze({ ...addr, ipv4: net.isIPv4(addr.host) })
    if (byPort.size >= 256) byPort.clear()
    byPort.set(spec, t)
  }
  return t
}

/**
 * Where replies are read. Shared: each read is decoded before the next one can arrive, and the
 * decoder copies the bytes it keeps. A longer reply arrives in several reads.
 */
const readBuffer = Buffer.allocUnsafe(16 * 1024)

/** Requests up to this size are written as one Buffer; larger ones as head, message and tail. */
const ONE_BUFFER_BYTES = 64 * 1024

/** How a request goes on the wire: one Buffer, three in one corked write, or streamed. */
type Wire = { kind: 'buffer'; bytes: Buffer } | { kind: 'parts'; parts: Buffer[] } | { kind: 'stream' }

function wireOf(req: RequestInput): Wire {
  const m = req.message
  const bytes = typeof m === 'string' || Buffer.isBuffer(m) ? m : isMessageBody(m) ? bodyBytes(m) : undefined
  if (bytes === undefined) return { kind: 'stream' }
  const size = messageSize(bytes)
  if (size <= ONE_BUFFER_BYTES)
    return {
      kind: 'buffer',
      bytes: encodeRequest({ message: bytes, sender: req.sender, recipients: req.recipients }),
    }
  const body = typeof bytes === 'string' ? Buffer.from(bytes, 'utf8') : bytes
  const tail = encodeEnvelopeTail(req.sender, req.recipients)
  return { kind: 'parts', parts: [requestHead(size, tail.length), body, COMMA, tail] }
}

/** The outcome of one server: connecting failed (try the next one), or its answer. */
type Answer =
  | { connectError: QmqpConnectError }
  | {
      connectError?: undefined
      verdict: Verdict
      remoteAddress: string
      remotePort: number
      connectMs: number
      writeMs: number
      replyMs: number
      /** When the reply was complete. */
      tEnd: number
    }

/**
 * Connects to one server and, once connected, sends the request and reads the verdict. A failure
 * to connect resolves with its QmqpConnectError; any failure after that rejects. One socket
 * timeout serves both phases: `connectTimeoutMs` until connected, then `timeoutMs` of no progress.
 */
function attempt(
  addr: Target,
  req: RequestInput,
  wire: Wire,
  connectTimeoutMs: number,
  timeoutMs: number,
  t0: number,
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const server = addr.spec
    let tConnected = 0
    let tWritten: number | undefined
    let connected = false
    let done = false
    let remoteAddress = addr.host
    let replies: ReplyDecoder | undefined
    const socket = net.connect({
      host: addr.host,
      port: addr.port,
      allowHalfOpen: true,
      onread: { buffer: readBuffer, callback: onRead },
    })
    socket.setTimeout(connectTimeoutMs)
    const fail = (err: QmqpError) => {
      if (done) return
      done = true
      socket.destroy()
      if (connected) reject(err)
      else resolve({ connectError: err as QmqpConnectError })
    }
    const wrote = () => {
      tWritten ??= now()
    }
    socket.on('timeout', () => {
      if (done) return
      fail(
        connected
          ? new QmqpTimeoutError(tWritten === undefined ? 'write' : 'read', timeoutMs, server)
          : new QmqpConnectError(
              'timeout',
              server,
              `connect to ${server} timed out after ${connectTimeoutMs} ms`,
            ),
      )
    })
    socket.on('error', (err: NodeJS.ErrnoException) => {
      if (done) return
      // A reset while writing may follow a reply already read; the read callback runs first, so `done` is set.
      fail(
        connected
          ? new QmqpConnectionError(server, `connection to ${server} failed: ${err.code ?? err.message}`, {
              cause: err,
            })
          : new QmqpConnectError(
              connectReason(err.code),
              server,
              `cannot connect to ${server}: ${err.code ?? err.message}`,
              {
                cause: err,
              },
            ),
      )
    })
    const noReply = () => {
      if (done) return
      fail(
        connected
          ? new QmqpReplyError('no-reply', server, `${server} closed the connection without a reply`)
          : new QmqpConnectError('unreachable', server, `cannot connect to ${server}: closed`),
      )
    }
    socket.on('end', noReply)
    socket.on('close', noReply)
    // The reply is read into a shared buffer (the decoder copies what it keeps): no Buffer and no
    // 'data' event per read.
    function onRead(length: number): boolean {
      if (done) return false
      let verdict: Verdict | undefined
      try {
        verdict = (replies ??= new ReplyDecoder()).push(readBuffer.subarray(0, length))
      } catch (err) {
        fail(new QmqpReplyError('bad-reply', server, `${server}: ${(err as Error).message}`))
        return false
      }
      if (verdict === undefined) return true
      done = true
      socket.destroy()
      const tEnd = now()
      resolve({
        verdict,
        remoteAddress,
        remotePort: addr.port,
        connectMs: tConnected - t0,
        writeMs: (tWritten ?? tEnd) - tConnected,
        replyMs: tWritten === undefined ? 0 : tEnd - tWritten,
        tEnd,
      })
      return false
    }
    socket.once('connect', () => {
      connected = true
      tConnected = now()
      if (!addr.ipv4) remoteAddress = socket.remoteAddress ?? addr.host
      socket.setTimeout(timeoutMs)
      if (wire.kind === 'buffer') {
        if (socket.write(wire.bytes)) wrote()
        else socket.once('drain', wrote)
        return
      }
      if (wire.kind === 'parts') {
        socket.cork()
        let flushed = true
        for (const part of wire.parts) flushed = socket.write(part)
        socket.uncork()
        if (flushed) wrote()
        else socket.once('drain', wrote)
        return
      }
      writeRequest(socket, req).then(wrote, (err: unknown) => {
        if (done) return
        if (err instanceof QmqpError) return fail(err)
        // The socket broke under the writer: let the reply, an 'end' or an 'error' decide; if none comes, say so.
        setImmediate(() =>
          fail(
            new QmqpConnectionError(
              server,
              `connection to ${server} lost while sending: ${(err as Error).message}`,
              {
                cause: err,
              },
            ),
          ),
        )
      })
    })
  })
}

/**
 * Sends one message over QMQP, trying `servers` in order as qmail-qmqpc does. Resolves with the
 * answering server's verdict (K, Z or D); rejects with QmqpConnectError when no server could be
 * reached, or with the error of the connected server (timeout, lost connection, no reply).
 */
export async function send(request: SendRequest, options: SendOptions): Promise<SendResult> {
  const port = options.port ?? 628
  const connectTimeoutMs = options.connectTimeoutMs ?? 10_000
  const timeoutMs = options.timeoutMs ?? 60_000
  const failoverOn = options.failoverOn ?? 'connect'
  const specs = options.servers
  const servers: Target[] = new Array(specs.length)
  for (let i = 0; i < specs.length; i++) servers[i] = target(specs[i]!, port)
  if (servers.length === 0) throw new QmqpConfigError('no QMQP servers given')
  let message: MessageSource
  if (request.message instanceof Readable) {
    if (request.size === undefined || !Number.isSafeInteger(request.size) || request.size < 0)
      throw new QmqpConfigError('a stream message needs its size in bytes')
    message = { stream: request.message, size: request.size }
  } else message = request.message
  const oneShot = !(typeof message === 'string' || Buffer.isBuffer(message) || isMessageBody(message))
  const req: RequestInput = { message, sender: request.sender, recipients: request.recipients }
  let wire: Wire | undefined

  const start = now()
  const attempts: SendAttempt[] = []
  let lastError: QmqpError | undefined
  let lastZ: SendResult | undefined
  for (let i = 0; i < servers.length; i++) {
    const addr = servers[i]!
    let r: Answer
    try {
      r = await attempt(
        addr,
        req,
        (wire ??= wireOf(req)),
        connectTimeoutMs,
        timeoutMs,
        i === 0 ? start : now(),
      )
    } catch (err) {
      if (err instanceof QmqpError) attempts.push({ server: addr.spec, error: err })
      throw err
    }
    if (r.connectError !== undefined) {
      lastError = r.connectError
      attempts.push({ server: addr.spec, error: lastError })
      continue
    }
    attempts.push({ server: addr.spec, verdict: r.verdict })
    const result: SendResult = {
      verdict: r.verdict,
      server: addr.spec,
      remoteAddress: r.remoteAddress,
      remotePort: r.remotePort,
      attempts,
      timings: { connectMs: r.connectMs, writeMs: r.writeMs, replyMs: r.replyMs, totalMs: r.tEnd - start },
    }
    const more = i < servers.length - 1
    if (r.verdict.code === 'Z' && failoverOn === 'connect-or-Z' && more && !oneShot) {
      lastZ = result
      continue
    }
    return result
  }
  if (lastZ) return { ...lastZ, attempts, timings: { ...lastZ.timings, totalMs: now() - start } }
  throw lastError!
}

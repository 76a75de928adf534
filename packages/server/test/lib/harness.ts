import net from 'node:net'
import { Writable } from 'node:stream'
import { spawn, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { accessControlFor, loggedAccessEvents } from '../../src/access.js'
import type { Backend } from '../../src/backend.js'
import { MemoryBackend } from '../../src/backends/memory.js'
import { loadConfig, type Config } from '../../src/config.js'
import { Qmqpd } from '../../src/daemon.js'
import { QmqpdLog } from '../../src/log.js'

/** The built qmqpd command. */
export const qmqpdBin = fileURLToPath(new URL('../../bin/qmqpd', import.meta.url))
export const fixtures = fileURLToPath(new URL('../../../../fixtures/', import.meta.url))

interface Teardown {
  teardown(fn: () => unknown): void
}

/** A Qmqpd in this process, on 127.0.0.1 port 0 unless `args` says otherwise, storing into memory. */
export async function startDaemon(
  t: Teardown,
  args: string[] = [],
  options: { backends?: Backend[]; env?: Record<string, string> } = {},
) {
  const listen = args.includes('--listen') ? [] : ['--listen', '127.0.0.1:0']
  const config: Config = loadConfig([...listen, ...args], options.env ?? {}, null, {
    hostname: 'qmqp.example.test',
  })
  const lines: Array<Record<string, unknown>> = []
  const logStream = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString().split('\n'))
        if (line)
          lines.push(config.log.format === 'json' ? (JSON.parse(line) as Record<string, unknown>) : { line })
      done()
    },
  })
  const log = new QmqpdLog(config.log, logStream)
  const memory = new MemoryBackend()
  const backends = options.backends ?? [memory]
  const daemon = new Qmqpd({
    config,
    log,
    access: accessControlFor(config.rules, config.rulesDialect, loggedAccessEvents(log)),
    backends,
  })
  const bound = await daemon.listen()
  t.teardown(() => daemon.close(0))
  return { daemon, memory, config, bound, port: bound[0]!.port, host: bound[0]!.host, lines }
}

/** Result of one raw exchange: the reply bytes, or null when the server closed without any. */
export interface RawResult {
  reply: Buffer | null
  error: string | null
}

/** Sends raw bytes (optionally from `localAddress`), half-closes, reads until the server closes. */
export function rawExchange(
  port: number,
  bytes: Buffer,
  options: { host?: string; localAddress?: string; halfClose?: boolean; chunkDelayMs?: number } = {},
): Promise<RawResult> {
  return new Promise(resolve => {
    const s = net.connect({
      port,
      host: options.host ?? '127.0.0.1',
      allowHalfOpen: true,
      ...(options.localAddress ? { localAddress: options.localAddress } : {}),
    })
    const chunks: Buffer[] = []
    let error: string | null = null
    s.on('connect', () => {
      if (options.halfClose === false) s.write(bytes)
      else s.end(bytes)
    })
    s.on('data', d => chunks.push(d))
    s.on('error', e => (error = (e as NodeJS.ErrnoException).code ?? String(e)))
    s.on('close', () => resolve({ reply: chunks.length ? Buffer.concat(chunks) : null, error }))
  })
}

/** A QMQP request's bytes, built by hand (independent of the codec under test elsewhere). */
export function request(
  message: Buffer | string,
  sender: string | Buffer,
  recipients: Array<string | Buffer>,
): Buffer {
  const ns = (b: Buffer) => Buffer.concat([Buffer.from(`${b.length}:`), b, Buffer.from(',')])
  const inner = Buffer.concat([
    ns(Buffer.from(message)),
    ns(Buffer.from(sender)),
    ...recipients.map(r => ns(Buffer.from(r))),
  ])
  return ns(inner)
}

/** The reply netstring's content as text (`Kok …`), or null. */
export function replyText(r: RawResult): string | null {
  if (!r.reply) return null
  const m = /^(\d+):/.exec(r.reply.toString('latin1'))
  if (!m) return r.reply.toString('latin1')
  return r.reply.subarray(m[0].length, m[0].length + Number(m[1])).toString('latin1')
}

/** Env pairs as [name, text] for comparisons. */
export function envText(env: Array<[string, Buffer | Uint8Array]>): Array<[string, string]> {
  return env.map(([n, v]) => [n, Buffer.from(v).toString('latin1')])
}

/** Polls until `cond` holds (log lines are written when the connection has closed, a moment after the reply). */
export async function waitFor<T>(cond: () => T | undefined | false, ms = 5000): Promise<T> {
  const until = Date.now() + ms
  for (;;) {
    const v = cond()
    if (v) return v
    if (Date.now() > until) throw new Error('condition not met in time')
    await new Promise(r => setTimeout(r, 10))
  }
}

/** A spawned qmqpd: the bound addresses it printed, its stderr, and a stop that sends SIGTERM. */
export interface SpawnedQmqpd {
  child: ChildProcess
  addresses: Array<{ host: string; port: number }>
  stderr: () => string
  stdout: () => string
  stop(signal?: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }>
}

/** Spawns `bin/qmqpd args` (wrapped by `wrapper`, e.g. setpriv) and waits for its listening lines or its exit. */
export function spawnQmqpd(
  t: Teardown,
  args: string[],
  options: { env?: NodeJS.ProcessEnv; wrapper?: string[]; cwd?: string; listeners?: number } = {},
): Promise<SpawnedQmqpd & { exited: { code: number | null } | null }> {
  const [cmd, ...pre] = options.wrapper ?? []
  const child = cmd
    ? spawn(cmd, [...pre, process.execPath, qmqpdBin, ...args], {
        env: options.env ?? process.env,
        cwd: options.cwd,
      })
    : spawn(process.execPath, [qmqpdBin, ...args], { env: options.env ?? process.env, cwd: options.cwd })
  let out = ''
  let err = ''
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>(resolve =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  )
  let exited: { code: number | null } | null = null
  void exit.then(e => (exited = e))
  t.teardown(() => {
    if (exited === null) child.kill('SIGKILL')
  })
  const stop = async (signal: NodeJS.Signals = 'SIGTERM') => {
    if (exited === null) child.kill(signal)
    return exit
  }
  const want = options.listeners ?? 1
  return new Promise(resolve => {
    const addresses: Array<{ host: string; port: number }> = []
    const done = () =>
      resolve({
        child,
        addresses,
        stderr: () => err,
        stdout: () => out,
        stop,
        get exited() {
          return exited
        },
      })
    child.stderr!.on('data', d => (err += d))
    child.stdout!.on('data', d => {
      out += d
      for (const m of out.matchAll(/listening on \[?([^\s\]]+?)\]?:(\d+)\n/g))
        if (!addresses.some(a => a.port === Number(m[2]) && a.host === m[1]))
          addresses.push({ host: m[1]!, port: Number(m[2]) })
      if (addresses.length >= want) done()
    })
    void exit.then(done)
  })
}

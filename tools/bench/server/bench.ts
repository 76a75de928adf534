// qmqpd with the sqlite, maildir and discard backends against Debian's Postfix qmqpd (a private
// instance that queues and never delivers) and a bare Node QMQP sink (the floor of any Node
// server). Prints msgs/s, p50/p99 latency and ratios; never asserts. Run through run.js.
import { spawn, execFile, type ChildProcess } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import net from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { promisify } from 'node:util'
import { encodeRequest, send } from '@qmqpkit/qmqp'
import {
  postfixUnavailable,
  start as startPostfix,
  type PostfixInstance,
} from '../../../test/lib/postfix-instance.js'

const run = promisify(execFile)
const root = process.env.QMQPKIT_ROOT ?? process.cwd()
const sinkScript = process.env.QMQPKIT_BENCH_SINK ?? ''
const qmqpdBin = join(root, 'packages/server/bin/qmqpd')

const args = process.argv.slice(2)
const flag = (name: string) => args.includes(name)
const option = (name: string, fallback: string) => {
  const i = args.indexOf(name)
  return i >= 0 && args[i + 1] !== undefined ? args[i + 1]! : fallback
}
const quick = flag('--quick')
const runs = Number(option('--runs', quick ? '1' : '3'))
const durationMs = Number(option('--duration-ms', quick ? '600' : '1000'))
const only = option('--only', '').split(',').filter(Boolean)

interface Scenario {
  size: number
  recipients: number
  connections: number
}
const scenarios: Scenario[] = quick
  ? [
      { size: 1024, recipients: 1, connections: 16 },
      { size: 1024, recipients: 100, connections: 16 },
    ]
  : [1024, 102400].flatMap(size =>
      [1, 100].flatMap(recipients => [1, 16].map(connections => ({ size, recipients, connections }))),
    )
const label = (s: Scenario) => `${s.size / 1024} KiB, ${s.recipients} rcpt, ${s.connections} conn`

interface Server {
  name: string
  port: number
  pid: number | null
  stop(): Promise<void>
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!
const percentile = (sorted: number[], p: number) =>
  sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))]! : NaN
const sleep = (ms: number) => new Promise(resolve => setTimeout(resolve, ms))

async function waitFor(check: () => boolean, ms: number, what: string) {
  const end = Date.now() + ms
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await sleep(20)
  }
}

/** Reads lines from a child's stdout until one matches. */
function portFrom(child: ChildProcess, pattern: RegExp, what: string): Promise<number> {
  return new Promise((resolve, reject) => {
    let out = ''
    child.stdout!.on('data', chunk => {
      out += String(chunk)
      const m = pattern.exec(out)
      if (m) resolve(Number(m[1]))
    })
    child.once('exit', () => reject(new Error(`${what} exited: ${out}`)))
  })
}

async function stopChild(child: ChildProcess) {
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = new Promise(resolve => child.once('exit', resolve))
  child.kill('SIGTERM')
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000)
  await exited
  clearTimeout(timer)
}

async function startSink(): Promise<Server> {
  const child = spawn(process.execPath, [sinkScript], { stdio: ['ignore', 'pipe', 'inherit'] })
  const port = await portFrom(child, /listening (\d+)\n/, 'node sink')
  return { name: 'node sink', port, pid: child.pid ?? null, stop: () => stopChild(child) }
}

/** The real qmqpd, logging as it would in production (one line per message and connection) to a file. */
async function startQmqpd(backend: 'sqlite' | 'maildir' | 'discard', dir: string): Promise<Server> {
  const spec =
    backend === 'sqlite'
      ? `sqlite:${dir}/mail.db`
      : backend === 'maildir'
        ? `maildir:${dir}/Maildir`
        : 'discard:'
  const log = join(dir, 'qmqpd.log')
  const child = spawn(
    process.execPath,
    [qmqpdBin, '--listen', '127.0.0.1:0', '--backend', spec, '--log-file', log],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
      env: { ...process.env, TMPDIR: dir },
    },
  )
  const port = await portFrom(child, /listening on 127\.0\.0\.1:(\d+)\n/, `qmqpd ${spec}`)
  // Serving once the backends are open: the start line is logged then.
  await waitFor(
    () => existsSync(log) && readFileSync(log, 'utf8').includes('"event":"start"'),
    20_000,
    `qmqpd ${spec}`,
  )
  return { name: `qmqpd ${backend}`, port, pid: child.pid ?? null, stop: () => stopChild(child) }
}

interface RunResult {
  ok: number
  failed: number
  latencies: number[]
  seconds: number
}

/** One request on a fresh connection; resolves to the reply's code letter. */
function exchange(port: number, request: Buffer): Promise<string> {
  return new Promise(resolve => {
    const socket = net.connect(port, '127.0.0.1')
    socket.setNoDelay(true)
    let reply = Buffer.alloc(0)
    let done = false
    const finish = (code: string) => {
      if (done) return
      done = true
      socket.destroy()
      resolve(code)
    }
    socket.on('connect', () => socket.write(request))
    socket.on('data', (chunk: Buffer) => {
      reply = Buffer.concat([reply, chunk])
      const colon = reply.indexOf(0x3a)
      if (colon < 0) return
      const length = Number(reply.subarray(0, colon).toString('latin1'))
      if (reply.length >= colon + 2 + length) finish(String.fromCharCode(reply[colon + 1] ?? 0x3f))
    })
    socket.on('error', () => finish('!'))
    socket.on('close', () => finish('!'))
  })
}

/** `connections` clients, each sending one message per connection, for `ms`. */
async function load(port: number, request: Buffer, connections: number, ms: number): Promise<RunResult> {
  const latencies: number[] = []
  let failed = 0
  const start = performance.now()
  const end = start + ms
  await Promise.all(
    Array.from({ length: connections }, async () => {
      while (performance.now() < end) {
        const t0 = performance.now()
        const code = await exchange(port, request)
        if (code === 'K') latencies.push(performance.now() - t0)
        else failed++
      }
    }),
  )
  return { ok: latencies.length, failed, latencies, seconds: (performance.now() - start) / 1000 }
}

function messageOf(size: number): Buffer {
  const head = 'From: bench@example.com\nTo: list@example.net\nSubject: benchmark\n\n'
  const line = 'The quick brown fox jumps over the lazy dog, again and again and again.\n'
  return Buffer.from(head + line.repeat(Math.ceil(size / line.length))).subarray(0, size)
}

function requestFor(s: Scenario): Buffer {
  return encodeRequest({
    message: messageOf(s.size),
    sender: 'bounce-1234@example.com',
    recipients: Array.from({ length: s.recipients }, (_, i) => `user${i}@example${i % 7}.net`),
  })
}

interface Figures {
  rate: number
  p50: number
  p99: number
  failed: number
}

function summarise(results: RunResult[]): Figures {
  const rates = results.map(r => r.ok / r.seconds)
  const all = results.flatMap(r => r.latencies).sort((a, b) => a - b)
  return {
    rate: median(rates),
    p50: median(
      results.map(r =>
        percentile(
          [...r.latencies].sort((a, b) => a - b),
          50,
        ),
      ),
    ),
    p99:
      median(
        results.map(r =>
          percentile(
            [...r.latencies].sort((a, b) => a - b),
            99,
          ),
        ),
      ) || percentile(all, 99),
    failed: results.reduce((n, r) => n + r.failed, 0),
  }
}

function rssKiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  return m ? Number(m[1]) : NaN
}

/** RSS of qmqpd while one 100 MiB message passes through it, generated here and never held whole. */
async function rssWhile100MiB(backend: 'sqlite' | 'maildir' | 'discard', dir: string) {
  const server = await startQmqpd(backend, dir)
  try {
    const size = 100 * 1024 * 1024
    const base = rssKiB(server.pid!)
    let peak = base
    const sampler = setInterval(() => (peak = Math.max(peak, rssKiB(server.pid!))), 10)
    const piece = Buffer.alloc(64 * 1024, 'abcdefghijklmnopqrstuvwxyz0123456789\n')
    let sent = 0
    const body = new Readable({
      read() {
        const n = Math.min(piece.length, size - sent)
        sent += n
        this.push(n > 0 ? piece.subarray(0, n) : null)
      },
    })
    const t0 = performance.now()
    const result = await send(
      { message: body, size, sender: 'big@example.com', recipients: ['one@example.net'] },
      { servers: [`127.0.0.1:${server.port}`], timeoutMs: 120_000 },
    )
    const seconds = (performance.now() - t0) / 1000
    clearInterval(sampler)
    peak = Math.max(peak, rssKiB(server.pid!))
    return { verdict: result.verdict.code, base, peak, seconds }
  } finally {
    await server.stop()
  }
}

async function main() {
  const work = mkdtempSync(join(tmpdir(), 'qmqpkit-bench-'))
  const contenderNames = ['postfix', 'node sink', 'qmqpd discard', 'qmqpd sqlite', 'qmqpd maildir'].filter(
    n => only.length === 0 || only.some(o => n.includes(o)),
  )
  let postfix: PostfixInstance | null = null
  if (contenderNames.includes('postfix')) {
    const why = postfixUnavailable()
    if (why) console.log(`postfix: not measured (${why})`)
    else postfix = await startPostfix()
  }
  console.log(
    `qmqpd backends benchmark: ${runs} interleaved run(s) of ${durationMs} ms per cell, median shown${quick ? ' (quick)' : ''}`,
  )
  const table: Array<{ scenario: Scenario; name: string; figures: Figures }> = []
  try {
    for (const [si, scenario] of scenarios.entries()) {
      const request = requestFor(scenario)
      const servers: Server[] = []
      const dirs: string[] = []
      for (const name of contenderNames) {
        if (name === 'postfix') {
          if (postfix) servers.push({ name, port: postfix.port, pid: null, stop: async () => {} })
        } else if (name === 'node sink') servers.push(await startSink())
        else {
          const dir = join(work, `s${si}-${name.replace(/\W/g, '-')}`)
          mkdirSync(dir)
          dirs.push(dir)
          servers.push(await startQmqpd(name.slice('qmqpd '.length) as 'sqlite' | 'maildir' | 'discard', dir))
        }
      }
      const results = new Map<string, RunResult[]>(servers.map(s => [s.name, []]))
      // Warm-up, not measured: long enough for the JIT to have compiled a server's busy paths
      // (qmqpd has far more of them than the sink; 300 ms left its first run a fifth slower).
      for (const s of servers) await load(s.port, request, scenario.connections, durationMs)
      for (let r = 0; r < runs; r++)
        for (const s of servers)
          results.get(s.name)!.push(await load(s.port, request, scenario.connections, durationMs))
      for (const s of servers) await s.stop()
      for (const dir of dirs) rmSync(dir, { recursive: true, force: true })
      if (postfix) await run('postsuper', ['-c', postfix.configDir, '-d', 'ALL']).catch(() => undefined)

      const ref = results.has('postfix') ? summarise(results.get('postfix')!) : null
      const sink = results.has('node sink') ? summarise(results.get('node sink')!) : null
      console.log(`\n${label(scenario)}`)
      console.log(
        `  ${'server'.padEnd(16)}${'msgs/s'.padStart(9)}${'p50 ms'.padStart(9)}${'p99 ms'.padStart(9)}  vs postfix`,
      )
      for (const s of servers) {
        const f = summarise(results.get(s.name)!)
        table.push({ scenario, name: s.name, figures: f })
        const ratio = ref && s.name !== 'postfix' ? `${(f.rate / ref.rate).toFixed(2)}x` : ''
        const vsSink =
          sink && s.name === 'qmqpd discard' ? `  (${(f.rate / sink.rate).toFixed(2)}x the node sink)` : ''
        const failures = f.failed ? `  [${f.failed} not K]` : ''
        console.log(
          `  ${s.name.padEnd(16)}${f.rate.toFixed(0).padStart(9)}${f.p50.toFixed(2).padStart(9)}${f.p99.toFixed(2).padStart(9)}  ${ratio}${vsSink}${failures}`,
        )
      }
    }
  } finally {
    await postfix?.stop()
  }

  console.log('\nTargets (printed, not asserted):')
  const find = (name: string, size: number, recipients: number, connections: number) =>
    table.find(
      e =>
        e.name === name &&
        e.scenario.size === size &&
        e.scenario.recipients === recipients &&
        e.scenario.connections === connections,
    )?.figures
  const target = (
    text: string,
    value: number | undefined,
    goal: number,
    unit = 'x',
    lowerIsBetter = false,
  ) => {
    if (value === undefined || Number.isNaN(value)) return console.log(`  ${text}: not measured`)
    const met = lowerIsBetter ? value <= goal : value >= goal
    console.log(
      `  ${text}: ${value.toFixed(2)}${unit} (target ${lowerIsBetter ? '<=' : '>='} ${goal}${unit}) ${met ? 'met' : 'NOT met'}`,
    )
  }
  const pf1 = find('postfix', 1024, 1, 16)
  const pf100 = find('postfix', 1024, 100, 16)
  const sq1 = find('qmqpd sqlite', 1024, 1, 16)
  const sq100 = find('qmqpd sqlite', 1024, 100, 16)
  const disc = find('qmqpd discard', 1024, 1, 16)
  const sink = find('node sink', 1024, 1, 16)
  target('sqlite / postfix, 1 KiB 1 rcpt 16 conn', sq1 && pf1 && sq1.rate / pf1.rate, 2)
  target('sqlite / postfix, 1 KiB 100 rcpt 16 conn', sq100 && pf100 && sq100.rate / pf100.rate, 10)
  target('sqlite p99 / postfix p99, 1 KiB 1 rcpt 16 conn', sq1 && pf1 && sq1.p99 / pf1.p99, 1, 'x', true)
  target(
    'sqlite p99 / postfix p99, 1 KiB 100 rcpt 16 conn',
    sq100 && pf100 && sq100.p99 / pf100.p99,
    1,
    'x',
    true,
  )
  target('discard / node sink, 1 KiB 1 rcpt 16 conn', disc && sink && disc.rate / sink.rate, 0.8)

  console.log('\nRSS while one 100 MiB message passes (target: growth < 32 MiB)')
  for (const backend of ['discard', 'sqlite', 'maildir'] as const) {
    if (only.length && !only.some(o => `qmqpd ${backend}`.includes(o))) continue
    const dir = join(work, `rss-${backend}`)
    mkdirSync(dir)
    const r = await rssWhile100MiB(backend, dir)
    rmSync(dir, { recursive: true, force: true })
    const growth = (r.peak - r.base) / 1024
    console.log(
      `  qmqpd ${backend.padEnd(8)} ${r.verdict}  base ${(r.base / 1024).toFixed(1)} MiB, peak ${(r.peak / 1024).toFixed(1)} MiB, growth ${growth.toFixed(1)} MiB ${growth < 32 ? 'met' : 'NOT met'}, ${(100 / r.seconds).toFixed(0)} MiB/s`,
    )
  }
  rmSync(work, { recursive: true, force: true })
}

await main()

// Nothing acknowledged is lost, nothing unacknowledged half-exists: the built qmqpd, over the
// sqlite and maildir backends, is killed with SIGKILL at seeded random moments while 16 QMQP
// clients send to it; after each kill the store is checked against every K the clients received.
import t, { type Test } from 'tap'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import Database from 'better-sqlite3'
import { send } from '@qmqpkit/qmqp'
import { SqliteBackend } from '../packages/server/src/backends/sqlite.js'
import { Prng, testSeed } from './lib/prng.js'

const root = resolve(import.meta.dirname, '..')
const qmqpd = join(root, 'packages/server/bin/qmqpd')
const qmqpdDist = join(root, 'packages/server/dist/cli/qmqpd.js')
const rounds = Number(process.env.DURABILITY_ROUNDS ?? 20)
const seed = testSeed()
const connections = 16

interface Sent {
  size: number
  recipients: string[]
}

/** The message for an id: a Subject line, then numbered lines, cut to exactly `size` bytes. */
function messageFor(id: string, size: number): Buffer {
  const head = `Subject: ${id}\n\n`
  const lines: string[] = [head]
  let length = head.length
  for (let i = 0; length < size; i++) {
    const line = `${id} line ${i} ${'x'.repeat(i % 61)}\n`
    lines.push(line)
    length += line.length
  }
  return Buffer.from(lines.join('')).subarray(0, size)
}

/** qmqpd's delivered form: its Received line, then the message as sent. */
function isDelivered(delivered: Buffer, message: Buffer): boolean {
  const head = delivered.subarray(0, delivered.length - message.length)
  return (
    delivered.length > message.length &&
    delivered.subarray(head.length).equals(message) &&
    /^Received: [^]*\n$/.test(head.toString('latin1'))
  )
}

/** Starts qmqpd on a free loopback port; resolves once it is listening (and, unless `early`, serving). */
async function startQmqpd(dir: string, spec: string, early = false) {
  const child = spawn(process.execPath, [qmqpd, '--listen', '127.0.0.1:0', '--backend', spec], {
    stdio: ['ignore', 'pipe', 'pipe'],
    // Its spool files go to the test's directory. And it runs outside the test runner's coverage hooks.
    env: { ...process.env, TMPDIR: join(dir, 'spool'), NODE_OPTIONS: '' },
  })
  let out = ''
  let log = ''
  let port = 0
  let serving = false
  const ready = new Promise<void>((resolve, reject) => {
    const check = () => {
      const m = /listening on 127\.0\.0\.1:(\d+)\n/.exec(out)
      if (m) port = Number(m[1])
      // The start line is logged once the backends are open.
      serving ||= /"event":"start"/.test(log)
      if (port && (early || serving)) resolve()
    }
    child.stdout!.on('data', chunk => ((out += String(chunk)), check()))
    child.stderr!.on('data', chunk => {
      if (!serving) log += String(chunk)
      check()
    })
    child.once('exit', () => reject(new Error(`qmqpd (${spec}) ended before serving: ${out}${log}`)))
  })
  await ready
  return { child, port }
}

async function sendOne(port: number, id: string, size: number, recipients: string[]) {
  return send(
    { message: messageFor(id, size), sender: id, recipients },
    { servers: [`127.0.0.1:${port}`], connectTimeoutMs: 2000, timeoutMs: 10_000 },
  )
}

/** One round: 16 clients send until the child is killed; returns the ids answered K. */
async function round(dir: string, spec: string, prng: Prng, roundNo: number, sent: Map<string, Sent>) {
  const { child, port } = await startQmqpd(dir, spec)
  const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>
  let dead = false
  void exited.then(() => (dead = true))
  const acked: string[] = []
  let next = 0
  const worker = async (w: number) => {
    const p = new Prng(seed ^ (roundNo * 7919 + w * 104729))
    while (!dead) {
      const id = `r${roundNo}w${w}n${next++}@durability.test`
      const size = p.chance(0.015) ? 300_000 + p.int(900_000) : 40 + p.int(6000)
      const recipients = Array.from({ length: 1 + p.int(3) }, (_, i) => `to${i}-${id}`)
      sent.set(id, { size, recipients })
      try {
        const r = await sendOne(port, id, size, recipients)
        if (r.verdict.code === 'K') acked.push(id)
      } catch {
        // The server died under this request: no K, so nothing is promised.
      }
    }
  }
  const killAfterMs = 50 + prng.int(400)
  const timer = setTimeout(() => child.kill('SIGKILL'), killAfterMs)
  const workers = Array.from({ length: connections }, (_, w) => worker(w))
  const [, signal] = await exited
  clearTimeout(timer)
  await Promise.all(workers)
  return { acked, signal, killAfterMs }
}

function checkSqlite(
  t: Test,
  path: string,
  sent: Map<string, Sent>,
  acked: Set<string>,
  checked: Set<string>,
) {
  // Read the store as the crash left it, before qmqpd's own open tidies anything.
  const db = new Database(path)
  try {
    const rows = db
      .prepare('SELECT seq, sender, recipients, size, delivered_same FROM messages')
      .all() as Array<{
      seq: number
      sender: Buffer
      recipients: Buffer
      size: number
      delivered_same: number
    }>
    const stored = new Set(rows.map(r => String(r.sender)))
    const missing = [...acked].filter(id => !stored.has(id))
    t.same(missing, [], 'every acknowledged message is stored')
    const chunks = db.prepare('SELECT chunk, data FROM bodies WHERE seq = ? AND part = ? ORDER BY chunk')
    const partial: string[] = []
    for (const row of rows) {
      const id = String(row.sender)
      if (checked.has(id)) continue
      const info = sent.get(id)
      const body = (part: number) => {
        const list = chunks.all(row.seq, part) as Array<{ chunk: number; data: Buffer }>
        return list.every((c, i) => c.chunk === i) ? Buffer.concat(list.map(c => c.data)) : null
      }
      const received = body(0)
      const delivered = row.delivered_same ? received : body(1)
      const message = info && messageFor(id, info.size)
      const ok =
        info !== undefined &&
        message !== undefined &&
        received !== null &&
        received.equals(message) &&
        delivered !== null &&
        isDelivered(delivered, message) &&
        row.size === info.size &&
        row.recipients.equals(Buffer.from(info.recipients.map(r => `${r.length}:${r},`).join('')))
      if (ok) checked.add(id)
      else partial.push(id)
    }
    t.same(partial, [], 'no stored message is partial')
    return rows.length
  } finally {
    db.close()
  }
}

function checkMaildir(
  t: Test,
  dir: string,
  sent: Map<string, Sent>,
  acked: Set<string>,
  checked: Set<string>,
) {
  const stored = new Set<string>()
  const partial: string[] = []
  for (const name of readdirSync(join(dir, 'new'))) {
    const content = readFileSync(join(dir, 'new', name))
    const m = /^Return-Path: <([^>]*)>\n/.exec(content.subarray(0, 200).toString('latin1'))
    const id = m?.[1] ?? name
    stored.add(id)
    if (checked.has(name)) continue
    const info = sent.get(id)
    const head =
      info &&
      Buffer.from(`Return-Path: <${id}>\n${info.recipients.map(r => `Delivered-To: ${r}\n`).join('')}`)
    const complete =
      info !== undefined &&
      head !== undefined &&
      content.subarray(0, head.length).equals(head) &&
      isDelivered(content.subarray(head.length), messageFor(id, info.size))
    if (complete) checked.add(name)
    else partial.push(name)
  }
  t.same(
    [...acked].filter(id => !stored.has(id)),
    [],
    'every acknowledged message is in new/',
  )
  t.same(partial, [], 'no file in new/ is partial')
  return stored.size
}

const built = existsSync(qmqpdDist)
if (!built && process.env.CI) throw new Error('build first: packages/server/dist is missing')

for (const kind of ['sqlite', 'maildir'] as const) {
  t.test(
    `${kind}: SIGKILL at ${rounds} random moments loses nothing acknowledged`,
    { skip: !built && 'run tsc -b first' },
    async t => {
      const dir = t.testdir()
      mkdirSync(join(dir, 'spool'))
      const store = kind === 'sqlite' ? join(dir, 'mail.db') : join(dir, 'Maildir')
      const spec = `${kind}:${store}`
      const prng = new Prng(seed ^ (kind === 'sqlite' ? 1 : 2))
      const sent = new Map<string, Sent>()
      const acked = new Set<string>()
      const checked = new Set<string>()
      let total = 0
      for (let r = 0; r < rounds; r++) {
        const t0 = performance.now()
        const result = await round(dir, spec, prng, r, sent)
        const t1 = performance.now()
        t.equal(result.signal, 'SIGKILL', `seed ${seed} round ${r}: killed after ${result.killAfterMs} ms`)
        for (const id of result.acked) acked.add(id)
        const stored =
          kind === 'sqlite'
            ? checkSqlite(t, store, sent, acked, checked)
            : checkMaildir(t, store, sent, acked, checked)
        t.ok(
          stored >= acked.size,
          `seed ${seed} round ${r}: ${result.acked.length} acknowledged, ${stored} stored in all`,
        )
        t.comment(`round ${(t1 - t0).toFixed(0)} ms, check ${(performance.now() - t1).toFixed(0)} ms`)
        total += result.acked.length
      }
      t.ok(total > rounds, `${total} messages acknowledged over ${rounds} kills`)
      if (kind === 'sqlite') {
        // qmqpd's own open drops the chunks of messages that never committed.
        const backend = await SqliteBackend.open(store)
        t.equal(
          backend.db
            .prepare('SELECT count(*) FROM bodies WHERE seq NOT IN (SELECT seq FROM messages)')
            .pluck()
            .get(),
          0,
        )
        t.equal(await backend.count(), checked.size)
        await backend.close()
      }
    },
  )
}

t.test(
  'a message sent as soon as qmqpd listens is stored, or refused',
  { skip: !built && 'run tsc -b first' },
  async t => {
    const dir = t.testdir()
    mkdirSync(join(dir, 'spool'))
    const store = join(dir, 'Maildir')
    const { child, port } = await startQmqpd(dir, `maildir:${store}`, true)
    const id = 'early@durability.test'
    const r = await sendOne(port, id, 100, ['to@x']).catch(() => null)
    child.kill('SIGKILL')
    await once(child, 'exit')
    const sent = new Map([[id, { size: 100, recipients: ['to@x'] }]])
    if (r?.verdict.code === 'K') checkMaildir(t, store, sent, new Set([id]), new Set())
    else t.pass(`refused: ${r?.verdict.text ?? 'no answer'}`)
  },
)

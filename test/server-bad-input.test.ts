import { readdirSync, readFileSync } from 'node:fs'
import net from 'node:net'
import path from 'node:path'
import t from 'tap'
import {
  fixtures,
  rawExchange,
  replyText,
  request,
  startDaemon,
  waitFor,
} from '../packages/server/test/lib/harness.js'

// Bad input never gets stored and never stops qmqpd from serving the next client.

const dir = path.join(fixtures, 'qmqp')
const cases = readdirSync(dir)
  .filter(f => f.endsWith('.json'))
  .map(f => ({
    name: f.replace(/\.json$/, ''),
    ...(JSON.parse(readFileSync(path.join(dir, f), 'utf8')) as {
      expect: string
      'qmail-qmqpd': { reply?: string | null }
    }),
  }))
const good = request('Subject: good\n\nx\n', 'a@example.com', ['b@example.com'])

t.test("every fixture gets qmail-qmqpd's answer; only the accepted ones are stored", async t => {
  const { memory, port } = await startDaemon(t)
  for (const c of cases) {
    const before = await memory.count()
    const r = await rawExchange(port, readFileSync(path.join(dir, `${c.name}.qmqp`)))
    if (c.expect === 'drop') {
      t.equal(r.reply, null, `${c.name}: closed without a reply`)
      t.equal(await memory.count(), before, `${c.name}: nothing stored`)
    } else if (c.expect === 'K') {
      t.match(replyText(r), /^Kok \d+ qp \d+$/, c.name)
      t.equal(await memory.count(), before + 1, `${c.name}: stored`)
    } else {
      t.equal(replyText(r), c['qmail-qmqpd'].reply, c.name)
      t.equal(await memory.count(), before, `${c.name}: nothing stored`)
    }
    t.match(replyText(await rawExchange(port, good)), /^K/, `${c.name}: the next client is served`)
  }
})

t.test('--compat postfix answers as Postfix qmqpd', async t => {
  const { memory, port } = await startDaemon(t, ['--compat', 'postfix'])
  const r = await rawExchange(port, readFileSync(path.join(dir, '13-missing-comma.qmqp')))
  t.match(replyText(r), /^Dnetstring format error while receiving /)
  const none = await rawExchange(port, readFileSync(path.join(dir, '07-no-recipients.qmqp')))
  t.equal(replyText(none), 'DError: no recipients specified')
  t.equal(await memory.count(), 0)
})

t.test('a slow client: idle timeout answers Z, others are served meanwhile, nothing stored', async t => {
  const { memory, port, lines } = await startDaemon(t, ['--idle-timeout', '300ms'])
  const slow = net.connect(port, '127.0.0.1')
  const chunks: Buffer[] = []
  slow.on('data', d => chunks.push(d))
  const closed = new Promise(r => slow.on('close', r))
  slow.write(good.subarray(0, 20))
  t.match(replyText(await rawExchange(port, good)), /^K/, 'served while the slow one waits')
  await closed
  t.equal(
    replyText({ reply: Buffer.concat(chunks), error: null }),
    'Ztimeout waiting for data from client (#4.4.2)',
  )
  t.equal(await memory.count(), 1)
  await waitFor(() => lines.find(l => l['event'] === 'connection' && l['reason'] === 'idle timeout'))
})

t.test("the total timeout drops a dribbling client (qmail's alarm), nothing stored", async t => {
  const { memory, port } = await startDaemon(t, ['--total-timeout', '400ms', '--idle-timeout', '1h'])
  const s = net.connect(port, '127.0.0.1')
  let got = 0
  s.on('data', d => (got += d.length))
  let i = 0
  const timer = setInterval(() => i < good.length - 1 && s.write(good.subarray(i, ++i)), 50)
  await new Promise(r => s.on('close', r))
  clearInterval(timer)
  t.equal(got, 0, 'no reply')
  t.equal(await memory.count(), 0)
  t.match(replyText(await rawExchange(port, good)), /^K/)
})

t.test('seeded garbage: a reply of K, Z or D or a close; then the next client is served', async t => {
  const seed = Number(process.env['QMQPKIT_SEED'] ?? 7)
  let s = seed
  const rnd = () => (s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32
  const { memory, port } = await startDaemon(t)
  const base = readFileSync(path.join(dir, '01-minimal.qmqp'))
  for (let n = 0; n < 40; n++) {
    const bytes = Buffer.from(base)
    for (let k = 0; k < 1 + Math.floor(rnd() * 4); k++)
      bytes[Math.floor(rnd() * bytes.length)] = Math.floor(rnd() * 256)
    const cut = rnd() < 0.3 ? bytes.subarray(0, Math.floor(rnd() * bytes.length)) : bytes
    const before = await memory.count()
    const r = await rawExchange(port, cut)
    const text = replyText(r)
    t.ok(text === null || /^[KZD]/.test(text), `seed ${seed} case ${n}: ${text}`)
    if (text === null || text[0] !== 'K')
      t.equal(await memory.count(), before, `seed ${seed} case ${n}: nothing stored`)
  }
  t.match(replyText(await rawExchange(port, good)), /^K/)
})

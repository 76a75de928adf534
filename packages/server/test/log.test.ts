import { readFileSync } from 'node:fs'
import path from 'node:path'
import { Writable } from 'node:stream'
import t from 'tap'
import { QmqpdLog } from '../src/log.js'

const sink = () => {
  const lines: string[] = []
  const stream = new Writable({
    write(c: Buffer, _e, done) {
      lines.push(...c.toString().split('\n').filter(Boolean))
      done()
    },
  })
  return { lines, stream }
}
const conn = {
  conn: 'c1',
  remote: '127.0.0.3:5',
  local: '127.0.0.1:628',
  rule: '127.0.0.3',
  decision: 'deny',
  verdict: 'deny',
  bytes: 0,
  ms: 1,
}
const msg = {
  conn: 'c1',
  id: '17',
  remote: '127.0.0.1:5',
  rule: null,
  sender: 'a@b',
  recipients: 2,
  bytes: 9,
  verdict: 'K',
  text: 'ok 1 qp 17',
  backend: 'memory:',
  ms: 3,
}

t.test('json lines: one per connection and per message', async t => {
  const { lines, stream } = sink()
  const log = new QmqpdLog({ format: 'json', level: 'info', file: null }, stream)
  log.connection(conn)
  log.message(msg)
  log.warn({ event: 'x' }, 'careful')
  t.match(JSON.parse(lines[0]!), { event: 'connection', verdict: 'deny', rule: '127.0.0.3', level: 30 })
  t.match(JSON.parse(lines[1]!), { event: 'message', id: '17', recipients: 2, backend: 'memory:' })
  t.match(JSON.parse(lines[2]!), { event: 'x', level: 40, msg: 'careful' })
})

t.test('qmail-style text lines, levels honoured', async t => {
  const { lines, stream } = sink()
  const log = new QmqpdLog({ format: 'qmail', level: 'warn', file: null }, stream)
  log.connection(conn)
  log.info({ event: 'quiet' }, 'not shown')
  log.error({ event: 'e', path: '/r' }, 'bad rules')
  t.same(lines, ['qmqpd: alert: bad rules event=e path=/r'])
  const all = sink()
  const verbose = new QmqpdLog({ format: 'qmail', level: 'info', file: null }, all.stream)
  verbose.connection(conn)
  verbose.connection({ ...conn, verdict: 'drop', decision: 'none', rule: null, reason: 'idle timeout' })
  verbose.message(msg)
  t.same(all.lines, [
    'qmqpd: deny c1 127.0.0.1:628 127.0.0.3:5 rule 127.0.0.3 deny 0 bytes 1 ms',
    'qmqpd: ok c1 127.0.0.1:628 127.0.0.3:5 rule - drop 0 bytes 1 ms (idle timeout)',
    'qmqpd: msg 17 conn c1 from <a@b> rcpt 2 bytes 9 Kok 1 qp 17 backend memory: 3 ms',
  ])
})

t.test('batched: connection and message lines wait, other events write them out at once', async t => {
  const file = path.join(t.testdir(), 'qmqpd.log')
  const log = new QmqpdLog({ format: 'json', level: 'info', file }, undefined, { batched: true })
  const lines = () =>
    readFileSync(file, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map(l => JSON.parse(l))
  log.connection(conn)
  log.message(msg)
  t.same(lines(), [], 'gathered, not yet written')
  log.warn({ event: 'rules-error' }, 'careful')
  t.match(lines(), [{ event: 'connection' }, { event: 'message' }, { event: 'rules-error' }], 'in order')
  log.message({ ...msg, id: '18' })
  log.flush()
  t.match(lines()[3], { event: 'message', id: '18' })
  log.message({ ...msg, id: '19' })
  // Without a flush, the batch goes out by itself shortly after.
  while (lines().length < 5) await new Promise(resolve => setTimeout(resolve, 5))
  t.match(lines()[4], { event: 'message', id: '19' })
  // Enough bytes go out without waiting.
  for (let i = 0; i < 200; i++) log.message({ ...msg, id: String(100 + i) })
  t.ok(lines().length > 5, 'a full batch is written at once')
  log.flush()
  t.equal(lines().length, 205)
})

t.test('batched: lines still waiting are written when the process exits', async t => {
  const file = path.join(t.testdir(), 'qmqpd.log')
  const { spawnSync } = await import('node:child_process')
  const logModule = new URL('../src/log.ts', import.meta.url).href
  const script = `
    import { QmqpdLog } from ${JSON.stringify(logModule)}
    const log = new QmqpdLog({ format: 'qmail', level: 'info', file: ${JSON.stringify(file)} }, undefined, { batched: true })
    log.message(${JSON.stringify(msg)})
    process.exit(3)
  `
  const r = spawnSync(process.execPath, [...process.execArgv, '--input-type=module', '-e', script], {
    encoding: 'utf8',
  })
  t.equal(r.status, 3, r.stderr)
  t.equal(
    readFileSync(file, 'utf8'),
    'qmqpd: msg 17 conn c1 from <a@b> rcpt 2 bytes 9 Kok 1 qp 17 backend memory: 3 ms\n',
  )
})

t.test('json: connection and message lines are the bytes pino writes for the same fields', async t => {
  const { pino } = await import('pino')
  const awkward = [
    'plain',
    'quote " and backslash \\',
    'controls \u0000\u0001\t\n\u001f',
    'latin1 \u00e9\u00ff',
    'del \u007f',
    'pair \ud83d\ude00',
    '',
  ]
  for (const text of awkward) {
    const ours = sink()
    const theirs = sink()
    const log = new QmqpdLog({ format: 'json', level: 'info', file: null }, ours.stream)
    const reference = pino({ level: 'info', base: { pid: process.pid } }, theirs.stream)
    const c = { ...conn, remote: text, rule: text === '' ? null : text, reason: text }
    const m = { ...msg, sender: text, text, backend: text === '' ? null : text }
    log.connection(c)
    const { reason: _reason, ...withoutReason } = c
    log.connection(withoutReason)
    log.message(m)
    reference.info({ event: 'connection', ...c }, 'connection')
    reference.info({ event: 'connection', ...withoutReason }, 'connection')
    reference.info({ event: 'message', ...m }, 'message')
    const untimed = (lines: string[]) => lines.map(l => l.replace(/"time":\d+/, '"time":0'))
    t.same(untimed(ours.lines), untimed(theirs.lines), JSON.stringify(text))
  }
  // Addresses are latin1 text of bytes, so a lone surrogate half cannot occur; should one come,
  // it is escaped as JSON.stringify does (pino would write U+FFFD), and the line still parses.
  const ours = sink()
  new QmqpdLog({ format: 'json', level: 'info', file: null }, ours.stream).message({
    ...msg,
    text: 'lone \ud800 half',
  })
  t.equal(JSON.parse(ours.lines[0]!).text, 'lone \ud800 half')
})

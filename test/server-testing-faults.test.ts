import t, { type Test } from 'tap'
import { send } from '@qmqpkit/qmqp'
import { startQmqpd, type QmqpdFixture } from '@qmqpkit/server/testing'
import { nullmailerMissing as missing, runNullmailer } from './lib/nullmailer.js'

// Every fault type, as our client (@qmqpkit/qmqp send) and nullmailer's qmqp module see it, and
// as qmqpd records it.

const mail = (subject: string, body = 'Hello.\n') =>
  `From: a@example.com\nTo: b@example.com\nSubject: ${subject}\n\n${body}`

async function server(t: Test): Promise<QmqpdFixture> {
  const srv = await startQmqpd({ api: false })
  t.teardown(() => srv.close())
  return srv
}

const ours = (srv: QmqpdFixture, subject: string, timeoutMs = 10_000, body?: string) =>
  send(
    { message: mail(subject, body), sender: 'a@example.com', recipients: [`${subject}@example.com`] },
    { servers: [srv.server], timeoutMs },
  ).then(
    r => ({ verdict: r.verdict, error: null }),
    (err: { code?: string; temporary?: boolean }) => ({ verdict: null, error: err }),
  )

const nullmailer = (t: Test, port: number, subject: string) =>
  runNullmailer(t.testdir(), port, `a@example.com\n${subject}@example.com\n\n${mail(subject)}`)

const record = async (srv: QmqpdFixture, subject: string) => {
  const [m] = await srv.messages({ subject })
  return m && { outcome: m.outcome, stored: m.stored, faults: m.faults }
}

t.test('reply Z / D: the given verdict, nothing stored', async t => {
  const srv = await server(t)
  srv.faults.add({ match: { to: 'zed@' }, action: { reply: 'Z', text: 'greylisted' } })
  srv.faults.add({ match: { to: 'dee@' }, action: { reply: 'D' } })
  t.same((await ours(srv, 'zed')).verdict, { code: 'Z', text: 'greylisted' })
  const d = await ours(srv, 'dee')
  t.equal(d.verdict?.code, 'D')
  t.match(d.verdict?.text, /fault rule/)
  t.same(await record(srv, 'zed'), { outcome: 'Z', stored: false, faults: ['reply:Z'] })
  t.same(await record(srv, 'dee'), { outcome: 'D', stored: false, faults: ['reply:D'] })
})

t.test(
  'delay: the reply comes late (a client with a shorter timeout gives up); the message is stored',
  async t => {
    const srv = await server(t)
    srv.faults.add({ match: { to: 'slow@' }, action: { delayMs: 1500 }, count: 1 })
    const r = await ours(srv, 'slow', 300)
    t.equal(r.error?.code, 'QMQP_ERR_TIMEOUT')
    t.same(await record(srv, 'slow'), { outcome: 'K', stored: true, faults: ['delay:1500'] })
  },
)

t.test('drop before the reply: the client sees no answer, nothing stored', async t => {
  const srv = await server(t)
  srv.faults.add({ action: { drop: 'before-reply' } })
  const r = await ours(srv, 'gone')
  t.equal(r.verdict, null)
  t.equal(r.error?.temporary, true)
  t.same(await record(srv, 'gone'), { outcome: 'drop', stored: false, faults: ['drop:before-reply'] })
})

t.test(
  'drop after store: the client sees a failure for a stored message (a retry duplicates it)',
  async t => {
    const srv = await server(t)
    srv.faults.add({ action: { drop: 'after-store' }, count: 1 })
    const first = await ours(srv, 'dup')
    t.equal(first.verdict, null)
    t.equal(first.error?.temporary, true)
    const retry = await ours(srv, 'dup')
    t.equal(retry.verdict?.code, 'K')
    const all = await srv.messages({ subject: 'dup' })
    t.same(
      all.map(m => [m.outcome, m.stored, m.faults]),
      [
        ['drop', true, ['drop:after-store']],
        ['K', true, []],
      ],
    )
  },
)

t.test('garbled replies: truncated and lying about their length', async t => {
  const srv = await server(t)
  srv.faults.add({ match: { to: 'cut@' }, action: { garble: true } })
  srv.faults.add({ match: { to: 'liar@' }, action: { garble: 'length' } })
  for (const [who, fault] of [
    ['cut', 'garble:truncate'],
    ['liar', 'garble:length'],
  ] as const) {
    const r = await ours(srv, who)
    t.equal(r.verdict, null, who)
    t.match(r.error?.code, /^QMQP_ERR/, who)
    t.same(await record(srv, who), { outcome: 'K', stored: true, faults: [fault] })
  }
})

t.test('slow read: the request is read no faster than the rate', async t => {
  const srv = await server(t)
  srv.faults.add({ match: { client: '127.0.0.1' }, action: { slowReadBps: 20_000 }, count: 1 })
  const body = 'x'.repeat(60) + '\n'
  const r = await ours(srv, 'trickle', 10_000, body.repeat(500))
  t.equal(r.verdict?.code, 'K')
  const [m] = await srv.messages({ subject: 'trickle' })
  t.same(m!.faults, ['slow-read:20000'])
  const d = await srv.message(m!.id)
  // A lower bound only: throttling cannot make reading faster than the rate allows.
  const readMs = d.transcript.requestDoneAt! - d.transcript.startedAt
  t.ok(readMs >= ((d.transcript.outerLength / 20_000) * 1000) / 2, `read took ${readMs} ms`)
  t.equal((await ours(srv, 'fast')).verdict?.code, 'K', 'the rule expired')
})

t.test('probabilistic rules repeat with their seed', async t => {
  const run = async () => {
    const srv = await startQmqpd({
      api: false,
      faults: [{ action: { reply: 'Z' }, probability: 0.5, seed: 2026 }],
    })
    try {
      const codes: string[] = []
      for (let i = 0; i < 16; i++) codes.push((await ours(srv, `p${i}`)).verdict!.code)
      return codes.join('')
    } finally {
      await srv.close()
    }
  }
  const first = await run()
  t.match(first, /K/)
  t.match(first, /Z/)
  t.equal(await run(), first)
})

t.test(
  'nullmailer sees every fault',
  { skip: missing && 'install nullmailer into /opt/nullmailer' },
  async t => {
    const srv = await server(t)
    srv.faults.add({ match: { to: 'zed@' }, action: { reply: 'Z' } })
    srv.faults.add({ match: { to: 'dee@' }, action: { reply: 'D' } })
    srv.faults.add({ match: { to: 'drop@' }, action: { drop: 'before-reply' } })
    srv.faults.add({ match: { to: 'dup@' }, action: { drop: 'after-store' } })
    srv.faults.add({ match: { to: 'cut@' }, action: { garble: true } })
    const ok = await nullmailer(t, srv.port, 'fine')
    t.equal(ok.code, 0, ok.out)
    const codes: Record<string, number> = {}
    for (const who of ['zed', 'dee', 'drop', 'dup', 'cut']) {
      const r = await nullmailer(t, srv.port, who)
      t.not(r.code, 0, `${who}: ${r.out}`)
      codes[who] = r.code
    }
    t.not(codes['zed'], codes['dee'], 'temporary and permanent failures differ')
    t.same(await record(srv, 'dup'), { outcome: 'drop', stored: true, faults: ['drop:after-store'] })
    t.same(await record(srv, 'drop'), { outcome: 'drop', stored: false, faults: ['drop:before-reply'] })
    t.same(await record(srv, 'cut'), { outcome: 'K', stored: true, faults: ['garble:truncate'] })
    t.same(await record(srv, 'fine'), { outcome: 'K', stored: true, faults: [] })
  },
)

import t from 'tap'
import { send } from '@qmqpkit/qmqp'
import { WaitTimeoutError } from '../src/api/errors.js'
import { startQmqpd } from '../src/fixture.js'
import { rawExchange, replyText, request } from './lib/harness.js'

const mail = (subject: string, extra = '') =>
  `From: a@example.com\nTo: b@example.com\nSubject: ${subject}\n${extra}\nHello.\n`

t.test('send, then wait: the message is there, with its envelope and outcome', async t => {
  const srv = await startQmqpd()
  t.teardown(() => srv.close())
  t.match(srv.apiUrl, /^http:\/\/127\.0\.0\.1:\d+$/)
  const result = await send(
    { message: mail('Welcome'), sender: 'a@example.com', recipients: ['b@example.com', 'c@example.com'] },
    { servers: [srv.server] },
  )
  t.equal(result.verdict.code, 'K')
  const [m] = await srv.waitFor({ subject: 'welcome' })
  t.equal(m!.sender, 'a@example.com')
  t.same(m!.recipients, ['b@example.com', 'c@example.com'])
  t.equal(m!.outcome, 'K')
  t.equal(m!.namespace, null)
  t.match(result.verdict.text, m!.id)
  const detail = await srv.message(m!.id)
  t.equal(detail.connection.remoteIp, '127.0.0.1')
  t.ok(detail.connection.env.some(e => e.name === 'TCPREMOTEIP' && e.value === '127.0.0.1'))
  t.ok(
    detail.headers.delivered!.some(([n]) => n === 'Received'),
    'delivered copy has the Received line',
  )
  t.match((await srv.raw(m!.id)).toString(), /^From: a@example\.com\nTo: b/)
  t.same(await srv.messages({ to: 'nobody' }), [])
  await t.rejects(srv.message('nope'))
})

t.test('waitFor after a cursor sees only later messages; a timeout rejects with what was found', async t => {
  const srv = await startQmqpd({ api: false })
  t.teardown(() => srv.close())
  t.equal(srv.apiUrl, null)
  await send({ message: mail('old'), sender: 's@x', recipients: ['r@x'] }, { servers: [srv.server] })
  const cursor = srv.cursor()
  const waiting = srv.waitFor({ to: 'r@x' }, { after: cursor, count: 2, timeoutMs: 10_000 })
  for (const s of ['new 1', 'new 2'])
    await send({ message: mail(s), sender: 's@x', recipients: ['r@x'] }, { servers: [srv.server] })
  t.same(
    (await waiting).map(m => m.subject),
    ['new 1', 'new 2'],
  )
  const err = await srv.waitFor({ subject: 'never' }, { timeoutMs: 30 }).catch((e: unknown) => e)
  t.ok(err instanceof WaitTimeoutError)
  t.equal((err as WaitTimeoutError).code, 'QMQPD_ERR_WAIT_TIMEOUT')
})

t.test('namespaces from the rule variable, from recipient tags; reset by namespace', async t => {
  const srv = await startQmqpd({
    rules:
      '127.0.0.5:allow,QMQPD_NAMESPACE="blue"\n127.0.0.6:allow,QMQPD_NAMESPACE="red"\n127.0.0.1:allow\n:deny\n',
    namespaceFrom: 'recipient-tag',
  })
  t.teardown(() => srv.close())
  const blue = await rawExchange(srv.port, request(mail('to blue'), 's@x', ['r@x']), {
    localAddress: '127.0.0.5',
  })
  t.match(replyText(blue), /^K/)
  const red = await rawExchange(srv.port, request(mail('to red'), 's@x', ['r+blue@x']), {
    localAddress: '127.0.0.6',
  })
  t.match(replyText(red), /^K/)
  await send({ message: mail('tagged'), sender: 's@x', recipients: ['r+green@x'] }, { servers: [srv.server] })
  await send({ message: mail('plain'), sender: 's@x', recipients: ['r@x'] }, { servers: [srv.server] })
  t.same(
    (await srv.messages({ namespace: 'blue' })).map(m => m.subject),
    ['to blue'],
  )
  t.same(
    (await srv.messages({ namespace: 'red' })).map(m => m.subject),
    ['to red'],
    'the rule wins over a tag',
  )
  t.same(
    (await srv.messages({ namespace: 'green' })).map(m => m.subject),
    ['tagged'],
  )
  t.same(
    (await srv.messages({ namespace: null })).map(m => m.subject),
    ['plain'],
  )
  t.equal((await srv.messages({ rule: '127.0.0.5' })).length, 1)
  srv.faults.add({ match: { namespace: 'blue' }, action: { reply: 'Z' } })
  srv.faults.add({ match: { namespace: 'red' }, action: { reply: 'Z' } })
  const r = await srv.reset('blue')
  t.equal(r.removed, 1)
  t.equal(r.cursor, srv.cursor())
  t.same(
    srv.faults.list().map(f => f.match.namespace),
    ['red'],
  )
  t.equal((await srv.messages()).length, 3)
  await srv.reset()
  t.equal((await srv.messages()).length, 0)
  t.equal(srv.faults.list().length, 0)
})

t.test('faults from the fixture options, over a sqlite backend; a second close is harmless', async t => {
  const dir = t.testdir()
  const srv = await startQmqpd({
    backend: `sqlite:${dir}/q.sqlite`,
    faults: [{ match: { to: 'fail@' }, action: { reply: 'D', text: 'no such user' }, count: 1 }],
  })
  const refused = await send(
    { message: mail('x'), sender: 's@x', recipients: ['fail@x'] },
    { servers: [srv.server] },
  )
  t.same(refused.verdict, { code: 'D', text: 'no such user' })
  const again = await send(
    { message: mail('y'), sender: 's@x', recipients: ['fail@x'] },
    { servers: [srv.server] },
  )
  t.equal(again.verdict.code, 'K', 'the rule expired after one match')
  const all = await srv.messages()
  t.same(
    all.map(m => [m.outcome, m.stored, m.faults]),
    [
      ['D', false, ['reply:D']],
      ['K', true, []],
    ],
  )
  await srv.close()
  await srv.close()
  // A restart over the same database finds what was stored.
  const again2 = await startQmqpd({ backend: `sqlite:${dir}/q.sqlite` })
  t.teardown(() => again2.close())
  t.same(
    (await again2.messages()).map(m => m.subject),
    ['y'],
  )
})

t.test('retention: the oldest messages go, from the catalog and from the store', async t => {
  const srv = await startQmqpd({ retention: { maxMessages: 2 } })
  t.teardown(() => srv.close())
  for (const s of ['one', 'two', 'three']) {
    await send({ message: mail(s), sender: 's@x', recipients: ['r@x'] }, { servers: [srv.server] })
    // Distinct receive times: the store is trimmed by time.
    await new Promise(r => setTimeout(r, 3))
  }
  t.same(
    (await srv.messages()).map(m => m.subject),
    ['two', 'three'],
  )
  const store = srv.inspection.store!
  while ((await store.count()) > 2) await new Promise(r => setImmediate(r))
  t.equal(await store.count(), 2)
})

t.test('messages GreenArrow refuses are listed with their verdict, not stored', async t => {
  const srv = await startQmqpd({
    rules: '127.0.0.1:allow,GREENARROW_SIMPLEMH="",QMQPD_NAMESPACE="ga"\n',
    args: ['--mail-classes', 'news', '--unknown-mailclass', 'D'],
  })
  t.teardown(() => srv.close())
  const r = await send(
    { message: mail('promo', 'X-GreenArrow-MailClass: promo\n'), sender: 's@x', recipients: ['r@x'] },
    { servers: [srv.server] },
  )
  t.equal(r.verdict.code, 'D')
  const [m] = await srv.waitFor({ verdict: 'D', namespace: 'ga' })
  t.match(m, { subject: 'promo', stored: false, mailClass: 'promo', faults: [] })
  await t.rejects(srv.raw(m!.id), /not kept/)
})

t.test('close ends a pending waitFor and an open event stream', async t => {
  const srv = await startQmqpd()
  const waiting = srv.waitFor({ subject: 'never' }, { timeoutMs: 60_000 }).catch((e: Error) => e.name)
  const events = await fetch(`${srv.apiUrl}/api/v1/events`)
  const reader = events.body!.getReader()
  await reader.read()
  await srv.close()
  t.equal(await waiting, 'WaitTimeoutError')
  const rest = await reader.read().catch(() => ({ done: true }))
  t.ok(rest.done, 'the stream ended')
})

t.test('retention by age removes old messages even when nothing else happens', async t => {
  const srv = await startQmqpd({ retention: { maxAgeMs: 150 } })
  t.teardown(() => srv.close())
  await send({ message: mail('short-lived'), sender: 's@x', recipients: ['r@x'] }, { servers: [srv.server] })
  const store = srv.inspection.store!
  t.equal(await store.count(), 1)
  // The sweeper removes it from the store without a query or a new message.
  while ((await store.count()) > 0) await new Promise(r => setTimeout(r, 20))
  t.equal(srv.inspection.catalog.size, 0)
})

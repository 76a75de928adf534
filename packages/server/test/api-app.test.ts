import t from 'tap'
import http from 'node:http'
import { send } from '@qmqpkit/qmqp'
import { buildApi, parseTimeoutMs } from '../src/api/app.js'
import { Inspection } from '../src/api/inspection.js'
import { startQmqpd, type QmqpdFixture } from '../src/fixture.js'

const mail = (subject: string, headers = '', body = 'Hello.\n') =>
  `From: a@example.com\nTo: b@example.com\nSubject: ${subject}\n${headers}\n${body}`

async function deliver(srv: QmqpdFixture, subject: string, recipients = ['b@example.com'], headers = '') {
  return send(
    { message: mail(subject, headers), sender: 'a@example.com', recipients },
    { servers: [srv.server] },
  )
}

t.test('list, search and page', async t => {
  const srv = await startQmqpd({
    rules: '127.0.0.1:allow,GREENARROW_SIMPLEMH=""\n',
    args: ['--mailclass-default', 'transactional'],
  })
  t.teardown(() => srv.close())
  const app = buildApi(srv.inspection)
  t.teardown(() => app.close())
  for (let i = 0; i < 5; i++)
    await deliver(srv, `item ${i}`, [`user${i}@example.com`], `X-Batch: b${i % 2}\n`)
  await deliver(srv, 'news', ['x@example.com'], 'X-GreenArrow-MailClass: newsletter\n')

  const list = async (qs: string) => (await app.inject(`/api/v1/messages?${qs}`)).json()
  t.equal((await list('')).messages.length, 6)
  t.same(
    (await list('to=USER3')).messages.map((m: { subject: string }) => m.subject),
    ['item 3'],
  )
  t.same(
    (await list('header=x-batch:B1')).messages.map((m: { subject: string }) => m.subject),
    ['item 1', 'item 3'],
  )
  t.same(
    (await list('mailclass=newsletter')).messages.map((m: { subject: string }) => m.subject),
    ['news'],
  )
  t.equal((await list('mailclass=transactional')).total, 5)
  t.equal((await list('client=127.0.0.1&verdict=K&from=a@')).total, 6)
  t.equal((await list(`since=${Date.now() + 60_000}`)).total, 0)

  const seen: string[] = []
  let cursor: string | null = ''
  while (cursor !== null) {
    const page: { messages: Array<{ subject: string }>; nextCursor: string | null } = await list(
      `limit=4&cursor=${cursor}`,
    )
    seen.push(...page.messages.map(m => m.subject))
    cursor = page.nextCursor
  }
  t.same(seen, ['item 0', 'item 1', 'item 2', 'item 3', 'item 4', 'news'])
  t.equal((await list('order=desc&limit=1')).messages[0].subject, 'news')

  const bad = await app.inject('/api/v1/messages?verdict=Q')
  t.equal(bad.statusCode, 400)
  t.equal(bad.json().error.code, 'QMQPD_ERR_QUERY')
  t.equal((await app.inject('/api/v1/messages?order=sideways')).statusCode, 400)
  t.equal((await app.inject('/api/v1/messages?limit=0')).statusCode, 400)
  t.equal((await app.inject('/api/v1/messages?cursor=abc')).statusCode, 400)
  t.equal((await app.inject('/api/v1/nothing')).json().error.code, 'QMQPD_ERR_NOT_FOUND')
})

t.test(
  'one message: envelope, connection, environment, rule, metadata, headers, transcript, bodies',
  async t => {
    const srv = await startQmqpd({
      rules: '127.0.0.1:allow,GREENARROW_MAILCLASS="bulk",QMQPD_NAMESPACE="n1"\n',
    })
    t.teardown(() => srv.close())
    const app = buildApi(srv.inspection)
    t.teardown(() => app.close())
    const html = '<p>Hi <script>alert(1)</script><img src="http://example.com/x.png"></p>'
    const body = [
      'MIME-Version: 1.0',
      'Content-Type: multipart/alternative; boundary="BB"',
      '',
      '--BB',
      'Content-Type: text/plain; charset=utf-8',
      'Content-Transfer-Encoding: quoted-printable',
      '',
      'Gr=C3=BC=C3=9Fe',
      '--BB',
      'Content-Type: text/html; charset=utf-8',
      'Content-Transfer-Encoding: base64',
      '',
      Buffer.from(html).toString('base64'),
      '--BB--',
      '',
    ].join('\n')
    await send(
      { message: `Subject: =?utf-8?Q?Caf=C3=A9?=\n${body}`, sender: 'a@x', recipients: ['b@x'] },
      { servers: [srv.server] },
    )
    const [m] = await srv.waitFor({ namespace: 'n1' })
    const res = await app.inject(`/api/v1/messages/${m!.id}`)
    t.equal(res.statusCode, 200)
    const d = res.json()
    t.equal(d.subject, 'Café')
    t.equal(d.rule, '127.0.0.1')
    t.equal(d.namespace, 'n1')
    t.equal(d.metadata.mailClass, 'bulk')
    t.same(
      d.connection.env.find((e: { name: string }) => e.name === 'QMQPD_NAMESPACE'),
      { name: 'QMQPD_NAMESPACE', value: 'n1' },
    )
    t.equal(d.transcript.messageLength, d.size)
    t.same(d.transcript.recipientLengths, [3])
    t.equal(d.transcript.reply, `${d.verdict.code}${d.verdict.text}`)
    t.ok(d.headers.received.some(([n]: [string]) => n === 'Content-Type'))
    t.ok(d.headers.delivered[0][0] === 'Received')

    const raw = await app.inject(`/api/v1/messages/${m!.id}/raw`)
    t.equal(raw.headers['content-type'], 'message/rfc822')
    t.equal(raw.body.length, d.size)
    const delivered = await app.inject(`/api/v1/messages/${m!.id}/raw?part=delivered`)
    t.match(delivered.body, /^Received: /)
    t.equal((await app.inject(`/api/v1/messages/${m!.id}/raw?part=other`)).statusCode, 400)

    const parts = (await app.inject(`/api/v1/messages/${m!.id}/parts`)).json().parts
    t.same(
      parts.map((p: { contentType: string; text: string }) => [p.contentType, p.text.trim()]),
      [
        ['text/plain', 'Grüße'],
        ['text/html', html],
      ],
    )
    const page = await app.inject(`/api/v1/messages/${m!.id}/html`)
    t.equal(page.body, html)
    t.match(page.headers['content-security-policy'], /^sandbox; default-src 'none'/)
    t.equal((await app.inject('/api/v1/messages/404')).statusCode, 404)
  },
)

t.test('wait: 200 as soon as enough arrive, 408 at the timeout, no race with stored messages', async t => {
  const srv = await startQmqpd()
  t.teardown(() => srv.close())
  const app = buildApi(srv.inspection)
  t.teardown(() => app.close())
  await deliver(srv, 'first')
  const already = await app.inject('/api/v1/wait?subject=first&timeout=1')
  t.equal(already.statusCode, 200)
  const cursor = already.json().cursor
  const pending = app.inject(`/api/v1/wait?to=b@example.com&after=${cursor}&count=2&timeout=20`)
  await deliver(srv, 'second')
  await deliver(srv, 'third')
  const got = await pending
  t.equal(got.statusCode, 200)
  t.same(
    got.json().messages.map((m: { subject: string }) => m.subject),
    ['second', 'third'],
  )
  const timeout = await app.inject(`/api/v1/wait?subject=third&after=${got.json().cursor}&timeout=50ms`)
  t.equal(timeout.statusCode, 408)
  t.equal(timeout.json().error.code, 'QMQPD_ERR_WAIT_TIMEOUT')
  t.same(timeout.json().messages, [])
  t.equal((await app.inject('/api/v1/wait?timeout=1h')).statusCode, 400)
  t.equal(parseTimeoutMs('2.5'), 2500)
  t.equal(parseTimeoutMs('1m'), 60_000)
  t.equal(parseTimeoutMs(undefined), 30_000)
})

t.test('reset, faults, namespaces over HTTP', async t => {
  const srv = await startQmqpd({ namespaceFrom: 'header:X-Test-Namespace' })
  t.teardown(() => srv.close())
  const app = buildApi(srv.inspection)
  t.teardown(() => app.close())
  await deliver(srv, 'a', ['b@x'], 'X-Test-Namespace: t1\n')
  await deliver(srv, 'b', ['b@x'], 'X-Test-Namespace: t2\n')
  await deliver(srv, 'c')

  const added = await app.inject({
    method: 'POST',
    url: '/api/v1/faults',
    payload: { match: { namespace: 't1' }, action: { reply: 'Z' }, count: 3 },
  })
  t.equal(added.statusCode, 201)
  const rule = added.json()
  t.match(rule, { id: /^f\d+$/, remaining: 3, hits: 0 })
  const invalid = await app.inject({
    method: 'POST',
    url: '/api/v1/faults',
    payload: { action: { reply: 'K' } },
  })
  t.equal(invalid.statusCode, 400)
  t.equal(invalid.json().error.code, 'QMQPD_ERR_FAULT_RULE')
  t.equal((await app.inject({ method: 'POST', url: '/api/v1/faults', payload: 'nope' })).statusCode, 415)
  const notObject = await app.inject({ method: 'POST', url: '/api/v1/faults', payload: [1] })
  t.equal(notObject.json().error.code, 'QMQPD_ERR_FAULT_RULE')
  t.equal((await app.inject('/api/v1/faults?namespace=t1')).json().faults.length, 1)
  t.equal((await app.inject('/api/v1/faults?namespace=t2')).json().faults.length, 0)

  const refused = await deliver(srv, 'd', ['b@x'], 'X-Test-Namespace: t1\n')
  t.equal(refused.verdict.code, 'Z')
  t.equal((await app.inject('/api/v1/faults')).json().faults[0].hits, 1)

  const ns = (await app.inject('/api/v1/namespaces')).json().namespaces
  t.same(ns, [
    { namespace: null, messages: 1, faults: 0 },
    { namespace: 't1', messages: 2, faults: 1 },
    { namespace: 't2', messages: 1, faults: 0 },
  ])

  const reset = await app.inject({ method: 'POST', url: '/api/v1/reset?namespace=t1' })
  t.same(reset.json(), { cursor: srv.cursor(), removed: 2, faultsRemoved: 1 })
  t.equal((await app.inject('/api/v1/messages')).json().total, 2)
  const rule2 = (
    await app.inject({ method: 'POST', url: '/api/v1/faults', payload: { action: { delayMs: 1 } } })
  ).json()
  t.equal((await app.inject({ method: 'DELETE', url: `/api/v1/faults/${rule2.id}` })).statusCode, 204)
  t.equal((await app.inject({ method: 'DELETE', url: `/api/v1/faults/${rule2.id}` })).statusCode, 404)
  const all = await app.inject({ method: 'POST', url: '/api/v1/reset' })
  t.equal(all.json().removed, 2)
  t.equal((await app.inject('/api/v1/messages')).json().total, 0)
})

t.test('health, readiness, metrics, OpenAPI, token', async t => {
  const inspection = new Inspection()
  const cold = buildApi(inspection)
  t.equal((await cold.inject('/readyz')).statusCode, 503, 'not ready before the port and backend')
  t.equal((await cold.inject('/livez')).statusCode, 200)
  await cold.close()

  const srv = await startQmqpd({ rules: '127.0.0.1:allow,GREENARROW_MAILCLASS="promo"\n' })
  t.teardown(() => srv.close())
  const app = buildApi(srv.inspection, { token: 's3cret' })
  t.teardown(() => app.close())
  t.equal((await app.inject('/readyz')).statusCode, 200)
  await deliver(srv, 'counted')
  srv.faults.add({ action: { reply: 'D' }, count: 1 })
  await deliver(srv, 'refused')
  t.equal((await app.inject('/metrics')).statusCode, 401)
  t.equal((await app.inject('/api/v1/messages')).statusCode, 401)
  t.equal(
    (await app.inject({ url: '/api/v1/messages', headers: { authorization: 'Bearer wrong' } })).statusCode,
    401,
  )
  t.equal((await app.inject('/api/v1/messages?access_token=s3cret')).statusCode, 200)
  const metrics = await app.inject({ url: '/metrics', headers: { authorization: 'Bearer s3cret' } })
  t.match(metrics.headers['content-type'], /^text\/plain; version=0\.0\.4/)
  const text = metrics.body
  t.match(text, /^qmqpd_messages_total 2$/m)
  t.match(text, /^qmqpd_messages_total\{verdict="K"\} 1$/m)
  t.match(text, /^qmqpd_messages_total\{verdict="D"\} 1$/m)
  t.match(text, /^qmqpd_connections_total 2$/m)
  t.match(text, /^qmqpd_connections_total\{decision="allow"\} 2$/m)
  t.match(text, /^qmqpd_rule_messages_total\{rule="127\.0\.0\.1"\} 2$/m)
  t.match(text, /^qmqpd_mailclass_messages_total\{mailclass="promo"\} 2$/m)
  t.match(text, /^qmqpd_backend_commit_seconds_count 1$/m)
  t.match(text, /^qmqpd_faults_applied_total\{kind="reply"\} 1$/m)
  const doc = (await app.inject('/api/v1/openapi.json?access_token=s3cret')).json()
  t.equal(doc.openapi, '3.1.0')
  for (const p of ['/api/v1/messages', '/api/v1/wait', '/api/v1/reset', '/api/v1/faults', '/api/v1/events'])
    t.ok(doc.paths[p], p)
})

t.test('Server-Sent Events over a real socket', async t => {
  const srv = await startQmqpd()
  t.teardown(() => srv.close())
  const events: string[] = []
  const done = new Promise<void>((resolve, reject) => {
    const req = http.get(`${srv.apiUrl}/api/v1/events?namespace=`, res => {
      t.match(res.headers['content-type'], /^text\/event-stream/)
      res.setEncoding('utf8')
      let buf = ''
      res.on('data', (chunk: string) => {
        buf += chunk
        let end
        while ((end = buf.indexOf('\n\n')) >= 0) {
          const frame = buf.slice(0, end)
          buf = buf.slice(end + 2)
          const type = /^event: (.*)$/m.exec(frame)?.[1]
          if (type) events.push(type)
          if (type === 'hello') void deliver(srv, 'live')
          if (type === 'message') {
            t.match(JSON.parse(/^data: (.*)$/m.exec(frame)![1]!), {
              type: 'message',
              message: { subject: 'live' },
            })
            req.destroy()
            resolve()
          }
        }
      })
    })
    req.on('error', reject)
  })
  await done
  t.same(events.slice(0, 2), ['hello', 'message'])
})

t.test('a client that gives up on a wait leaves no waiter behind', async t => {
  const srv = await startQmqpd()
  t.teardown(() => srv.close())
  const ac = new AbortController()
  const pending = fetch(`${srv.apiUrl}/api/v1/wait?subject=never&timeout=60`, { signal: ac.signal }).catch(
    (err: Error) => err.name,
  )
  while (srv.inspection.catalog.waiting === 0) await new Promise(r => setTimeout(r, 5))
  ac.abort()
  t.equal(await pending, 'AbortError')
  while (srv.inspection.catalog.waiting > 0) await new Promise(r => setTimeout(r, 5))
  t.equal(srv.inspection.catalog.waiting, 0)
})

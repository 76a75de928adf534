import t from 'tap'
import { existsSync } from 'node:fs'
import { send } from '@qmqpkit/qmqp'
import { loadQmqpFixtures } from './lib/qmqp-fixtures.js'
import { start, postfixUnavailable } from './lib/postfix-instance.js'

// Our client against Postfix's qmqpd, in a private instance on a loopback port.
const why = postfixUnavailable()
if (why && process.env.CI)
  throw new Error(`Postfix qmqpd not usable: ${why} (CI installs Debian postfix and runs as root)`)

const message = [
  'From: Sender <sender@example.com>',
  'To: rcpt@example.net',
  'Subject: through Postfix qmqpd',
  'Date: Thu, 01 Jan 2026 00:00:00 +0000',
  'Message-ID: <postfix-interop@example.com>',
  '',
  'Hello over QMQP, with 8 bits: d\u00e9j\u00e0 vu.',
  '',
].join('\n')

t.test('our client delivers into Postfix qmqpd', { skip: why ?? false }, async t => {
  const pf = await start({ authorizedClients: ['127.0.0.0/8'] })
  t.teardown(() => pf.stop())
  const r = await send(
    { message, sender: 'sender@example.com', recipients: ['rcpt@example.net', 'second@example.org'] },
    { servers: [`127.0.0.1:${pf.port}`] },
  )
  t.equal(r.verdict.code, 'K')
  t.match(r.verdict.text, /^Ok: queued as [0-9A-F]+$/)
  const queued = await pf.queuedMessages()
  t.equal(queued.length, 1)
  const q = queued[0]!
  t.equal(q.queueId, r.verdict.text.split(' ').pop())
  t.equal(q.queueName, 'hold', 'held, never delivered')
  t.equal(q.sender, 'sender@example.com')
  t.same(q.recipients, ['rcpt@example.net', 'second@example.org'])
  // Postfix puts its Received line (three lines) first; the rest is our message.
  t.equal(q.content.split('\n').slice(3).join('\n'), message)

  const fixtures = loadQmqpFixtures()
  const verp = fixtures.find(f => f.name.startsWith('05'))!
  const v = await send(
    { message: 'Subject: verp\n\nx\n', sender: verp.envelope!.sender, recipients: verp.envelope!.recipients },
    { servers: [`127.0.0.1:${pf.port}`] },
  )
  t.equal(v.verdict.code, 'K')
  const after = await pf.queuedMessages()
  t.equal(
    after.find(m => m.queueId === v.verdict.text.split(' ').pop())?.sender,
    'bounce-t100-20111229@bounces.example.com',
    'Postfix rewrites the VERP sender',
  )

  const none = await send(
    { message, sender: 'sender@example.com', recipients: [] },
    { servers: [`127.0.0.1:${pf.port}`] },
  )
  t.same(none.verdict, { code: 'D', text: 'Error: no recipients specified' })
})

t.test('a client Postfix does not authorize gets its error', { skip: why ?? false }, async t => {
  const pf = await start({ authorizedClients: ['192.0.2.1'] })
  t.teardown(() => pf.stop())
  const r = await send(
    { message, sender: 'sender@example.com', recipients: ['rcpt@example.net'] },
    { servers: [`127.0.0.1:${pf.port}`] },
  )
  t.equal(r.verdict.code, 'D')
  t.match(r.verdict.text, /^Error: \S+\[127\.0\.0\.1\] is not authorized to use this service$/)
  t.same(await pf.queuedMessages(), [])
  await pf.stop()
  t.notOk(existsSync(pf.configDir) || existsSync(pf.queueDir), 'stopped and removed')
})

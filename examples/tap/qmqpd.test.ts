// qmqpd as a test server under tap: one server for the file, a namespace per test.
import t from 'tap'
import { send } from '@qmqpkit/qmqp'
import { startQmqpd } from '@qmqpkit/server/testing'

// Stand-in for the code under test: something that sends mail over QMQP.
async function sendWelcome(server: string, to: string) {
  const message = `From: shop@example.com\nTo: ${to}\nSubject: Welcome, ${to}\n\nThanks for joining.\n`
  return send({ message, sender: 'shop@example.com', recipients: [to] }, { servers: [server] })
}

const srv = await startQmqpd({ namespaceFrom: 'recipient-tag' })
t.teardown(() => srv.close())

t.test('sends a welcome mail', async t => {
  await sendWelcome(srv.server, 'ann+welcome@example.com')
  const [mail] = await srv.waitFor({ namespace: 'welcome' })
  t.equal(mail!.subject, 'Welcome, ann+welcome@example.com')
  t.equal(mail!.sender, 'shop@example.com')
})

t.test('retries when the server says try later', async t => {
  srv.faults.add({ match: { namespace: 'retry' }, action: { reply: 'Z' }, count: 1 })
  const first = await sendWelcome(srv.server, 'bob+retry@example.com')
  t.equal(first.verdict.code, 'Z')
  const second = await sendWelcome(srv.server, 'bob+retry@example.com')
  t.equal(second.verdict.code, 'K')
  const all = await srv.messages({ namespace: 'retry' })
  t.same(
    all.map(m => m.outcome),
    ['Z', 'K'],
  )
})

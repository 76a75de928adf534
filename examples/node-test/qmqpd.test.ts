// qmqpd as a test server under node:test (node --test, Node 20+).
import { after, before, beforeEach, test } from 'node:test'
import assert from 'node:assert/strict'
import { send } from '@qmqpkit/qmqp'
import { startQmqpd, type QmqpdFixture } from '@qmqpkit/server/testing'

let srv: QmqpdFixture
before(async () => {
  srv = await startQmqpd()
})
after(() => srv.close())
// A clean slate per test: messages and fault rules go, the cursor is fresh.
beforeEach(() => srv.reset())

test('the mail arrives with the right recipients', async () => {
  await send(
    {
      message: 'Subject: Report\n\nAttached.\n',
      sender: 'reports@example.com',
      recipients: ['boss@example.com'],
    },
    { servers: [srv.server] },
  )
  const [mail] = await srv.waitFor({ to: 'boss@' })
  assert.deepEqual(mail!.recipients, ['boss@example.com'])
  assert.equal(mail!.subject, 'Report')
})

test('a client sees the dropped connection as a temporary failure', async () => {
  srv.faults.add({ action: { drop: 'before-reply' } })
  await assert.rejects(
    send(
      { message: 'Subject: x\n\n', sender: 'a@example.com', recipients: ['b@example.com'] },
      { servers: [srv.server] },
    ),
    (err: { temporary?: boolean }) => err.temporary === true,
  )
  assert.deepEqual(
    (await srv.messages()).map(m => m.outcome),
    ['drop'],
  )
})

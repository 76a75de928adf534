// qmqpd as a test server under vitest. Save as qmqpd.test.ts in a project that has vitest
// (`npm i -D vitest`); this repository does not install vitest, so this file is not run here.
import { afterAll, beforeAll, beforeEach, expect, test } from 'vitest'
import { send } from '@qmqpkit/qmqp'
import { startQmqpd, type QmqpdFixture } from '@qmqpkit/server/testing'

let srv: QmqpdFixture
beforeAll(async () => {
  srv = await startQmqpd()
})
afterAll(() => srv.close())
beforeEach(async () => {
  await srv.reset()
})

test('password reset mail', async () => {
  await send(
    {
      message: 'Subject: Reset your password\n\nhttps://example.com/r/123\n',
      sender: 'auth@example.com',
      recipients: ['eve@example.com'],
    },
    { servers: [srv.server] },
  )
  const [mail] = await srv.waitFor({ to: 'eve@', subject: 'password' })
  expect(mail!.outcome).toBe('K')
  const raw = await srv.raw(mail!.id)
  expect(raw.toString()).toContain('https://example.com/r/123')
})

test('bounce handling on a permanent failure', async () => {
  srv.faults.add({ match: { to: 'nobody@' }, action: { reply: 'D', text: 'no such user' } })
  const r = await send(
    { message: 'Subject: hi\n\n', sender: 'a@example.com', recipients: ['nobody@example.com'] },
    { servers: [srv.server] },
  )
  expect(r.verdict).toEqual({ code: 'D', text: 'no such user' })
})

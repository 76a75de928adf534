import t, { type Test } from 'tap'
import { sendPrepared } from '../src/send-prepared.js'
import { hangUpServer, recordingServer, refusedPort } from './lib/recording-server.js'

const prepared = {
  message: Buffer.from('From: a@example.com\nSubject: s\n\nbody\n'),
  sender: Buffer.from('a@example.com'),
  recipients: [Buffer.from('b@example.com')],
}
const env = new Map<string, Buffer>()
const homeWith = (t: Test, servers: string) => t.testdir({ control: { qmqpservers: servers } })

t.test('K is exit 0 with nothing printed', async t => {
  const srv = await recordingServer()
  t.teardown(srv.close)
  t.same(await sendPrepared(prepared, env, { home: homeWith(t, `127.0.0.1:${srv.port}\n`) }), { exitCode: 0 })
  t.same(
    srv.received,
    [prepared].map(({ message, sender, recipients }) => ({ message, sender, recipients })),
  )
})

t.test('the home comes from QMQPKIT_CLIENT_HOME; no recipients is still sent', async t => {
  const srv = await recordingServer()
  t.teardown(srv.close)
  const home = homeWith(t, `127.0.0.1:${srv.port}\n`)
  const result = await sendPrepared(
    { ...prepared, recipients: [] },
    new Map([['QMQPKIT_CLIENT_HOME', Buffer.from(home)]]),
  )
  t.same(result, { exitCode: 0 })
  t.same(srv.received[0]?.recipients, [])
})

t.test('each failure gets qmail-inject exit code and text', async t => {
  const z = await recordingServer({ code: 'Z', text: 'later' })
  t.teardown(z.close)
  const d = await recordingServer({ code: 'D', text: 'never' })
  t.teardown(d.close)
  const rude = await hangUpServer()
  t.teardown(rude.close)
  const refused = await refusedPort()
  const cases: Array<[string, number, string]> = [
    [`127.0.0.1:${d.port}`, 100, 'mail server permanently rejected message (#5.3.0)'],
    [`127.0.0.1:${z.port}`, 111, 'mail server temporarily rejected message (#4.3.0)'],
    [`127.0.0.1:${refused}\n127.0.0.1:${refused}`, 111, 'connection to mail server rejected (#4.4.1)'],
    [`127.0.0.1:${rude.port}`, 111, 'communication with mail server failed (#4.4.2)'],
    ['# nothing yet\n', 111, 'qq unable to read configuration (#4.3.0)'],
  ]
  for (const [servers, exitCode, text] of cases) {
    t.same(
      await sendPrepared(prepared, env, { home: homeWith(t, servers) }),
      { exitCode, stderr: `qmail-inject: fatal: ${text}\n` },
      text,
    )
  }
  t.same(await sendPrepared(prepared, env, { home: t.testdir({}) }), {
    exitCode: 111,
    stderr: 'qmail-inject: fatal: qq unable to read configuration (#4.3.0)\n',
  })
  t.same(await sendPrepared(prepared, env, { servers: [d.server], programName: 'sendmail' }), {
    exitCode: 100,
    stderr: 'sendmail: fatal: mail server permanently rejected message (#5.3.0)\n',
  })
})

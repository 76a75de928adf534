import t from 'tap'
import { main } from '../src/cli/mailsubj.js'
import { commandIo, envOf } from './lib/command-io.js'
import { recordingServer } from './lib/recording-server.js'

t.test('mailsubj builds Subject and To, recipients come from the header', async t => {
  const srv = await recordingServer()
  t.teardown(srv.close)
  const home = t.testdir({ control: { me: 'client.example.com\n', qmqpservers: `127.0.0.1:${srv.port}\n` } })
  const env = envOf({ QMQPKIT_CLIENT_HOME: home, USER: 'app' })
  const c = commandIo('It works.\n')
  const argv = ['mailsubj', 'QMQP test', 'ops@example.com', 'Jo Q <jo@example.net>'].map(w => Buffer.from(w))
  t.equal(await main(argv, env, c.io), 0, c.stderr())
  const got = srv.received[0]!
  t.same(got.sender, Buffer.from('app@client.example.com'))
  t.same(got.recipients.map(String), ['jo@example.net'], 'words before <…> are its display name (qmail)')
  t.match(
    got.message.toString(),
    /^Date: .*\nMessage-ID: <.*>\nFrom: app@client\.example\.com\nSubject: QMQP test\nTo: ops@example\.com Jo Q <jo@example\.net>\n\nIt works\.\n$/,
  )
})

t.test('without arguments mailsubj stops like the script, exit 2, nothing sent', async t => {
  const c = commandIo('x\n')
  t.equal(await main([Buffer.from('/var/hvmail-client/bin/mailsubj')], new Map(), c.io), 2)
  t.equal(c.stderr(), "/var/hvmail-client/bin/mailsubj: 4: shift: can't shift that many\n")
})

t.test("qmail-inject's exit code is mailsubj's", async t => {
  const srv = await recordingServer({ code: 'D', text: 'no such list' })
  t.teardown(srv.close)
  const home = t.testdir({ control: { me: 'client.example.com\n', qmqpservers: `127.0.0.1:${srv.port}\n` } })
  const c = commandIo('body\n')
  t.equal(
    await main(
      ['mailsubj', 's', 'a@example.com'].map(w => Buffer.from(w)),
      envOf({ QMQPKIT_CLIENT_HOME: home }),
      c.io,
    ),
    100,
  )
  t.equal(c.stderr(), 'qmail-inject: fatal: mail server permanently rejected message (#5.3.0)\n')
})

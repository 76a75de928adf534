import { chmodSync, mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { main } from '../src/cli/sendmail.js'
import { commandIo, envOf } from './lib/command-io.js'
import { recordingServer } from './lib/recording-server.js'

const argv = (...words: string[]) => words.map(w => Buffer.from(w))

async function setup(t: Test) {
  const srv = await recordingServer()
  t.teardown(srv.close)
  const home = t.testdir({
    control: { me: 'client.example.com\n', qmqpservers: `127.0.0.1:${srv.port}\n` },
    bin: {},
  })
  return { srv, home, env: envOf({ QMQPKIT_CLIENT_HOME: home, USER: 'app' }) }
}

t.test('sendmail -t -i takes the header recipients and sends', async t => {
  const { srv, env } = await setup(t)
  const c = commandIo('To: ops@example.com\nCc: b@example.net\nSubject: hi\n\nbody\n')
  t.equal(await main(argv('sendmail', '-t', '-i'), env, c.io), 0, c.stderr())
  t.equal(srv.received.length, 1)
  const got = srv.received[0]!
  t.same(got.sender, Buffer.from('app@client.example.com'))
  t.same(got.recipients.map(String), ['ops@example.com', 'b@example.net'])
  t.match(
    got.message.toString(),
    /^Date: .*\nMessage-ID: <.*qmail@client\.example\.com>\nFrom: app@client\.example\.com\nTo: ops@example\.com\nCc: b@example\.net\nSubject: hi\n\nbody\n$/,
  )
})

t.test('without -t only the arguments are recipients; -f sets the sender and drops -F', async t => {
  const { srv, env } = await setup(t)
  const c = commandIo('To: header@example.com\nSubject: s\n\nb\n')
  t.equal(
    await main(
      argv('sendmail', '-f', 'bounce@example.org', '-F', 'Web App', '-oi', 'arg@example.com'),
      env,
      c.io,
    ),
    0,
    c.stderr(),
  )
  const got = srv.received[0]!
  t.same(got.sender, Buffer.from('bounce@example.org'))
  t.same(got.recipients.map(String), ['arg@example.com'])
  t.match(got.message.toString(), /\nFrom: bounce@example\.org\n/)
  const named = commandIo('To: x@example.com\n\nb\n')
  t.equal(await main(argv('sendmail', '-F', 'Web App', '-t'), env, named.io), 0)
  t.match(srv.received[1]!.message.toString(), /\nFrom: "Web App" <app@client\.example\.com>\n/)
})

t.test('usage errors exit 100 before anything is sent', async t => {
  const { srv, env } = await setup(t)
  const c = commandIo('To: x@example.com\n\nb\n')
  t.equal(await main(argv('/usr/sbin/sendmail', '-q'), env, c.io), 100)
  t.equal(
    c.stderr(),
    'sendmail: illegal option -- q\nsendmail: usage: sendmail [ -t ] [ -fsender ] [ -Fname ] [ -bp ] [ -bs ] [ arg ... ]\n',
  )
  const n = commandIo()
  t.equal(await main(argv('newaliases'), env, n.io), 100)
  t.equal(n.stderr(), 'sendmail: fatal: please use fastforward/newaliases instead\n')
  t.equal(srv.received.length, 0)
})

t.test('-bp and -bs run the home programs, or fail with 111', async t => {
  const { home, env } = await setup(t)
  const q = commandIo()
  t.equal(await main(argv('sendmail', '-bp'), env, q.io), 111)
  t.equal(q.stderr(), 'sendmail: fatal: unable to run qmail-qread\n')
  const s = commandIo()
  t.equal(await main(argv('sendmail', '-bs'), env, s.io), 111)
  t.equal(s.stderr(), 'sendmail: fatal: unable to run qmail-smtpd\n')
  mkdirSync(join(home, 'bin'), { recursive: true })
  writeFileSync(
    join(home, 'bin/qmail-smtpd'),
    '#!/bin/sh\necho "$PROTO $TCPREMOTEIP $TCPREMOTEINFO"; cat; exit 3\n',
  )
  chmodSync(join(home, 'bin/qmail-smtpd'), 0o755)
  const smtpd = commandIo('QUIT\n')
  t.equal(await main(argv('sendmail', '-bs'), env, smtpd.io), 3)
  t.equal(smtpd.stdout(), 'TCP 127.0.0.1 sendmail-bs\nQUIT\n')
  writeFileSync(join(home, 'bin/qmail-qread'), '#!/bin/sh\necho queue is empty\n')
  chmodSync(join(home, 'bin/qmail-qread'), 0o755)
  const mailq = commandIo()
  t.equal(await main(argv('mailq'), env, mailq.io), 0)
  t.equal(mailq.stdout(), 'queue is empty\n')
})

// The installed commands end to end: `qmqpkit-client setup` lays out a home, then its bin/
// scripts (found home by their own location) send to real QMQP servers on loopback.
import { chmodSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { hangUpServer, recordingServer, refusedPort } from '../packages/client/test/lib/recording-server.js'
import { requireClientBuild, runCommand, setupClientHome } from './lib/client-home.js'

requireClientBuild()

const bin = (home: string, name: string) => join(home, 'bin', name)
const run = (home: string, name: string, args: string[], input: string, env: Record<string, string> = {}) =>
  runCommand(process.execPath, [bin(home, name), ...args], { input, env: { USER: 'app', ...env } })

t.test('qmail-inject, sendmail -t -i and mailsubj deliver; headers, envelope and body arrive', async t => {
  const srv = await recordingServer({ code: 'K', text: 'ok 1796398890 qp 7' })
  t.teardown(srv.close)
  const home = t.testdir()
  await setupClientHome(home, [srv.server])

  const inject = await run(home, 'qmail-inject', [], 'To: joe, ann@sales\nSubject: hi\n\nhello\n', {
    QMAILNAME: 'App Server',
  })
  t.same([inject.status, inject.stderr], [0, ''])
  const a = srv.received[0]!
  t.equal(a.sender.toString(), 'app@client.example.com')
  // qmail reads each field's addresses from right to left.
  t.same(a.recipients.map(String), ['ann@sales.client.example.com', 'joe@client.example.com'])
  t.match(
    a.message.toString(),
    /^Date: \d+ \w{3} \d{4} \d\d:\d\d:\d\d -0000\nMessage-ID: <\d{14}\.\d+\.qmail@client\.example\.com>\nFrom: "App Server" <app@client\.example\.com>\nTo: joe@client\.example\.com, ann@sales\.client\.example\.com\nSubject: hi\n\nhello\n$/,
  )

  const sm = await run(
    home,
    'sendmail',
    ['-t', '-i'],
    'From: web@example.com\nTo: ops@example.com\nBcc: audit@example.org\nSubject: s\n\nbody\n',
  )
  t.same([sm.status, sm.stderr], [0, ''])
  const b = srv.received[1]!
  t.same(b.recipients.map(String), ['ops@example.com', 'audit@example.org'])
  t.notMatch(b.message.toString(), /Bcc:/)
  t.match(b.message.toString(), /\nFrom: web@example\.com\nTo: ops@example\.com\nSubject: s\n\nbody\n$/)

  const bounce = await run(
    home,
    'sendmail',
    ['-f', 'bounces-list1-send7-@bounce.example.com-@[]', 'r@example.net'],
    'Subject: verp\n\nx\n',
  )
  t.same([bounce.status, bounce.stderr], [0, ''])
  t.equal(
    srv.received[2]!.sender.toString(),
    'bounces-list1-send7-@bounce.example.com-@[]',
    'the raw-injection sender passes unchanged',
  )

  // The original's own test command.
  const date = new Date().toUTCString()
  const ms = await run(
    home,
    'mailsubj',
    ['QMQP Sending Service Test Message', 'user@example.com'],
    `${date}\n`,
  )
  t.same([ms.status, ms.stderr], [0, ''])
  const c = srv.received[3]!
  t.same(c.recipients.map(String), ['user@example.com'])
  t.match(
    c.message.toString(),
    `\nSubject: QMQP Sending Service Test Message\nTo: user@example.com\n\n${date}\n`,
  )
})

t.test('failover when the first server refuses; 111 when none answers; Z is 111, D is 100', async t => {
  const good = await recordingServer()
  t.teardown(good.close)
  const z = await recordingServer({ code: 'Z', text: 'busy' })
  t.teardown(z.close)
  const d = await recordingServer({ code: 'D', text: 'no' })
  t.teardown(d.close)
  const rude = await hangUpServer()
  t.teardown(rude.close)
  const refused = await refusedPort()
  const message = 'To: r@example.com\nSubject: f\n\nx\n'
  const home = t.testdir()
  await setupClientHome(home, [])
  const outcome = async (servers: string[], name = 'qmail-inject') => {
    writeFileSync(join(home, 'control/qmqpservers'), servers.map(s => `${s}\n`).join(''))
    const r = await run(home, name, name === 'sendmail' ? ['-t'] : [], message)
    return [r.status, r.stderr]
  }
  t.same(await outcome([`127.0.0.1:${refused}`, good.server]), [0, ''])
  t.equal(good.received.length, 1)
  t.same(await outcome([`127.0.0.1:${refused}`, `127.0.0.1:${refused}`]), [
    111,
    'qmail-inject: fatal: connection to mail server rejected (#4.4.1)\n',
  ])
  t.same(await outcome([z.server, good.server]), [
    111,
    'qmail-inject: fatal: mail server temporarily rejected message (#4.3.0)\n',
  ])
  t.equal(good.received.length, 1, 'a Z is final, as in qmail-qmqpc')
  t.same(await outcome([d.server], 'sendmail'), [
    100,
    'qmail-inject: fatal: mail server permanently rejected message (#5.3.0)\n',
  ])
  t.same(await outcome([`127.0.0.1:${rude.port}`]), [
    111,
    'qmail-inject: fatal: communication with mail server failed (#4.4.2)\n',
  ])
  t.same(await outcome([]), [111, 'qmail-inject: fatal: qq unable to read configuration (#4.3.0)\n'])
})

t.test('QMQPKIT_CLIENT_HOME wins over the install location; the package bin shims work too', async t => {
  const srv = await recordingServer()
  t.teardown(srv.close)
  const root = t.testdir({
    other: { control: { me: 'other.example.com\n', qmqpservers: `${srv.server}\n` } },
  })
  const home = join(root, 'home')
  const other = join(root, 'other')
  await setupClientHome(home, ['127.0.0.1:1'])
  const r = await run(home, 'qmail-inject', ['x@example.com'], 'Subject: s\n\n', {
    QMQPKIT_CLIENT_HOME: other,
  })
  t.same([r.status, r.stderr], [0, ''])
  t.equal(srv.received[0]!.sender.toString(), 'app@other.example.com')
  const shim = join(import.meta.dirname, '../packages/client/bin/sendmail')
  const s = await runCommand(process.execPath, [shim, '-t'], {
    input: 'To: y@example.com\n\nb\n',
    env: { USER: 'u', QMQPKIT_CLIENT_HOME: other },
  })
  t.same([s.status, s.stderr], [0, ''])
  t.same(srv.received[1]!.recipients.map(String), ['y@example.com'])
})

t.test('qmail-qmqpc behind qmail-inject through QMAILQUEUE', async t => {
  const srv = await recordingServer()
  t.teardown(srv.close)
  const d = await recordingServer({ code: 'D', text: 'no' })
  t.teardown(d.close)
  const home = t.testdir()
  await setupClientHome(home, [srv.server])
  const queue = bin(home, 'qmail-qmqpc')
  const r = await run(
    home,
    'qmail-inject',
    ['-f', 's@example.org', 'a@example.com', 'b@example.com'],
    'Subject: q\n\nvia qmqpc\n',
    { QMAILQUEUE: queue },
  )
  t.same([r.status, r.stderr], [0, ''])
  t.equal(srv.received[0]!.sender.toString(), 's@example.org')
  t.same(srv.received[0]!.recipients.map(String), ['a@example.com', 'b@example.com'])
  t.match(srv.received[0]!.message.toString(), /\nSubject: q\n\nvia qmqpc\n$/)
  writeFileSync(join(home, 'control/qmqpservers'), `${d.server}\n`)
  const rejected = await run(home, 'qmail-inject', ['a@example.com'], 'Subject: q\n\nx\n', {
    QMAILQUEUE: queue,
  })
  t.same(
    [rejected.status, rejected.stderr],
    [100, 'qmail-inject: fatal: mail server permanently rejected message (#5.3.0)\n'],
  )
  // The queue interface directly: message on fd 0, envelope on fd 1 (a file here).
  writeFileSync(join(home, 'control/qmqpservers'), `${srv.server}\n`)
  const envFile = join(home, 'envelope')
  writeFileSync(envFile, 'Fx@example.com\0Ty@example.com\0\0')
  const script = join(home, 'run-qmqpc')
  writeFileSync(script, `#!/bin/sh\nexec "$1" "$2" < "$3" 1< "$4"\n`)
  chmodSync(script, 0o755)
  const msgFile = join(home, 'message')
  writeFileSync(msgFile, 'Subject: direct\n\nd\n')
  const direct = await runCommand(script, [process.execPath, queue, msgFile, envFile])
  t.equal(direct.status, 0, direct.stderr)
  t.same(srv.received[1]!.recipients.map(String), ['y@example.com'])
  writeFileSync(envFile, 'Xbad')
  t.equal((await runCommand(script, [process.execPath, queue, msgFile, envFile])).status, 91)
})

t.test('GREENARROW_MAILCLASS becomes X-GreenArrow-MailClass', async t => {
  const srv = await recordingServer()
  t.teardown(srv.close)
  const home = t.testdir()
  await setupClientHome(home, [srv.server])
  const r = await run(home, 'sendmail', ['-t'], 'To: r@example.com\nSubject: c\n\nx\n', {
    GREENARROW_MAILCLASS: 'transactional',
  })
  t.same([r.status, r.stderr], [0, ''])
  t.match(srv.received[0]!.message.toString(), /^X-GreenArrow-MailClass: transactional$/m)
})

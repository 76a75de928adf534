// The installed commands deliver into Debian's Postfix qmqpd (a private instance on loopback).
import { join } from 'node:path'
import t from 'tap'
import { postfixUnavailable, start } from './lib/postfix-instance.js'
import { requireClientBuild, runCommand, setupClientHome } from './lib/client-home.js'

requireClientBuild()
const why = postfixUnavailable()
if (why && process.env.CI)
  throw new Error(`Postfix qmqpd not usable: ${why} (CI installs Debian postfix and runs as root)`)

t.test(
  'qmail-inject, sendmail -t -i and mailsubj deliver into Postfix qmqpd',
  { skip: why ?? false },
  async t => {
    const pf = await start({ authorizedClients: ['127.0.0.0/8'] })
    t.teardown(() => pf.stop())
    const home = t.testdir()
    await setupClientHome(home, [`127.0.0.1:${pf.port}`])
    const run = (name: string, args: string[], input: string) =>
      runCommand(process.execPath, [join(home, 'bin', name), ...args], { input, env: { USER: 'app' } })

    const inject = await run(
      'qmail-inject',
      ['-f', 'bounce@example.com'],
      'To: one@example.net\nSubject: via qmail-inject\n\nbody one\n',
    )
    t.same([inject.status, inject.stderr], [0, ''])
    const sm = await run(
      'sendmail',
      ['-t', '-i'],
      'From: web@example.com\nTo: two@example.net\nCc: three@example.org\nSubject: via sendmail\n\n.\nbody two\n',
    )
    t.same([sm.status, sm.stderr], [0, ''])
    const ms = await run(
      'mailsubj',
      ['QMQP Sending Service Test Message', 'four@example.com'],
      'Fri Dec  4 17:00:00 UTC 2026\n',
    )
    t.same([ms.status, ms.stderr], [0, ''])

    const queued = await pf.queuedMessages()
    t.equal(queued.length, 3)
    const bySubject = (s: string) => queued.find(q => q.content.includes(`\nSubject: ${s}\n`))
    const one = bySubject('via qmail-inject')!
    t.equal(one.sender, 'bounce@example.com')
    t.same(one.recipients, ['one@example.net'])
    t.match(
      one.content,
      /\nDate: .*\nMessage-ID: <.*qmail@client\.example\.com>\nFrom: app@client\.example\.com\nTo: one@example\.net\nSubject: via qmail-inject\n\nbody one\n?$/,
    )
    const two = bySubject('via sendmail')!
    t.equal(two.sender, 'app@client.example.com')
    t.same(two.recipients, ['two@example.net', 'three@example.org'])
    t.match(
      two.content,
      /\nFrom: web@example\.com\nTo: two@example\.net\nCc: three@example\.org\nSubject: via sendmail\n\n\.\nbody two\n?$/,
    )
    const three = bySubject('QMQP Sending Service Test Message')!
    t.same(three.recipients, ['four@example.com'])
    t.match(three.content, /\nTo: four@example\.com\n\nFri Dec {2}4 17:00:00 UTC 2026\n?$/)

    // Postfix answers a message without recipients with D: qmail-inject exits 100.
    const none = await run('qmail-inject', ['-h'], 'Subject: nobody\n\nx\n')
    t.same(
      [none.status, none.stderr],
      [100, 'qmail-inject: fatal: mail server permanently rejected message (#5.3.0)\n'],
    )
  },
)

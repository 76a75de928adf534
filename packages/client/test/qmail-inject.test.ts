import t, { type Test } from 'tap'
import { chmodSync, readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { Readable, Writable } from 'node:stream'
import { main } from '../src/cli/qmail-inject.js'
import type { PreparedMessage } from '../src/inject/prepare.js'

class Sink extends Writable {
  chunks: Buffer[] = []
  override _write(chunk: Buffer, _enc: string, done: () => void) {
    this.chunks.push(chunk)
    done()
  }
  get text() {
    return Buffer.concat(this.chunks).toString('latin1')
  }
}

const now = new Date('2026-12-04T15:52:36Z')

function setUp(t: Test, input: string | Readable, envObj: Record<string, string> = {}) {
  const home = t.testdir({ control: { me: 'client.example.com\n' } })
  const stdout = new Sink()
  const stderr = new Sink()
  const env = new Map(Object.entries(envObj).map(([k, v]) => [k, Buffer.from(v, 'latin1')]))
  const stdin = typeof input === 'string' ? Readable.from([Buffer.from(input, 'latin1')]) : input
  return { home, stdout, stderr, env, io: { stdin, stdout, stderr, home, now, pid: 99 } }
}
const argv = (...a: string[]) => ['qmail-inject', ...a].map(s => Buffer.from(s, 'latin1'))

function fakeQueue(dir: string, exit: number): string {
  const file = path.join(dir, 'fake-queue')
  writeFileSync(
    file,
    `#!/bin/sh\ncat > "$(dirname "$0")/msg"; cat <&1 > "$(dirname "$0")/env"; exit ${exit}\n`,
  )
  chmodSync(file, 0o755)
  return file
}

t.test('QMAILQUEUE gets the message and the envelope; exit 0', async t => {
  const s = setUp(t, 'To: a@x.y, b\nSubject: s\n\nbody\n', { USER: 'app' })
  s.env.set('QMAILQUEUE', Buffer.from(fakeQueue(s.home, 0)))
  t.equal(await main(argv('-f', 'bounce@x.y'), s.env, s.io), 0)
  t.equal(s.stdout.text, '')
  t.equal(s.stderr.text, '')
  t.equal(
    readFileSync(path.join(s.home, 'msg'), 'latin1'),
    'Date: 4 Dec 2026 15:52:36 -0000\nMessage-ID: <20261204155236.99.qmail@client.example.com>\n' +
      'From: app@client.example.com\nTo: a@x.y, b@client.example.com\nSubject: s\n\nbody\n',
  )
  t.equal(readFileSync(path.join(s.home, 'env'), 'latin1'), 'Fbounce@x.y\0Tb@client.example.com\0Ta@x.y\0\0')
})

t.test('QMAILQUEUE exit codes become qmail-inject messages and exit codes', async t => {
  for (const [code, text, exit] of [
    [31, 'mail server permanently rejected message (#5.3.0)', 100],
    [71, 'mail server temporarily rejected message (#4.3.0)', 111],
    [73, 'connection to mail server rejected (#4.4.1)', 111],
    [11, 'envelope address too long for qq (#5.1.3)', 100],
    [25, 'qq permanent problem (#5.3.0)', 100],
  ] as const) {
    const s = setUp(t, 'Subject: s\n\nb\n')
    s.env.set('QMAILQUEUE', Buffer.from(fakeQueue(s.home, code)))
    t.equal(await main(argv(), s.env, s.io), exit, `queue exit ${code}`)
    t.equal(s.stderr.text, `qmail-inject: fatal: ${text}\n`)
  }
  const s = setUp(t, 'Subject: s\n\nb\n', { QMAILQUEUE: '/nonexistent/qq' })
  t.equal(await main(argv(), s.env, s.io), 111)
  t.equal(s.stderr.text, 'qmail-inject: fatal: unable to exec qq (#4.3.0)\n')
})

t.test('io.send receives the prepared message', async t => {
  const s = setUp(t, 'Subject: s\n\nb\n', { USER: 'u', GREENARROW_SENDID: '5' })
  let got: PreparedMessage | undefined
  const code = await main(argv('r@x.y'), s.env, {
    ...s.io,
    send: async p => {
      got = p
      return 111
    },
  })
  t.equal(code, 111)
  t.same(got?.recipients.map(String), ['r@x.y'])
  t.equal(got?.sender.toString(), 'u@client.example.com')
  t.equal(
    s.stderr.text,
    'qmail-inject: warning: GREENARROW_SENDID is not supported by the QMQP Sending Service; ignored\n',
  )
})

t.test('without QMAILQUEUE or io.send the QMQP client is used (no qmqpservers: 111)', async t => {
  const s = setUp(t, 'Subject: s\n\nb\n')
  const code = await main(argv('r@x.y'), s.env, {
    stdin: s.io.stdin,
    stdout: s.stdout,
    stderr: s.stderr,
    home: s.home,
  })
  t.equal(code, 111)
  t.match(s.stderr.text, /^qmail-inject: fatal: /)
})

t.test("a missing home is qmail-inject's failed chdir: internal bug, 111", async t => {
  const s = setUp(t, 'Subject: s\n')
  t.equal(await main(argv('-n'), s.env, { ...s.io, home: path.join(s.home, 'nope') }), 111)
  t.equal(s.stderr.text, 'qmail-inject: fatal: internal bug\n')
})

t.test('the home comes from QMQPKIT_CLIENT_HOME', async t => {
  const s = setUp(t, '')
  const { home: _home, ...io } = s.io
  s.env.set('QMQPKIT_CLIENT_HOME', Buffer.from(s.home))
  t.equal(await main(argv('-n'), s.env, io), 0)
  t.match(s.stdout.text, /^Return-Path: <anonymous@client\.example\.com>\n/)
})

t.test('a stdin read error is a read error (111)', async t => {
  const stdin = new Readable({
    read() {
      this.destroy(Object.assign(new Error('EIO'), { code: 'EIO' }))
    },
  })
  const s = setUp(t, stdin)
  t.equal(await main(argv('-n'), s.env, s.io), 111)
  t.equal(s.stderr.text, 'qmail-inject: fatal: read error\n')
  t.equal(s.stdout.text, '')
})

t.test('the program name in getopt messages is the base name of argv[0]', async t => {
  const s = setUp(t, '')
  t.equal(await main([Buffer.from('/some/where/inject'), Buffer.from('-F')], s.env, s.io), 100)
  t.equal(s.stderr.text, 'inject: illegal option -- F\n')
})

t.test('an unexpected failure is temporary', async t => {
  const s = setUp(t, 'Subject: s\n')
  const code = await main(argv(), s.env, {
    ...s.io,
    send: async () => {
      throw new Error('boom')
    },
  })
  t.equal(code, 111)
  t.equal(s.stderr.text, 'qmail-inject: fatal: boom\n')
})

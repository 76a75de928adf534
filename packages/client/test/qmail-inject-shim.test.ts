// The committed bin/qmail-inject shim running the built command, with bytes that are not
// UTF-8 in its arguments and environment (made by /bin/sh's printf: Node's spawn() would
// re-encode them).
import t from 'tap'
import { spawnSync } from 'node:child_process'
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'

const shim = new URL('../bin/qmail-inject', import.meta.url).pathname
// The shim loads the built command (dist/); CI builds before testing, so there it must exist.
const target = (readFileSync(shim, 'utf8').match(/'(\.\.\/dist\/[^']+)'/) ?? [])[1]
const built = target === undefined ? '' : new URL(target, new URL('../bin/', import.meta.url)).pathname
const missing = !existsSync(built) && 'build first (npm run build)'
if (missing && process.env.CI)
  throw new Error(`${built || 'the shim target'} is missing: the build must run before the tests`)

t.test('raw bytes in argv and environment reach the message and the envelope', { skip: missing }, async t => {
  const home = t.testdir({ control: { me: 'client.example.com\n' } })
  const queue = path.join(home, 'queue')
  writeFileSync(queue, '#!/bin/sh\ncat > "$(dirname "$0")/msg"; cat <&1 > "$(dirname "$0")/env"; exit 0\n')
  chmodSync(queue, 0o755)
  const script =
    `QMQPKIT_CLIENT_HOME="$2" QMAILNAME="$(printf 'J\\351r\\366me')" QMAILUSER="$(printf 'u\\377')" ` +
    `exec "$0" "$1" $3 -f "$(printf 'b\\351@x.y')" "$(printf 'j\\351r@x.y')"`
  const input = Buffer.from('To: caf\xe9@x.y\nSubject: \xff\n\nbody \xfe\n', 'latin1')
  const run = (mode: string, env: Record<string, string>) =>
    spawnSync('/bin/sh', ['-c', script, process.execPath, shim, home, mode], {
      input,
      env: { PATH: process.env.PATH, ...env },
    })

  const printed = run('-n', {})
  t.equal(printed.status, 0, printed.stderr.toString())
  t.equal(
    printed.stdout.toString('latin1'),
    'Return-Path: <"b\xe9"@x.y>\n' +
      printed.stdout.toString('latin1').split('\n')[1] +
      '\n' +
      printed.stdout.toString('latin1').split('\n')[2] +
      '\n' +
      'From: "J\xe9r\xf6me" <"u\xff"@client.example.com>\n' +
      'To: "caf\xe9"@x.y\nSubject: \xff\n\nbody \xfe\n',
  )
  t.match(printed.stdout.toString('latin1').split('\n')[1], /^Date: \d+ \w{3} \d{4} \d\d:\d\d:\d\d -0000$/)
  t.match(
    printed.stdout.toString('latin1').split('\n')[2],
    /^Message-ID: <\d{14}\.\d+\.qmail@client\.example\.com>$/,
  )

  const queued = run('-N', { QMAILQUEUE: queue })
  t.equal(queued.status, 0, queued.stderr.toString())
  t.equal(queued.stdout.length, 0)
  t.equal(readFileSync(path.join(home, 'env'), 'latin1'), 'Fb\xe9@x.y\0Tj\xe9r@x.y\0\0')
  t.match(
    readFileSync(path.join(home, 'msg'), 'latin1'),
    /\nTo: "caf\xe9"@x\.y\nSubject: \xff\n\nbody \xfe\n$/,
  )
})

t.test('the shim exits 100 on a bad option with no output', { skip: missing }, async t => {
  const home = t.testdir({ control: { me: 'client.example.com\n' } })
  const r = spawnSync(process.execPath, [shim, '-F', 'x'], {
    env: { PATH: process.env.PATH, QMQPKIT_CLIENT_HOME: home },
    input: '',
  })
  t.equal(r.status, 100)
  t.equal(r.stdout.length, 0)
  t.equal(r.stderr.toString(), 'qmail-inject: illegal option -- F\n')
})

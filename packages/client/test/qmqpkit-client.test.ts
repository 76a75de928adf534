import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { PassThrough } from 'node:stream'
import t from 'tap'
import { main } from '../src/cli/qmqpkit-client.js'

function io() {
  const stdout = new PassThrough()
  const stderr = new PassThrough()
  let out = ''
  let err = ''
  stdout.on('data', c => (out += String(c)))
  stderr.on('data', c => (err += String(c)))
  return { stdout, stderr, out: () => out, err: () => err }
}

t.test('setup --home --me --server', async t => {
  const home = join(t.testdir(), 'h')
  const c = io()
  t.equal(
    await main(
      ['setup', '--home', home, '--me', 'a.example', '--server', '127.0.0.1:7000', '--server', '::1'],
      c,
    ),
    0,
  )
  t.match(c.out(), /^wrote .*\/h\/bin\/qmail-inject\n/)
  t.equal(readFileSync(join(home, 'control/qmqpservers'), 'utf8'), '127.0.0.1:7000\n[::1]:628\n')
  t.ok(existsSync(join(home, 'bin/mailsubj')))
  const again = io()
  t.equal(await main(['setup', '--home', home], again), 0)
  t.match(again.out(), /kept .*control\/me\n/)
})

t.test('usage errors exit 100, help 0', async t => {
  const bad = io()
  t.equal(await main(['setup', '--nope'], bad), 100)
  t.match(bad.err(), /unknown option '--nope'/)
  t.equal(await main(['setup', '--server', 'not a server', '--home', t.testdir()], bad), 100)
  t.match(bad.err(), /qmqpkit-client: fatal: not a QMQP server: not a server/)
  t.equal(await main([], io()), 100)
  const help = io()
  t.equal(await main(['--help'], help), 0)
  t.match(help.out(), /setup/)
})

t.test('a home that cannot be written is a temporary failure', async t => {
  const dir = t.testdir({ file: 'x' })
  const c = io()
  t.equal(await main(['setup', '--home', join(dir, 'file', 'home')], c), 111)
  t.match(c.err(), /^qmqpkit-client: fatal: /)
})

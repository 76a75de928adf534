import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { clientHome, DEFAULT_CLIENT_HOME, homeOfScript } from '../src/home.js'

t.test('the home a command is installed in, through symbolic links', async t => {
  const dir = t.testdir({
    home: { bin: { 'qmail-inject': '' }, control: {} },
    loose: { 'qmail-inject': '' },
    usr: { sbin: {} },
  })
  const script = join(dir, 'home/bin/qmail-inject')
  t.equal(homeOfScript(script), join(dir, 'home'))
  symlinkSync(script, join(dir, 'usr/sbin/sendmail'))
  t.equal(
    homeOfScript(join(dir, 'usr/sbin/sendmail')),
    join(dir, 'home'),
    'a /usr/sbin/sendmail link finds the home',
  )
  t.equal(homeOfScript(join(dir, 'loose/qmail-inject')), undefined, 'not in a bin directory')
  mkdirSync(join(dir, 'nocontrol/bin'), { recursive: true })
  writeFileSync(join(dir, 'nocontrol/bin/x'), '')
  t.equal(homeOfScript(join(dir, 'nocontrol/bin/x')), undefined, 'no control directory beside bin')
  t.equal(homeOfScript(join(dir, 'missing')), undefined)
})

t.test('QMQPKIT_CLIENT_HOME first, then the install location, then the default', async t => {
  const dir = t.testdir({ home: { bin: { sendmail: '' }, control: {} } })
  const script = join(dir, 'home/bin/sendmail')
  t.equal(clientHome(new Map([['QMQPKIT_CLIENT_HOME', Buffer.from('/elsewhere')]]), script), '/elsewhere')
  t.equal(
    clientHome(new Map([['QMQPKIT_CLIENT_HOME', Buffer.alloc(0)]]), script),
    join(dir, 'home'),
    'empty means unset',
  )
  t.equal(clientHome(new Map(), script), join(dir, 'home'))
  t.equal(clientHome(new Map()), DEFAULT_CLIENT_HOME)
  t.equal(clientHome(new Map(), join(dir, 'nowhere')), '/var/hvmail-client')
})

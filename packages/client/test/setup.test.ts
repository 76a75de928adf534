import { spawnSync } from 'node:child_process'
import { readFileSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { ClientUsageError } from '../src/errors.js'
import { commandScript, setupHome } from '../src/setup.js'

t.test('lays out bin and control, keeps existing control files', async t => {
  const home = join(t.testdir(), 'client')
  const report = setupHome({
    home,
    me: 'app1.example.com',
    servers: ['192.0.2.10', '[2001:db8::25]:6628'],
    bundleDir: '/opt/b',
  })
  t.same(report.kept, [])
  t.equal(report.written.length, 6)
  for (const command of ['qmail-inject', 'sendmail', 'mailsubj', 'qmail-qmqpc']) {
    const path = join(home, 'bin', command)
    t.equal(statSync(path).mode & 0o777, 0o755, command)
    t.equal(readFileSync(path, 'utf8'), commandScript(`/opt/b/${command}.cjs`))
  }
  t.equal(readFileSync(join(home, 'control/me'), 'utf8'), 'app1.example.com\n')
  t.equal(readFileSync(join(home, 'control/qmqpservers'), 'utf8'), '192.0.2.10:628\n[2001:db8::25]:6628\n')
  writeFileSync(join(home, 'control/me'), 'mine\n')
  const again = setupHome({ home, me: 'other', servers: ['192.0.2.99'] })
  t.same(again.kept, [join(home, 'control/me'), join(home, 'control/qmqpservers')])
  t.equal(readFileSync(join(home, 'control/me'), 'utf8'), 'mine\n')
  t.equal(readFileSync(join(home, 'control/qmqpservers'), 'utf8'), '192.0.2.10:628\n[2001:db8::25]:6628\n')
})

t.test('defaults: host name in me, an explanatory qmqpservers with no server', async t => {
  const home = t.testdir()
  setupHome({ home })
  t.match(readFileSync(join(home, 'control/me'), 'utf8'), /^\S+\n$/)
  t.match(readFileSync(join(home, 'control/qmqpservers'), 'utf8'), /^# /)
  t.throws(() => setupHome({ home, servers: ['bad server'] }), ClientUsageError)
})

t.test('a command script loads its bundle read as CommonJS or as an ES module', async t => {
  // Under a package.json of type commonjs the script require()s; under type module it imports.
  for (const type of ['commonjs', 'module']) {
    const dir = t.testdir({
      'package.json': JSON.stringify({ type }),
      'cmd.cjs': 'exports.run = () => { process.exitCode = 7 }\n',
    })
    writeFileSync(join(dir, 'cmd'), commandScript(join(dir, 'cmd.cjs')))
    t.equal(spawnSync(process.execPath, [join(dir, 'cmd')]).status, 7, type)
    writeFileSync(join(dir, 'missing'), commandScript(join(dir, 'missing.cjs')))
    const r = spawnSync(process.execPath, [join(dir, 'missing')], { encoding: 'utf8' })
    t.equal(r.status, 111, `${type}: a missing bundle is a temporary failure`)
    t.match(r.stderr, /missing: fatal: unable to load .*missing\.cjs: /)
  }
})

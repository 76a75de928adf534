import { renameSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import t from 'tap'
import { compileRulesToBuffer } from '@qmqpkit/tcprules'
import { accessControlFor, loopbackOnly, rulesDatabase, rulesSource } from '../src/access.js'
import { QmqpdConfigError, QmqpdFileError } from '../src/errors.js'

t.test('no rules: loopback only', async t => {
  const a = loopbackOnly()
  t.match(a.check({ remoteAddress: '127.0.0.7' }), {
    allow: true,
    decision: 'loopback-default',
    ruleKey: null,
  })
  t.match(a.check({ remoteAddress: '::ffff:127.0.0.1' }), { allow: true })
  t.match(a.check({ remoteAddress: '::1' }), { allow: true })
  t.match(a.check({ remoteAddress: '192.0.2.1' }), { allow: false, decision: 'deny' })
  t.equal(accessControlFor(null, 'ipv4').description, 'loopback only (no rules given)')
})

t.test('rules database: tcpserver semantics, replaced by rename for the next lookup', async t => {
  const dir = t.testdir()
  const cdb = path.join(dir, 'r.cdb')
  const write = (text: string) => {
    writeFileSync(`${cdb}.tmp`, compileRulesToBuffer(text))
    renameSync(`${cdb}.tmp`, cdb)
  }
  write('10.0.0.1:allow,A="1"\n10.0.0.:deny\n=h.example:allow,H="x"\n')
  const reloads: string[] = []
  const a = rulesDatabase(cdb, 'ipv4', { onReload: p => reloads.push(p) })
  t.match(a.check({ remoteAddress: '10.0.0.1' }), { allow: true, decision: 'allow', ruleKey: '10.0.0.1' })
  t.same(
    a.check({ remoteAddress: '10.0.0.1' }).env.map(([n, v]) => [n, v.toString()]),
    [['A', '1']],
  )
  t.match(a.check({ remoteAddress: '::ffff:10.0.0.2' }), {
    allow: false,
    decision: 'deny',
    ruleKey: '10.0.0.',
    env: [],
  })
  t.match(
    a.check({ remoteAddress: '192.0.2.1' }),
    { allow: true, decision: 'none', ruleKey: null },
    'no match: allowed, as tcpserver',
  )
  t.match(a.check({ remoteAddress: '192.0.2.1', remoteHost: 'h.example' }), {
    allow: true,
    ruleKey: '=h.example',
  })
  write('10.0.0.1:deny\n')
  t.match(
    a.check({ remoteAddress: '10.0.0.1' }),
    { allow: false },
    'the new file decides the next connection',
  )
  t.same(reloads, [cdb])
  a.reopen()
  t.match(a.check({ remoteAddress: '10.0.0.1' }), { allow: false })
  const missing = rulesDatabase(path.join(dir, 'nope.cdb'), 'ipv4')
  const r = missing.check({ remoteAddress: '127.0.0.1' })
  t.match(r, { allow: false, decision: 'error' })
  t.match(r.error?.message, /ENOENT/)
})

t.test('rules source: compiled in memory, errors keep the rules in force', async t => {
  const dir = t.testdir({ 'r.tcp': '10.0.0.1:allow\n:deny\n' })
  const file = path.join(dir, 'r.tcp')
  const errors: Array<{ line?: number }> = []
  const a = rulesSource(file, 'ipv4', { onSourceError: e => errors.push(e as { line?: number }) })
  t.match(a.check({ remoteAddress: '10.0.0.2' }), { allow: false, ruleKey: '' })
  writeFileSync(file, '10.0.0.2:allow\n:deny\n')
  t.match(a.check({ remoteAddress: '10.0.0.2' }), { allow: true })
  writeFileSync(file, '# fine\n10.0.0.2:deny\n10.0.0.3:permit\n')
  t.match(a.check({ remoteAddress: '10.0.0.2' }), { allow: true }, 'previous rules stay')
  t.match(a.check({ remoteAddress: '10.0.0.2' }), { allow: true })
  t.same(
    errors.map(e => e.line),
    [3],
    'reported once, with its line',
  )
  renameSync(file, `${file}.gone`)
  t.match(a.check({ remoteAddress: '10.0.0.2' }), { allow: true }, 'a vanished source keeps the rules too')
  t.match(a.check({ remoteAddress: '10.0.0.2' }), { allow: true })
  t.equal(errors.length, 2)
  renameSync(`${file}.gone`, file)
  a.reopen()
  writeFileSync(file, '10.0.0.2:deny\n')
  t.match(a.check({ remoteAddress: '10.0.0.2' }), { allow: false })
  t.throws(() => rulesSource(path.join(dir, 'none.tcp'), 'ipv4'), QmqpdFileError)
  writeFileSync(file, '::1:allow\n')
  const err = t.throws(() => rulesSource(file, 'ipv4'), QmqpdConfigError) as Error
  t.match(err.message, /line 1/)
  t.match(rulesSource(file, 'ipv6').check({ remoteAddress: '::1' }), { allow: true, ruleKey: '::1' })
})

import { renameSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { compileRulesToBuffer } from '../src/compile.js'
import type { TcprulesError } from '../src/errors.js'
import { RulesSource } from '../src/rules-source.js'

t.test('a CDB path: a rename takes effect at the next match', t => {
  const dir = t.testdir()
  const path = join(dir, 'qmqp.tcp.cdb')
  writeFileSync(path, compileRulesToBuffer('1.2.3.4:allow,GREENARROW_SIMPLEMH=""\n:deny\n'))
  const errors: TcprulesError[] = []
  const rules = new RulesSource({ cdbPath: path }, { onError: e => errors.push(e) })
  t.equal(rules.kind, 'cdb')
  t.match(rules.match({ ip: '1.2.3.4' }), {
    decision: 'allow',
    env: [['GREENARROW_SIMPLEMH', Buffer.alloc(0)]],
  })
  t.match(rules.match({ ip: '5.6.7.8' }), { decision: 'deny' })
  writeFileSync(join(dir, 'tmp'), compileRulesToBuffer('5.6.7.8:allow\n:deny\n'))
  renameSync(join(dir, 'tmp'), path)
  t.match(rules.match({ ip: '5.6.7.8' }), { decision: 'allow' })
  t.match(rules.match({ ip: '1.2.3.4' }), { decision: 'deny' })
  rmSync(path)
  t.throws(() => rules.match({ ip: '1.2.3.4' }), { code: 'TCPRULES_ERR_READ', temporary: true })
  t.throws(() => rules.match({ ip: '1.2.3.4' }), { code: 'TCPRULES_ERR_READ' })
  t.equal(errors.length, 1, 'a missing database is reported once')
  writeFileSync(path, 'short')
  t.throws(
    () => rules.match({ ip: '1.2.3.4' }),
    { code: 'TCPRULES_ERR_READ' },
    'a corrupt database fails the connection',
  )
  writeFileSync(join(dir, 'tmp'), compileRulesToBuffer(':allow,BACK="1"\n'))
  renameSync(join(dir, 'tmp'), path)
  t.match(rules.match({ ip: '9.9.9.9' }), { decision: 'allow', env: [['BACK', Buffer.from('1')]] })
  rules.close()
  t.match(rules.match({ ip: '9.9.9.9' }), { decision: 'allow' }, 'reopened after close')
  t.end()
})

t.test('a rules text: compiled in memory, recompiled on change, errors keep the old rules', t => {
  const dir = t.testdir()
  const path = join(dir, 'qmqp.tcp')
  const errors: TcprulesError[] = []
  const rules = new RulesSource({ rulesPath: path }, { onError: e => errors.push(e), dialect: 'ipv6' })
  t.throws(() => rules.match({ ip: '::1' }), { code: 'TCPRULES_ERR_READ' }, 'nothing to fall back on yet')
  writeFileSync(path, '::1:allow,WHO="lo"\n:deny\n')
  t.match(rules.match({ ip: '::1' }), { decision: 'allow', env: [['WHO', Buffer.from('lo')]] })
  writeFileSync(path, '::1:allow,WHO="changed"\n::2:permit\n')
  t.match(rules.match({ ip: '::1' }), { env: [['WHO', Buffer.from('lo')]] }, 'previous rules stay')
  t.match(rules.match({ ip: '::1' }), { env: [['WHO', Buffer.from('lo')]] })
  t.equal(errors.length, 2)
  t.match(errors[1], { name: 'RulesSyntaxError', line: 2 })
  writeFileSync(path, '::1:deny\n# fixed, and longer than before\n')
  t.match(rules.match({ ip: '::1' }), { decision: 'deny' })
  t.end()
})

t.test('a rules text that is broken from the start', t => {
  const dir = t.testdir({ 'r.tcp': '1.2.3.4:allow,X=\n' })
  const rules = new RulesSource({ rulesPath: join(dir, 'r.tcp') })
  t.throws(() => rules.match({ ip: '1.2.3.4' }), { name: 'RulesSyntaxError', line: 1 })
  t.throws(() => rules.match({ ip: '1.2.3.4' }), { name: 'RulesSyntaxError' }, 'still, without a reread')
  t.end()
})

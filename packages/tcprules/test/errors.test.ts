import t from 'tap'
import { RulesReadError, RulesSyntaxError, RulesUsageError, TcprulesError } from '../src/errors.js'

t.test('codes and classes', t => {
  const s = new RulesSyntaxError(3, Buffer.from('x:y'), 'bad')
  t.match(s, { name: 'RulesSyntaxError', code: 'TCPRULES_ERR_SYNTAX', temporary: false, line: 3 })
  t.equal(s.message, 'line 3: bad: x:y')
  t.ok(s instanceof TcprulesError)
  const r = new RulesReadError('a.cdb', Object.assign(new Error('gone'), { code: 'ENOENT' }))
  t.match(r, { name: 'RulesReadError', code: 'TCPRULES_ERR_READ', temporary: true, path: 'a.cdb' })
  t.match(new RulesUsageError('no'), { code: 'TCPRULES_ERR_USAGE', temporary: false })
  t.match(new TcprulesError('x'), { code: 'TCPRULES_ERR', temporary: true })
  t.end()
})

import t from 'tap'
import { CdbReader } from '@qmqpkit/cdb'
import { compileRulesToBuffer } from '../src/compile.js'
import { explainMatch, explanationJson, explanationText } from '../src/explain.js'

const db = CdbReader.fromBuffer(compileRulesToBuffer('=.example.com:allow,WHO="suffix"\n10.:deny\n'))

t.test('the keys tried and the one found', t => {
  const e = explainMatch(db, { ip: '192.0.2.1', host: 'a.example.com' })
  t.equal(e.decision, 'allow')
  t.same(
    e.steps.map(s => [s.key.toString(), s.found]),
    [
      ['192.0.2.1', false],
      ['=a.example.com', false],
      ['192.0.2.', false],
      ['192.0.', false],
      ['192.', false],
      ['=.example.com', true],
    ],
  )
  t.match(
    explanationText(e),
    /found {2}"=\.example\.com" {2}\(a host name suffix\)\nallow 192\.0\.2\.1 by rule "=\.example\.com"/,
  )
  t.same(explanationJson(e), {
    ip: '192.0.2.1',
    decision: 'allow',
    key: '=.example.com',
    env: [['WHO', 'suffix']],
    steps: e.steps.map(s => ({ key: s.key.toString(), step: s.step, found: s.found })),
  })
  t.end()
})

t.test('no rule, and addresses as tcpserver writes them', t => {
  const none = explainMatch(db, { ip: '8.8.8.8' })
  t.equal(none.decision, 'none')
  t.match(explanationText(none), /no rule matches 8\.8\.8\.8/)
  t.equal(explainMatch(db, { ip: '::ffff:10.1.1.1' }).decision, 'deny')
  t.equal(explainMatch(db, { ip: '::ffff:10.1.1.1' }, { normalizeIp: false }).decision, 'none')
  t.equal(explainMatch(db, { ip: Buffer.from('10.1.1.1'), host: Buffer.from('x') }).ip, '10.1.1.1')
  t.end()
})

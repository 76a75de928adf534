import t from 'tap'
import { CdbReader } from '@qmqpkit/cdb'
import { compileRulesToBuffer } from '../src/compile.js'
import { decodeRuleData, lookupRule, matchRules, walkKeys, type LookupStep } from '../src/match.js'

const db = (text: string, dialect: 'ipv4' | 'ipv6' = 'ipv4') =>
  CdbReader.fromBuffer(compileRulesToBuffer(text, { dialect }))
const keysFor = (ip: string, host?: string, info?: string, dialect: 'ipv4' | 'ipv6' = 'ipv4') => {
  const seen: Array<[string, LookupStep]> = []
  const o = (s?: string) => (s === undefined ? undefined : Buffer.from(s))
  walkKeys(Buffer.from(ip), o(host), o(info), dialect, (k, step) => {
    seen.push([k.toString(), step])
    return false
  })
  return seen
}

t.test("tcpserver's key order", t => {
  t.same(keysFor('1.2.3.4', 'a.b.example.com', 'joe'), [
    ['joe@1.2.3.4', 'info@ip'],
    ['joe@=a.b.example.com', 'info@=host'],
    ['1.2.3.4', 'ip'],
    ['=a.b.example.com', '=host'],
    ['1.2.3.', 'ip-prefix'],
    ['1.2.', 'ip-prefix'],
    ['1.', 'ip-prefix'],
    ['=.b.example.com', '=.suffix'],
    ['=.example.com', '=.suffix'],
    ['=.com', '=.suffix'],
    ['=', '='],
    ['', 'catch-all'],
  ])
  t.same(keysFor('1.2', undefined, 'joe'), [
    ['joe@1.2', 'info@ip'],
    ['1.2', 'ip'],
    ['1.', 'ip-prefix'],
    ['', 'catch-all'],
  ])
  t.same(
    keysFor('2001:db8::1', undefined, undefined, 'ipv6').map(([k]) => k),
    ['2001:db8::1', '2001:db8::', '2001:db8:', '2001:', ''],
  )
  t.same(
    keysFor('2001:db8::1').map(([k]) => k),
    ['2001:db8::1', ''],
    'ipv4 prefixes end at dots only',
  )
  t.same(
    keysFor('1.2.3.4', '').map(([k]) => k),
    ['1.2.3.4', '=', '1.2.3.', '1.2.', '1.', '=', ''],
    'an empty host is a host',
  )
  t.end()
})

t.test('decisions, keys and variables', t => {
  const rules = db(
    'joe@127.0.0.1:allow,WHO="joe"\n127.0.0.1:allow,WHO="ip",WHO="again"\n=mail.example.com:deny\n127.:allow,NET="lo"\n=.example.com:allow\n:deny\n',
  )
  t.same(matchRules(rules, { ip: '127.0.0.1', info: 'joe' }), {
    decision: 'allow',
    key: Buffer.from('joe@127.0.0.1'),
    env: [['WHO', Buffer.from('joe')]],
  })
  t.same(matchRules(rules, { ip: '127.0.0.1' }).env, [
    ['WHO', Buffer.from('ip')],
    ['WHO', Buffer.from('again')],
  ])
  t.match(matchRules(rules, { ip: '127.0.0.2', host: 'mail.example.com' }), {
    decision: 'deny',
    key: Buffer.from('=mail.example.com'),
  })
  t.match(matchRules(rules, { ip: '127.0.0.2', host: 'x.example.com' }), {
    decision: 'allow',
    key: Buffer.from('127.'),
  })
  t.match(matchRules(rules, { ip: '10.0.0.1', host: 'x.example.com' }), {
    decision: 'allow',
    key: Buffer.from('=.example.com'),
  })
  t.same(matchRules(rules, { ip: '10.0.0.1' }), { decision: 'deny', key: Buffer.alloc(0), env: [] })
  t.same(matchRules(db('1.2.3.4:allow\n'), { ip: '8.8.8.8' }), { decision: 'none', key: null, env: [] })
  t.end()
})

t.test('live addresses are looked up as tcpserver writes them; tcprulescheck takes them as given', t => {
  const rules = db(
    '127.0.0.5:allow,V4="yes"\n2001:db8::1:1:1:1:1:allow,V6="yes"\n::ffff:127.0.0.5:deny\n',
    'ipv6',
  )
  t.match(matchRules(rules, { ip: '::ffff:127.0.0.5' }, { dialect: 'ipv6' }), {
    decision: 'allow',
    env: [['V4', Buffer.from('yes')]],
  })
  t.match(matchRules(rules, { ip: '::ffff:127.0.0.5' }, { dialect: 'ipv6', normalizeIp: false }), {
    decision: 'deny',
  })
  t.match(matchRules(rules, { ip: '2001:db8:0:1:1:1:1:1' }, { dialect: 'ipv6' }), {
    decision: 'allow',
    env: [['V6', Buffer.from('yes')]],
  })
  t.match(matchRules(rules, { ip: Buffer.from('127.0.0.5'), host: Buffer.from('h\0ignored'), info: 'x' }), {
    decision: 'allow',
  })
  t.end()
})

t.test('raw lookups and value decoding', t => {
  const hit = lookupRule(
    db('=.example.com:allow\n'),
    Buffer.from('1.1.1.1'),
    Buffer.from('a.example.com'),
    undefined,
  )
  t.match(hit, { key: Buffer.from('=.example.com'), step: '=.suffix' })
  t.same(decodeRuleData(Buffer.from('+A=1\0+NOEQ\0D\0+B=2\0', 'latin1')), {
    deny: true,
    env: [['A', Buffer.from('1')]],
  })
  t.same(decodeRuleData(Buffer.from('+=e\0', 'latin1')), { deny: false, env: [['', Buffer.from('e')]] })
  t.end()
})

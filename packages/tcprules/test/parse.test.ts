import t from 'tap'
import { parseRules, scanLines, encodeData } from '../src/parse.js'
import { RulesSyntaxError } from '../src/errors.js'

const b = (s: string) => Buffer.from(s, 'latin1')

t.test('rules, variables and keys', t => {
  const f = parseRules('# c\n\n1.2.3.4:allow,GREENARROW_SIMPLEMH=""\n10.0.0.1-2:deny,X=abca\n:deny\n')
  t.equal(f.rules.length, 3)
  const [a, r, catchAll] = f.rules
  t.same(a!.address, b('1.2.3.4'))
  t.equal(a!.line, 3)
  t.equal(a!.decision, 'allow')
  t.same(a!.variables, [{ name: b('GREENARROW_SIMPLEMH'), value: b('') }])
  t.same(a!.data, b('+GREENARROW_SIMPLEMH=\0'))
  t.same(r!.keys, [b('10.0.0.1'), b('10.0.0.2')])
  t.same(r!.data, b('D\0+X=bc\0'), 'the first byte after = is the quote')
  t.same(catchAll!.keys, [b('')])
  t.same(
    f.ignored.map(i => [i.line, i.reason]),
    [
      [1, 'comment'],
      [2, 'empty'],
    ],
  )
  t.end()
})

t.test('layout quirks', t => {
  const f = parseRules(
    '  10.0.0.2:allow\n10.0.0.1:allow   \t\nno colon here\n \t \n\r\n# crlf\r\n10.0.0.6:deny',
  )
  t.same(
    f.rules.map(r => r.address.toString()),
    ['  10.0.0.2', '10.0.0.1', '10.0.0.6'],
    'blanks before the colon stay, trailing ones go, the last line needs no LF',
  )
  t.same(
    f.ignored.map(i => i.reason),
    ['no-colon', 'empty', 'no-colon', 'comment'],
  )
  t.same(f.rules[1]!.text, b('10.0.0.1:allow'))
  t.end()
})

t.test('refusals name the line', t => {
  const cases: Array<[string, number, string]> = [
    ['10.0.0.1:allow\n10.0.0.2:permit\n', 2, '10.0.0.2:permit'],
    ['1:allow,A="\n', 1, '1:allow,A="'],
    ['1:allow,A\n', 1, '1:allow,A'],
    ['1:allow,A=\n', 1, '1:allow,A='],
    ['1:allow # x\n', 1, '1:allow # x'],
    ['1:allow\r\n', 1, '1:allow\r'],
    ['1:ALLOW\n', 1, '1:ALLOW'],
    ['10.0.0.1-x:allow\n', 1, '10.0.0.1-x:allow'],
    ['#\n\n  # note: x\n', 3, '  # note: x'],
  ]
  for (const [text, line, shown] of cases) {
    t.throws(
      () => parseRules(text),
      { name: 'RulesSyntaxError', code: 'TCPRULES_ERR_SYNTAX', line, text: b(shown) },
      JSON.stringify(text),
    )
  }
  const err = (() => {
    try {
      parseRules('1:nope\n')
    } catch (e) {
      return e
    }
  })()
  t.ok(err instanceof RulesSyntaxError && err.temporary === false)
  t.end()
})

t.test('ipv6 dialect: the first colon followed by allow or deny', t => {
  const f = parseRules('::1:allow\n2001:db8:::deny\n2001:db8::allow\n1:allow,A="x:allow"\n', {
    dialect: 'ipv6',
  })
  t.same(
    f.rules.map(r => r.address.toString()),
    ['::1', '2001:db8::', '2001:db8:', '1'],
  )
  t.throws(() => parseRules('1:allow:allow\n', { dialect: 'ipv6' }), { name: 'RulesSyntaxError', line: 1 })
  t.throws(
    () => parseRules('::1:permit\n', { dialect: 'ipv6' }),
    { name: 'RulesSyntaxError', line: 1 },
    'ends where ucspi-tcp-ipv6 would loop',
  )
  t.same(
    parseRules('no colon\n', { dialect: 'ipv6' }).ignored.map(i => i.reason),
    ['no-colon'],
  )
  t.throws(
    () => parseRules('::1:allow\n'),
    { name: 'RulesSyntaxError', line: 1 },
    'the IPv4 dialect refuses IPv6 rules',
  )
  t.end()
})

t.test('scanLines and encodeData work on views', t => {
  const buf = b('1.2.3.4:deny,A="1",B=|2|\n')
  const seen: Buffer[] = []
  scanLines(buf, 'ipv4', scan => seen.push(encodeData(buf, scan)))
  t.same(seen, [b('D\0+A=1\0+B=2\0')])
  t.end()
})

import t from 'tap'
import { lintRules } from '../src/lint.js'

const codes = (text: string, dialect: 'ipv4' | 'ipv6' = 'ipv4') =>
  lintRules(Buffer.from(text, 'latin1'), { dialect }).map(f => `${f.line}:${f.code}`)

t.test('a clean GreenArrow file', t => {
  t.same(
    codes(
      '127.0.0.1:allow,RELAYCLIENT="",GREENARROW_SIMPLEMH=""\n1.2.3.10-20:allow\n192.168.1.:allow\n=mail.example.com:allow\n:deny\n',
    ),
    [],
  )
  t.end()
})

t.test('what tcprules keeps to itself', t => {
  t.same(codes('1.2.3.4:allow\n1.2.3.4:deny\n:deny\n'), ['2:duplicate'])
  t.same(codes('10.0.0.2-4:allow\n10.0.0.3:deny\n10.0.0.1-3:allow\n:deny\n'), ['2:shadowed', '3:shadowed'])
  t.same(codes('1.2.3.4:allow\n'), ['0:no-catch-all-deny'])
  t.same(codes(':deny\n:allow\n'), ['2:duplicate'])
  t.same(codes(':allow\n:deny\n'), ['0:no-catch-all-deny', '2:duplicate'], 'the first catch-all decides')
  t.same(codes('1.2.3.4:allow\r\n:deny\r\n'), [
    '0:no-catch-all-deny',
    '1:crlf',
    '1:syntax',
    '2:crlf',
    '2:syntax',
  ])
  t.same(codes('1.2.3.4:allow,X=abca\n:deny\n'), ['1:odd-quote'])
  t.same(codes('1.2.3.250-300:allow\n1.2.3.9-3:allow\n:deny\n'), ['1:range-mangled', '2:range-mangled'])
  t.same(codes('1.2.3.4:deny,A="x"\n:deny\n'), ['1:variables-after-deny'])
  t.same(codes('1.2.3.4:allow,A="1",A="2", B="3"\n:deny\n'), ['1:repeated-variable', '1:odd-name'])
  t.same(codes('  10.0.0.2:allow\n10.1:allow\nfoo:allow\n1.2.3.300:allow\n:deny\n'), [
    '1:unreachable',
    '2:unreachable',
    '3:unreachable',
    '4:unreachable',
  ])
  t.same(codes('no colon\n:deny\n'), ['1:ignored-line'])
  t.same(codes('1:x\n2:y\n:deny\n'), ['1:syntax', '2:syntax'], 'every bad line, not just the first')
  t.same(codes('1.2\0.3.4:allow\n:deny\n'), ['1:nul-byte', '1:unreachable'])
  t.end()
})

t.test('ipv6 dialect', t => {
  t.same(codes('::1:allow\n2001:db8:::allow\n:deny\n', 'ipv6'), [])
  t.same(codes('2001:DB8::1:allow\n:deny\n', 'ipv6'), ['1:unreachable'])
  t.end()
})

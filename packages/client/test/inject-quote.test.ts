import t from 'tap'
import { cString, quote, quote2, quoteNeed } from '../src/inject/quote.js'

const b = (s: string) => Buffer.from(s, 'latin1')

t.test('quoteNeed', async t => {
  for (const s of [
    '',
    'a b',
    'a@b',
    '.a',
    'a.',
    'a..b',
    'a\xe9',
    'a\x7f',
    'a"b',
    'a\\b',
    'a(b',
    'a[b',
    'a,b',
    'a;b',
    'a:b',
    'a<b',
  ])
    t.ok(quoteNeed(b(s)), JSON.stringify(s))
  for (const s of ['a', 'a.b', "!#$%&'*+-/=?^_`{|}~", 'A9']) t.notOk(quoteNeed(b(s)), s)
})

t.test('quote and quote2', async t => {
  t.equal(quote(b('a "b"\\\r\n')).toString('latin1'), '"a \\"b\\"\\\\\\\r\\\n"')
  t.equal(quote(b('plain')).toString(), 'plain')
  t.equal(quote2(b('')).toString(), '')
  t.equal(quote2(b('a b')).toString(), '"a b"')
  t.equal(quote2(b('x@y@z.com')).toString(), '"x@y"@z.com')
  t.equal(quote2(b('@host')).toString(), '""@host')
  t.equal(quote2(b('bounces-l-s-@b.example.com-@[]')).toString(), '"bounces-l-s-@b.example.com-"@[]')
  t.equal(quote2(b('a b\0rest@x')).toString(), '"a b"', 'stops at NUL like the C string it was')
  t.equal(cString(b('ab\0c')).toString(), 'ab')
  t.equal(cString(b('abc')).toString(), 'abc')
})

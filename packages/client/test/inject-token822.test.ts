import t from 'tap'
import {
  parseTokens,
  T,
  tok,
  unparseTokens,
  unquoteTokens,
  walkAddressList,
  type Token,
} from '../src/inject/token822.js'

const b = (s: string) => Buffer.from(s, 'latin1')
const show = (ts: Token[] | null) =>
  ts?.map(
    x =>
      `${Object.entries(T).find(([, v]) => v === x.type)![0]}${x.s.length ? ':' + x.s.toString('latin1') : ''}`,
  )

t.test('lexer', async t => {
  t.same(show(parseTokens(b('To: a.b@c , <d> ;'))), [
    'ATOM:To',
    'COLON',
    'ATOM:a',
    'DOT',
    'ATOM:b',
    'AT',
    'ATOM:c',
    'COMMA',
    'LEFT',
    'ATOM:d',
    'RIGHT',
    'SEMI',
  ])
  t.same(
    show(parseTokens(b('"q \\" x" [1.2\\]] (c (n) \\) d)'))),
    ['QUOTE:q " x', 'LITERAL:1.2]', 'COMMENT:c n ) d'],
    'nested comment parens are dropped, escapes taken',
  )
  t.same(
    show(parseTokens(b('a]b a\\(b x\xe9 y\\'))),
    ['QUOTE:a]b', 'ATOM:a(b', 'QUOTE:x\xe9', 'ATOM:y'],
    'atoms: ] inside, escapes, 8-bit quoted, trailing backslash dropped',
  )
  t.same(show(parseTokens(b(' \t\r\n'))), [])
  for (const bad of ['(a', '"a', '[a', ')', ']a', 'a (b\\', '"a\\']) t.equal(parseTokens(b(bad)), null, bad)
})

t.test('printer: spaces, escapes, folding', async t => {
  const p = (s: string) => unparseTokens(parseTokens(b(s))!).toString('latin1')
  t.equal(p('To:a@b'), 'To: a@b\n')
  t.equal(p('To : "a b" < x @ y > (c)'), 'To: "a b" <x@y>(c)\n', 'no space after >, as qmail prints it')
  t.equal(p('To: "a(b)\\"c"'), 'To: "a\\(b\\)\\"c"\n')
  t.equal(p('To: [a\\]b]'), 'To: [a\\]b]\n')
  t.equal(p('To: g: a;'), 'To: g: a;\n')
  const many = Array.from({ length: 12 }, (_, i) => `user${i}@example.com`).join(', ')
  const out = p('To: ' + many)
  for (const line of out.split('\n')) t.ok(line.length <= 78, `line within 78: ${line}`)
  t.equal(out.replace(/\n {2}/g, ' '), 'To: ' + many + '\n', 'breaks only after commas, LF + two spaces')
  t.equal(
    unparseTokens([tok(T.ATOM, b('a')), tok(T.COMMA), tok(T.ATOM, b('b'))], 0).toString(),
    'a, b\n',
    'no limit',
  )
})

t.test('envelope form', async t => {
  t.equal(unquoteTokens(parseTokens(b('"a b"@[1.2.3.4] (c)'))!).toString(), 'a b@[1.2.3.4]')
  t.equal(unquoteTokens(parseTokens(b('<a,b:c;>'))!).toString(), '<a,b:c;>')
})

t.test('address list walker', async t => {
  const seen: string[] = []
  const walk = (s: string) =>
    walkAddressList(parseTokens(b(s))!, rev => {
      seen.push(unquoteTokens(rev.slice().reverse()).toString('latin1'))
      return rev
    })
  const printed = (s: string) => {
    const out = walk(s)
    return out && unparseTokens(out).toString('latin1')
  }
  t.equal(printed('To: a@b c@d'), 'To: a@b, c@d\n')
  t.same(seen.splice(0), ['c@d', 'a@b'], 'right to left')
  t.equal(printed('To: x y <a@b>, g: c, d;, <>'), 'To: x y <a@b>, g: c, d;, <>\n')
  t.same(seen.splice(0), ['', 'd', 'c', 'a@b'])
  t.equal(printed('To:'), 'To:\n')
  for (const bad of ['To: a: b', 'To: g: a;;', 'To: a>', 'To: x, g: a']) t.equal(walk(bad), null, bad)
  t.equal(printed('To: <a'), 'To: <a\n', 'a stray < is part of the address')
  t.same(walkAddressList([tok(T.ATOM, b('X'))], r => r)?.length, 1, 'shorter than name and colon')
})

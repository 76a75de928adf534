import t from 'tap'
import { InjectParseError } from '../src/inject/errors.js'
import { domainTokens, rewriteAddress, type RewriteDomains } from '../src/inject/rewrite.js'
import { parseTokens, unquoteTokens } from '../src/inject/token822.js'

const b = (s: string) => Buffer.from(s, 'latin1')
const d: RewriteDomains = {
  defaulthost: domainTokens('@', b('dh.example')),
  defaultdomain: domainTokens('.', b('dd.example')),
  plusdomain: domainTokens('.', b('pd.example')),
}
const rw = (s: string) =>
  unquoteTokens(rewriteAddress(parseTokens(b(s))!.reverse(), d).reverse()).toString('latin1')

t.test('rewriting rules in order', async t => {
  const cases: Array<[string, string]> = [
    ['', ''],
    ['x@[]', 'x@[]'],
    ['@r1,@r2:a@b.c', 'a@b.c'],
    ['@x:', ''],
    ['@', ''],
    ['.', ''],
    ['@host', ''],
    ['a@b.c.', 'a@b.c'],
    ['a@b.c..', 'a@b.c.'],
    ['a@', 'a@dh.example'],
    ['joe', 'joe@dh.example'],
    ['e@g+', 'e@g.pd.example'],
    ['e+', 'e+@dh.example'],
    ['b@c', 'b@c.dd.example'],
    ['b@[1.2.3.4]', 'b@[1.2.3.4]'],
    ['.dot', '.dot@dh.example'],
    ['a..b@x.y', 'a..b@x.y'],
    ['"a b"@c', 'a b@c.dd.example'],
  ]
  for (const [input, out] of cases) t.equal(rw(input), out, JSON.stringify(input))
})

t.test('an empty defaulthost and defaultdomain give a@.', async t => {
  const e: RewriteDomains = {
    ...d,
    defaulthost: domainTokens('@', b('')),
    defaultdomain: domainTokens('.', b('')),
  }
  t.equal(unquoteTokens(rewriteAddress(parseTokens(b('a'))!.reverse(), e).reverse()).toString(), 'a@.')
})

t.test('a control value that does not parse is fatal', async t => {
  t.throws(() => domainTokens('.', b('(x')), InjectParseError)
  try {
    domainTokens('@', b('"x'))
  } catch (err) {
    t.equal(
      (err as InjectParseError).stderr.toString(),
      'qmail-inject: fatal: unable to parse this line:\n@"x',
    )
  }
})

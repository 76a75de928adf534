import t from 'tap'
import { parseInjectArgs } from '../src/inject/args.js'

const a = (...s: string[]) => s.map(x => Buffer.from(x))

t.test('options', async t => {
  const r = parseInjectArgs(a('-aH', '-n', '-fx', '-f', '', '-N', '-h', 'r', '-a'), 'qmail-inject')
  t.same(r.flags.recipients, 'h')
  t.equal(r.flags.print, false)
  t.same(r.flags.senders.map(String), ['x', ''])
  t.same(r.operands.map(String), ['r', '-a'])
  t.equal(r.problem, undefined)
  t.same(parseInjectArgs(a('-A', '--', '-n'), 'q').operands.map(String), ['-n'])
  t.same(parseInjectArgs(a('-n', '-', 'x'), 'q').operands.map(String), ['-', 'x'])
  t.equal(parseInjectArgs(a('-n'), 'q').flags.print, true)
})

t.test('problems', async t => {
  t.equal(parseInjectArgs(a('-n', '-F', 'x'), 'qmail-inject').problem, 'qmail-inject: illegal option -- F\n')
  t.equal(parseInjectArgs(a('-i'), 'inject').problem, 'inject: illegal option -- i\n')
  t.equal(
    parseInjectArgs(a('-f'), 'qmail-inject').problem,
    'qmail-inject: option requires an argument -- f\n',
  )
  const r = parseInjectArgs(a('-f', 'a', '-x'), 'q')
  t.same(r.flags.senders.map(String), ['a'], 'options before the problem are kept')
})

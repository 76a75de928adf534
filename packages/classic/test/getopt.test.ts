import t from 'tap'
import { getopt, programName } from '../src/getopt.js'

const b = (...words: string[]) => words.map(w => Buffer.from(w, 'latin1'))
const opts = (r: ReturnType<typeof getopt>) =>
  r.options.map(o => (o.value !== undefined ? `${o.option}=${o.value.toString('latin1')}` : o.option))

t.test('bundled letters and values in both positions', async t => {
  const r = getopt(b('-aH', '-fx', '-f', 'y', '-f', '', 'rcpt'), 'aAhHnNf:', 'qmail-inject')
  t.same(opts(r), ['a', 'H', 'f=x', 'f=y', 'f='])
  t.same(r.operands, b('rcpt'))
  t.equal(r.problem, undefined)
})

t.test('stops at the first operand; -- is consumed, a lone - is kept', async t => {
  t.same(getopt(b('x@y', '-H'), 'H', 'p').operands, b('x@y', '-H'))
  const dd = getopt(b('-H', '--', '-a'), 'aH', 'p')
  t.same([opts(dd), dd.operands], [['H'], b('-a')])
  const lone = getopt(b('-H', '-', '-a'), 'aH', 'p')
  t.same([opts(lone), lone.operands], [['H'], b('-', '-a')])
})

t.test('problems are reported in djb style', async t => {
  t.equal(
    getopt(b('-aF'), 'aAhHnNf:', 'qmail-inject').problem?.message,
    'qmail-inject: illegal option -- F\n',
  )
  t.equal(
    getopt(b('-f'), 'f:', 'qmail-inject').problem?.message,
    'qmail-inject: option requires an argument -- f\n',
  )
  t.equal(getopt(b('-a', '-f'), 'af:', 'x').problem?.kind, 'missing-argument')
})

t.test('programName is the base name of argv[0]', async t => {
  t.equal(programName('/var/hvmail-client/bin/qmail-inject'), 'qmail-inject')
  t.equal(programName(Buffer.from('sendmail')), 'sendmail')
})

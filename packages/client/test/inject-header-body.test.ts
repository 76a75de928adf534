import t from 'tap'
import { splitMessage } from '../src/inject/header-body.js'

const split = (s: string) => {
  const r = splitMessage(Buffer.from(s, 'latin1'))
  return { fields: r.fields.map(f => f.toString('latin1')), body: Buffer.concat(r.body).toString('latin1') }
}

t.test('header and body', async t => {
  t.same(split('A: 1\n  more\n\tmore\nB: 2\n\nbody\n'), {
    fields: ['A: 1\n  more\n\tmore\n', 'B: 2\n'],
    body: '\nbody\n',
  })
  t.same(split(''), { fields: [], body: '' })
  t.same(split('A: 1'), { fields: ['A: 1\n'], body: '' }, 'last line gets an LF')
  t.same(split('A: 1\n\nx'), { fields: ['A: 1\n'], body: '\nx\n' })
  t.same(split('From x\n more\nA: 1\n'), { fields: ['MBOX-Line: From x\n more\n', 'A: 1\n'], body: '' })
  t.same(split('A: 1\nnot a field\nB: 2\n'), { fields: ['A: 1\n'], body: '\nnot a field\nB: 2\n' })
  t.same(split('A: 1\r\n\r\nb\r\n'), { fields: ['A: 1\r\n'], body: '\n\r\nb\r\n' })
  t.same(split('\n'), { fields: [], body: '\n' })
})

t.test('every split of a long header line ends up in one field', async t => {
  const line = 'Subject: ' + 'x'.repeat(1 << 20) + '\n'
  const r = splitMessage(Buffer.from(line + '\nb\n'))
  t.equal(r.fields.length, 1)
  t.equal(r.fields[0]!.length, line.length)
})

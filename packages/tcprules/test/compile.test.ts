import { readFileSync } from 'node:fs'
import t from 'tap'
import { compileRules, compileRulesToBuffer, forEachRecord } from '../src/compile.js'

t.test('records in file order, one per key', t => {
  const recs = compileRules('1.2.3.4:allow,A="first"\n1.2.3.4:deny\n1.2.3.4-5:allow,A="range"\n')
  t.same(
    recs.map(([k, v]) => [k.toString(), v.toString('latin1')]),
    [
      ['1.2.3.4', '+A=first\0'],
      ['1.2.3.4', 'D\0'],
      ['1.2.3.4', '+A=range\0'],
      ['1.2.3.5', '+A=range\0'],
    ],
  )
  t.end()
})

t.test('the worked example of the reference: 2079 bytes', t => {
  const cdb = compileRulesToBuffer('1.2.3.4:allow\n')
  t.equal(cdb.length, 2079)
  t.equal(cdb.readUInt32LE(207 * 8 + 4), 2)
  t.same(
    compileRulesToBuffer(''),
    Buffer.concat(Array.from({ length: 256 }, () => Buffer.from([0, 8, 0, 0, 0, 0, 0, 0]))),
  )
  t.end()
})

t.test('a fixture compiles to the bytes Debian tcprules wrote', t => {
  const dir = new URL('../../../fixtures/tcprules/', import.meta.url)
  const text = readFileSync(new URL('10-greenarrow-qmqp.rules', dir))
  t.same(compileRulesToBuffer(text), readFileSync(new URL('10-greenarrow-qmqp.cdb', dir)))
  t.end()
})

t.test('records before a bad line were handed over', t => {
  const seen: string[] = []
  t.throws(() => forEachRecord(Buffer.from('1:allow\n2:nope\n'), {}, k => seen.push(k.toString())), {
    name: 'RulesSyntaxError',
    line: 2,
  })
  t.same(seen, ['1'])
  t.end()
})

import { readdirSync, readFileSync } from 'node:fs'
import t from 'tap'
import { CdbReader } from '@qmqpkit/cdb'
import { compileRules, compileRulesToBuffer } from '../src/compile.js'
import { decompileRules } from '../src/decompile.js'
import { RulesSyntaxError } from '../src/errors.js'
import { generateRulesFile, makeRng } from '../../../test/lib/rules-gen.js'

const b = (s: string) => Buffer.from(s, 'latin1')

t.test('fixtures decompile to rules that compile to the same bytes', t => {
  const dir = new URL('../../../fixtures/tcprules/', import.meta.url)
  for (const f of readdirSync(dir).filter(f => f.endsWith('.cdb'))) {
    const cdb = readFileSync(new URL(f, dir))
    const dialect = f.startsWith('11-') ? 'ipv6' : 'ipv4'
    const text = decompileRules(CdbReader.fromBuffer(cdb).entries(), dialect)
    t.same(compileRulesToBuffer(text, { dialect }), cdb, f)
  }
  t.end()
})

t.test('generated files round-trip', t => {
  const rng = makeRng(99)
  let n = 0
  for (let i = 0; i < 300; i++) {
    const g = generateRulesFile(rng, { invalidRate: 0 })
    let cdb: Buffer
    try {
      cdb = compileRulesToBuffer(g.text)
    } catch (err) {
      if (err instanceof RulesSyntaxError) continue
      throw err
    }
    n++
    const text = decompileRules(CdbReader.fromBuffer(cdb).entries())
    if (!compileRulesToBuffer(text).equals(cdb))
      t.fail(`seed 99 case ${i}: ${JSON.stringify(g.text.toString('latin1'))}`)
  }
  t.ok(n > 150, `${n} databases round-tripped`)
  t.end()
})

t.test('awkward records', t => {
  const records: Array<[Buffer, Buffer]> = [
    [b('1.3-4.'), b('')],
    [b('a.5.x-y'), b('D\0')],
    [b('k'), b('+A="\'|/=x\0+,B=\0')],
    [b('v'), b('+A=x\0y\0+B=1\0')],
  ]
  const text = decompileRules(records)
  t.same(
    compileRules(text).map(([k, v]) => [k.toString('latin1'), v.toString('latin1')]),
    records.map(([k, v]) => [k.toString('latin1'), v.toString('latin1')]),
  )
  for (const [key, data] of [
    [b('x-y'), b('')],
    [b('#k'), b('')],
    [b('a\nb'), b('')],
    [b('::1'), b('')],
    [b('k'), b('Z\0')],
    [b('k'), b('+A\0')],
    [b('k'), b('+A=1')],
  ] as Array<[Buffer, Buffer]>) {
    t.throws(
      () => decompileRules([[key, data]]),
      { code: 'TCPRULES_ERR_USAGE' },
      JSON.stringify([key.toString(), data.toString()]),
    )
  }
  t.same(decompileRules([[b('::1'), b('')]], 'ipv6'), b('::1:allow\n'))
  t.throws(() => decompileRules([[b('a:allow'), b('')]], 'ipv6'))
  t.end()
})

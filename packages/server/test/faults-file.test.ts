import t from 'tap'
import { writeFileSync } from 'node:fs'
import { readFaultsFile } from '../src/faults/file.js'

t.test('faults files: an array or { faults }, every rule checked', async t => {
  const dir = t.testdir()
  const rule = { match: { to: 'a@' }, action: { reply: 'Z' } }
  writeFileSync(`${dir}/a.json`, JSON.stringify([rule]))
  writeFileSync(`${dir}/b.json`, JSON.stringify({ faults: [rule, rule] }))
  writeFileSync(`${dir}/bad.json`, JSON.stringify([rule, { action: { reply: 'X' } }]))
  writeFileSync(`${dir}/nojson.json`, '{')
  writeFileSync(`${dir}/shape.json`, '{"rules": []}')
  t.same(readFaultsFile(`${dir}/a.json`), [rule])
  t.equal(readFaultsFile(`${dir}/b.json`).length, 2)
  t.throws(() => readFaultsFile(`${dir}/bad.json`), {
    name: 'FaultRuleError',
    message: /rule 2: action\.reply/,
  })
  t.throws(() => readFaultsFile(`${dir}/nojson.json`), { name: 'FaultRuleError', message: /not JSON/ })
  t.throws(() => readFaultsFile(`${dir}/shape.json`), {
    name: 'FaultRuleError',
    message: /expected an array/,
  })
  t.throws(() => readFaultsFile(`${dir}/missing.json`), { code: 'ENOENT' })
})

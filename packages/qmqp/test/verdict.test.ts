import t from 'tap'
import { isVerdict, verdictFromText } from '../src/verdict.js'

t.test('verdictFromText splits the code letter', async t => {
  t.same(verdictFromText('Kok'), { code: 'K', text: 'ok' })
  t.same(verdictFromText('Z'), { code: 'Z', text: '' })
  t.throws(() => verdictFromText('ok'), TypeError)
  t.throws(() => verdictFromText(''), TypeError)
})

t.test('isVerdict', async t => {
  t.ok(isVerdict({ code: 'D', text: 'no' }))
  t.notOk(isVerdict({ code: 'X', text: 'no' }))
  t.notOk(isVerdict({ code: 'K' }))
  t.notOk(isVerdict(null))
  t.notOk(isVerdict({ verdict: { code: 'K', text: '' } }))
})

import t from 'tap'
import { fieldNamed, fieldValid, knownField, H } from '../src/inject/header-fields.js'

const b = (s: string) => Buffer.from(s, 'latin1')

t.test('known names: any case, blanks before the colon', async t => {
  t.equal(knownField(b('TO  : x\n')), H.TO)
  t.equal(knownField(b('resent-BCC:\t\n')), H.R_BCC)
  t.equal(knownField(b('Content-Length: 1\n')), H.CONTENTLENGTH)
  t.equal(knownField(b('To-Do: x\n')), undefined)
  t.equal(knownField(b('Resent_To: x\n')), undefined, 'a dash must be a dash')
  t.equal(knownField(b('To\n')), undefined)
  t.equal(knownField(b('T')), undefined)
  t.ok(fieldNamed(b('x-greenarrow-MAILCLASS : y'), 'x-greenarrow-mailclass'))
})

t.test('valid field lines', async t => {
  t.ok(fieldValid(b('X-A: b\n')))
  t.ok(fieldValid(b('Name \t: b\n')))
  for (const s of ['Bad Name: x\n', ' To: a\n', ': x\n', 'no colon\n', 'caf\xe9: x\n', '\r\n'])
    t.notOk(fieldValid(b(s)), JSON.stringify(s))
})

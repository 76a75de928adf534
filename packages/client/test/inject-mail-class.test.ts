import t from 'tap'
import { InjectConfigError } from '../src/inject/errors.js'
import { applyMailClass, mailClassFromEnv, unsupportedWarnings } from '../src/inject/mail-class.js'

const env = (o: Record<string, string>) =>
  new Map(Object.entries(o).map(([k, v]) => [k, Buffer.from(v, 'latin1')]))
const f = (s: string) => Buffer.from(s)

t.test('setting from the environment', async t => {
  t.equal(mailClassFromEnv(env({})), undefined)
  t.same(mailClassFromEnv(env({ GREENARROW_MAILCLASS: 'tr\xe9' })), {
    value: Buffer.from('tr\xe9', 'latin1'),
    mode: 'add-if-missing',
  })
  t.equal(
    mailClassFromEnv(env({ GREENARROW_MAILCLASS: '', QMQPKIT_MAILCLASS_MODE: 'replace' }))?.mode,
    'replace',
  )
  t.equal(
    mailClassFromEnv(env({ GREENARROW_MAILCLASS: 'x', QMQPKIT_MAILCLASS_MODE: '' }))?.mode,
    'add-if-missing',
  )
  t.throws(() => mailClassFromEnv(env({ QMQPKIT_MAILCLASS_MODE: 'always' })), InjectConfigError)
})

t.test('applying it', async t => {
  const fields = [f('Subject: s\n'), f('X-GreenArrow-MailClass: mine\n')]
  const value = f('ours')
  t.same(
    applyMailClass([f('Subject: s\n')], { value, mode: 'add-if-missing' }).add?.toString(),
    'X-GreenArrow-MailClass: ours\n',
  )
  t.equal(applyMailClass(fields, { value, mode: 'add-if-missing' }).add, undefined)
  const replaced = applyMailClass(fields, { value, mode: 'replace' })
  t.same(replaced.fields.map(String), ['Subject: s\n'])
  t.equal(replaced.add?.toString(), 'X-GreenArrow-MailClass: ours\n')
  t.same(applyMailClass(fields, { value, mode: 'off' }), { add: undefined, fields })
  t.same(applyMailClass(fields, undefined).fields, fields)
})

t.test('unsupported variables warn', async t => {
  t.same(unsupportedWarnings(env({ GREENARROW_LISTID: '' })), [
    'qmail-inject: warning: GREENARROW_LISTID is not supported by the QMQP Sending Service; ignored',
  ])
  t.same(unsupportedWarnings(env({ OTHER: 'x' })), [])
})

import t from 'tap'
import { QMAIL_QUEUE_CRASHED, qmailQueueEnvelope, qmailQueueFailure } from '../src/qmail-queue.js'
import { queueExitReplies } from '../../../test/lib/qmqp-fixtures.js'

t.test('qmail.c table of queue exit codes (qmqp.md §4)', async t => {
  const table = queueExitReplies()
  for (const [code, text] of table) {
    const v = qmailQueueFailure(code)
    t.equal(v.code + v.text, text, `exit ${code}`)
  }
  t.same(QMAIL_QUEUE_CRASHED, { code: 'Z', text: 'qq crashed (#4.3.0)' })
})

t.test('envelope: F<sender>\\0 T<rcpt>\\0 … \\0', async t => {
  t.same(
    qmailQueueEnvelope(Buffer.from('a@b'), [Buffer.from('c@d'), Buffer.from('e@f')]),
    Buffer.from('Fa@b\0Tc@d\0Te@f\0\0'),
  )
  t.same(qmailQueueEnvelope(Buffer.alloc(0), []), Buffer.from('F\0\0'))
})

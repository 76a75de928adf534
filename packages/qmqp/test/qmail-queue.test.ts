import t from 'tap'
import { QMAIL_QUEUE_CRASHED, qmailQueueEnvelope, qmailQueueFailure } from '../src/qmail-queue.js'

t.test('qmail.c table of queue exit codes (qmqp.md §4)', async t => {
  const table: Array<[number, string]> = [
    [11, 'Denvelope address too long for qq (#5.1.3)'],
    [115, 'Denvelope address too long for qq (#5.1.3)'],
    [31, 'Dmail server permanently rejected message (#5.3.0)'],
    [51, 'Zqq out of memory (#4.3.0)'],
    [52, 'Zqq timeout (#4.3.0)'],
    [53, 'Zqq write error or disk full (#4.3.0)'],
    [54, 'Zqq read error (#4.3.0)'],
    [55, 'Zqq unable to read configuration (#4.3.0)'],
    [56, 'Zqq trouble making network connection (#4.3.0)'],
    [61, 'Zqq trouble in home directory (#4.3.0)'],
    [62, 'Zqq trouble creating files in queue (#4.3.0)'],
    [66, 'Zqq trouble creating files in queue (#4.3.0)'],
    [71, 'Zmail server temporarily rejected message (#4.3.0)'],
    [72, 'Zconnection to mail server timed out (#4.4.1)'],
    [73, 'Zconnection to mail server rejected (#4.4.1)'],
    [74, 'Zcommunication with mail server failed (#4.4.2)'],
    [81, 'Zqq internal bug (#4.3.0)'],
    [91, 'Zqq internal bug (#4.3.0)'],
    [120, 'Zunable to exec qq (#4.3.0)'],
    [12, 'Dqq permanent problem (#5.3.0)'],
    [40, 'Dqq permanent problem (#5.3.0)'],
    [41, 'Zqq temporary problem (#4.3.0)'],
    [1, 'Zqq temporary problem (#4.3.0)'],
    [255, 'Zqq temporary problem (#4.3.0)'],
  ]
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

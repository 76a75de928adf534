import t from 'tap'
import { encodeReply, parseReply, ReplyDecoder, MAX_REPLY_BYTES } from '../src/response.js'
import { QmqpReplyError } from '../src/errors.js'

t.test('replies encode as one netstring and parse back', async t => {
  const k = encodeReply({ code: 'K', text: 'ok 1796398890 qp 19011' })
  t.equal(k.toString(), '23:Kok 1796398890 qp 19011,')
  t.same(parseReply(k), { code: 'K', text: 'ok 1796398890 qp 19011' })
  for (const v of [
    { code: 'Z', text: 'qq temporary problem (#4.3.0)' },
    { code: 'D', text: "sorry, I can't accept addresses like that (#5.1.3)" },
    { code: 'D', text: '' },
    { code: 'K', text: 'déjà vu ✓' },
  ] as const)
    t.same(parseReply(encodeReply(v)), v)
})

t.test('the decoder takes a reply at any split and ignores what follows', async t => {
  const bytes = Buffer.concat([encodeReply({ code: 'Z', text: 'later' }), Buffer.from('junk')])
  for (let cut = 0; cut <= bytes.length; cut++) {
    const d = new ReplyDecoder()
    const first = d.push(bytes.subarray(0, cut))
    const v = first ?? d.push(bytes.subarray(cut))
    t.same(v, { code: 'Z', text: 'later' }, `cut ${cut}`)
    t.same(d.verdict, v)
  }
})

t.test('garbage is a QmqpReplyError, like nullmailer and unlike qmail-qmqpc', async t => {
  t.throws(() => parseReply(Buffer.from('xyzKthanks')), QmqpReplyError)
  t.throws(() => parseReply(Buffer.from('6:Xthanks,')), {
    code: 'QMQP_ERR_REPLY',
    reason: 'bad-reply',
    temporary: true,
  })
  t.throws(() => parseReply(Buffer.from('0:,')), { code: 'QMQP_ERR_REPLY', reason: 'bad-reply' })
  t.throws(() => parseReply(Buffer.from('6:Kthan')), { code: 'QMQP_ERR_REPLY', reason: 'bad-reply' })
  t.throws(() => parseReply(Buffer.alloc(0)), { code: 'QMQP_ERR_REPLY', reason: 'no-reply' })
  t.throws(() => parseReply(Buffer.from(`${MAX_REPLY_BYTES + 1}:`)), {
    code: 'QMQP_ERR_REPLY',
    reason: 'bad-reply',
  })
})

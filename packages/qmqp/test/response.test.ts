import t from 'tap'
import { encodeReply, parseReply, ReplyDecoder, MAX_REPLY_BYTES } from '../src/response.js'
import { QmqpReplyError } from '../src/errors.js'
import type { Verdict } from '../src/verdict.js'
import { Prng, testSeed } from '../../../test/lib/prng.js'

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

t.test('a reply read whole and the same bytes read one at a time give the same answer', async t => {
  const seed = testSeed()
  const rnd = new Prng(seed)
  const outcome = (feed: (d: ReplyDecoder) => Verdict | undefined) => {
    try {
      return { verdict: feed(new ReplyDecoder()) }
    } catch (err) {
      const e = err as QmqpReplyError
      return { error: [e.name, e.reason, e.message] }
    }
  }
  const variants = [
    (b: Buffer) => b,
    (b: Buffer) => Buffer.concat([Buffer.from('0'), b]), // a leading zero
    (b: Buffer) => b.subarray(0, rnd.int(b.length + 1)), // cut short
    (b: Buffer) => Buffer.concat([b.subarray(0, b.length - 1), Buffer.from(rnd.pick([';', 'K', '']))]),
    (b: Buffer) => Buffer.concat([b, rnd.bytes(rnd.int(4))]), // something after it
    (b: Buffer) => {
      const c = Buffer.from(b)
      c[rnd.int(c.length)] = rnd.int(256)
      return c
    },
  ]
  let checked = 0
  for (let i = 0; i < 3000; i++) {
    const text = rnd.bytes(rnd.pick([0, 1, 5, 30, 300]), Buffer.from('ok qp 123 é\r\n:,')).toString('latin1')
    const code = rnd.pick(['K', 'Z', 'D', 'X', ''])
    const reply = Buffer.from(`${Buffer.byteLength(code + text)}:${code}${text},`)
    const bytes = rnd.pick(variants)(reply)
    const whole = outcome(d => d.push(bytes))
    const bytewise = outcome(d => {
      let v: Verdict | undefined
      for (let j = 0; j < bytes.length && v === undefined; j++) v = d.push(bytes.subarray(j, j + 1))
      return v
    })
    t.same(whole, bytewise, `seed ${seed}, case ${i}: ${JSON.stringify(bytes.toString('latin1'))}`)
    checked++
  }
  t.equal(checked, 3000)
})

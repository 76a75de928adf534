import t from 'tap'
import { encodeReply, parseReply } from '@qmqpkit/qmqp'
import { faultPlan, garbleReply } from '../src/faults/plan.js'

const K = { code: 'K' as const, text: 'ok 1 qp 2' }
const Z = { code: 'Z' as const, text: 'backend down' }

t.test('no fault: deliver, reply as is', async t => {
  const p = faultPlan(undefined)
  t.ok(p.deliver)
  t.same(p.reply(K), K)
  t.same(p.names, [])
})

t.test('reply faults do not deliver; texts default', async t => {
  const p = faultPlan({ reply: 'D', delayMs: 20 })
  t.notOk(p.deliver)
  t.equal(p.preset?.code, 'D')
  t.match(p.preset?.text, /fault rule/)
  t.same(p.reply(p.preset!), { verdict: p.preset, delayMs: 20 })
  t.same(p.names, ['delay:20', 'reply:D'])
  t.equal(faultPlan({ reply: 'Z', text: 'try later' }).preset?.text, 'try later')
})

t.test('drops', async t => {
  const before = faultPlan({ drop: 'before-reply' })
  t.notOk(before.deliver)
  t.same(before.reply(K), { close: 'before-reply' })
  t.equal(before.seen(K), null)
  const after = faultPlan({ drop: 'after-store' })
  t.ok(after.deliver)
  t.same(after.reply(K), { close: 'before-reply' })
  t.equal(after.seen(K), null)
  t.same(after.reply(Z), { verdict: Z }, 'a failed store is answered as usual')
  t.same(after.seen(Z), Z)
})

t.test('garbled replies cannot be parsed', async t => {
  for (const mode of ['truncate', 'length'] as const) {
    const raw = garbleReply(encodeReply(K), mode)
    t.throws(() => parseReply(raw), mode)
  }
  const p = faultPlan({ garble: true })
  t.ok(p.deliver)
  t.same(p.names, ['garble:truncate'])
  t.ok(Buffer.isBuffer((p.reply(K) as { raw: Buffer }).raw))
})

t.test('delay and slow read alone deliver normally', async t => {
  const p = faultPlan({ delayMs: 5, slowReadBps: 100 })
  t.ok(p.deliver)
  t.same(p.reply(K), { verdict: K, delayMs: 5 })
  t.same(p.names, ['slow-read:100', 'delay:5'])
})

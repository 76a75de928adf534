import t from 'tap'
import { FaultBook, parseFaultRule, seededRandom } from '../src/faults/rules.js'
import { parseQuery, type MessageRecord } from '../src/query.js'

const rec = (to: string, namespace: string | null = null) =>
  ({
    recipients: [to],
    namespace,
    sender: 's@x',
    subject: null,
    headers: [],
    metadata: { mailClass: null, virtualMta: null, sendId: null, listId: null },
    connection: { remoteIp: '127.0.0.1', ruleKey: null },
    receivedAt: 0,
    verdict: null,
  }) as unknown as MessageRecord

t.test('rules are validated and errors name the field', async t => {
  t.same(parseFaultRule({ match: { to: 'a' }, action: { reply: 'Z' }, count: 2 }), {
    match: parseQuery({ to: 'a' }),
    action: { reply: 'Z' },
    count: 2,
    probability: null,
    seed: null,
  })
  const bad: Array<[unknown, RegExp]> = [
    [null, /JSON object/],
    [{ action: {} }, /does nothing/],
    [{ action: { reply: 'K' } }, /reply must be/],
    [{ action: { reply: 'Z', drop: 'after-store' } }, /choose one/],
    [{ action: { drop: 'sometimes' } }, /drop must be/],
    [{ action: { delayMs: -1 } }, /delayMs/],
    [{ action: { garble: 'maybe' } }, /garble/],
    [{ action: { text: 'x', delayMs: 1 } }, /text goes with/],
    [{ action: { slowReadBps: 0 } }, /slowReadBps/],
    [{ match: { to: 'x' }, action: { slowReadBps: 10 } }, /connection opens/],
    [{ action: { reply: 'Z' }, count: 0 }, /count/],
    [{ action: { reply: 'Z' }, probability: 0.5 }, /explicit seed/],
    [{ action: { reply: 'Z' }, seed: 1 }, /seed goes with/],
    [{ action: { reply: 'Z' }, extra: 1 }, /unknown field extra/],
    [{ action: { explode: true } }, /unknown action explode/],
  ]
  for (const [input, re] of bad)
    t.throws(() => parseFaultRule(input), { code: 'QMQPD_ERR_FAULT_RULE', message: re })
  t.throws(() => parseFaultRule({ match: { verdict: 'K' }, action: { reply: 'Z' } }), {
    code: 'QMQPD_ERR_QUERY',
  })
  t.throws(() => parseFaultRule({ match: { nope: 'x' }, action: { reply: 'Z' } }), {
    code: 'QMQPD_ERR_QUERY',
  })
})

t.test('the first matching rule applies; counted rules expire', async t => {
  const book = new FaultBook()
  const a = book.add({ match: { to: 'alpha' }, action: { reply: 'D' }, count: 2 })
  const b = book.add({ action: { delayMs: 5 } })
  t.equal(book.take(rec('alpha@x'), 'message')?.id, a.id)
  t.equal(book.take(rec('beta@x'), 'message')?.id, b.id)
  t.equal(book.take(rec('alpha@x'), 'message')?.id, a.id)
  t.equal(book.get(a.id), undefined, 'expired after two matches')
  t.equal(book.take(rec('alpha@x'), 'message')?.id, b.id)
  t.equal(book.get(b.id)?.hits, 2)
  t.equal(book.take(rec('alpha@x'), 'connection'), undefined, 'message rules are not connection rules')
})

t.test('namespaced rules are listed and cleared by namespace', async t => {
  const book = new FaultBook()
  book.add({ match: { namespace: 'blue' }, action: { reply: 'Z' } })
  book.add({ match: { namespace: 'red' }, action: { reply: 'Z' } })
  book.add({ action: { reply: 'Z' } })
  t.equal(book.take(rec('x', 'red'), 'message')?.match.namespace, 'red')
  t.equal(book.list('blue').length, 1)
  t.equal(book.clear('blue'), 1)
  t.equal(book.list().length, 2)
  t.equal(book.clear(), 2)
  t.notOk(book.remove('f1'))
})

t.test('probabilistic rules repeat with the same seed', async t => {
  const run = () => {
    const book = new FaultBook()
    book.add({ action: { reply: 'Z' }, probability: 0.3, seed: 42 })
    return Array.from({ length: 200 }, () => (book.take(rec('x'), 'message') ? 1 : 0)).join('')
  }
  const first = run()
  t.equal(run(), first)
  const hits = [...first].filter(c => c === '1').length
  t.ok(hits > 30 && hits < 90, `about 30% applied (${hits}/200)`)
  const r = seededRandom(7)
  const s = seededRandom(7)
  t.same([r(), r(), r()], [s(), s(), s()])
})

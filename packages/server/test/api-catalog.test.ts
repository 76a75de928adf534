import t from 'tap'
import { MessageCatalog } from '../src/api/catalog.js'
import type { MessageRecord } from '../src/query.js'

let n = 0
const rec = (namespace: string | null, receivedAt = Date.now(), size = 10) =>
  ({
    seq: 0,
    id: String(++n),
    namespace,
    receivedAt,
    recipients: [`${namespace}@x`],
    sender: 's@x',
    subject: null,
    headers: [],
    size,
    metadata: { mailClass: null, virtualMta: null, sendId: null, listId: null },
    connection: { remoteIp: '127.0.0.1', ruleKey: null },
    verdict: { code: 'K', text: 'ok' },
  }) as unknown as MessageRecord

t.test('lists page by a stable cursor, in either order', async t => {
  const c = new MessageCatalog()
  for (let i = 0; i < 25; i++) c.add(rec(i % 2 ? 'odd' : 'even'))
  const seen: number[] = []
  let cursor: number | undefined
  do {
    const page = c.list({ namespace: 'even' }, cursor === undefined ? { limit: 5 } : { cursor, limit: 5 })
    seen.push(...page.records.map(r => r.seq))
    cursor = page.nextCursor ?? undefined
    // Messages added while paging come after the cursor: nothing is skipped or repeated.
    c.add(rec('even'))
  } while (cursor !== undefined)
  t.same(seen, [...new Set(seen)], 'no repeats')
  t.same(
    seen,
    [...seen].sort((a, b) => a - b),
    'ascending',
  )
  t.ok(seen.length >= 13)
  const desc = c.list({}, { order: 'desc', limit: 3 })
  t.same(
    desc.records.map(r => r.seq),
    [c.cursor, c.cursor - 1, c.cursor - 2],
  )
  t.same(c.list({}, { order: 'desc', cursor: desc.nextCursor!, limit: 1 }).records[0]!.seq, c.cursor - 3)
})

t.test('wait: stored messages count without a cursor; later ones wake it', async t => {
  const c = new MessageCatalog()
  c.add(rec('a'))
  const now = await c.wait({ namespace: 'a' }, { timeoutMs: 1000 })
  t.equal(now.records.length, 1)
  t.notOk(now.timedOut)
  const later = c.wait({ namespace: 'a' }, { after: now.cursor, count: 2, timeoutMs: 10_000 })
  c.add(rec('b'))
  c.add(rec('a'))
  t.equal(c.waiting, 1)
  c.add(rec('a'))
  const got = await later
  t.same(
    got.records.map(r => r.namespace),
    ['a', 'a'],
  )
  t.equal(got.cursor, got.records[1]!.seq)
  t.equal(c.waiting, 0)
})

t.test('wait times out with what it found; abort ends it', async t => {
  const c = new MessageCatalog()
  c.add(rec('x'))
  const r = await c.wait({ namespace: 'x' }, { count: 3, timeoutMs: 20 })
  t.ok(r.timedOut)
  t.equal(r.records.length, 1)
  const ac = new AbortController()
  const p = c.wait({ namespace: 'y' }, { timeoutMs: 60_000, signal: ac.signal })
  ac.abort()
  t.ok((await p).timedOut)
  const pre = new AbortController()
  pre.abort()
  t.ok((await c.wait({ namespace: 'y' }, { timeoutMs: 60_000, signal: pre.signal })).timedOut)
  t.equal(c.waiting, 0)
})

t.test('remove gives a fresh cursor and takes removed records from pending waits', async t => {
  const c = new MessageCatalog()
  c.add(rec('a'))
  c.add(rec('b'))
  const pending = c.wait({}, { count: 3, timeoutMs: 50 })
  const { removed, cursor } = c.remove({ namespace: 'a' })
  t.equal(removed.length, 1)
  t.equal(cursor, c.cursor)
  t.equal(c.size, 1)
  t.equal(c.get(removed[0]!.id), undefined)
  const r = await pending
  t.same(
    r.records.map(x => x.namespace),
    ['b'],
  )
})

t.test('retention by count, bytes and age drops the oldest and reports them', async t => {
  const evicted: string[] = []
  const c = new MessageCatalog({ maxMessages: 3, maxBytes: 35 }, rs => evicted.push(...rs.map(r => r.id)))
  const ids = [1, 2, 3, 4].map(() => c.add(rec(null, Date.now(), 10)).id)
  t.same(evicted, [ids[0]])
  c.add(rec(null, Date.now(), 20))
  t.same(c.size, 2, 'bytes: 10 + 20 fit, 10 + 10 + 20 do not')
  t.equal(c.bytes, 30)
  const aged = new MessageCatalog({ maxAgeMs: 1000 })
  aged.add(rec(null, Date.now() - 5000))
  aged.add(rec(null))
  t.equal(aged.list({}).records.length, 1)
})

t.test('shutting down ends pending waits', async t => {
  const c = new MessageCatalog()
  const p = c.wait({}, { timeoutMs: 60_000 })
  c.cancelWaits()
  t.match(await p, { timedOut: true, records: [] })
  t.equal(c.waiting, 0)
})

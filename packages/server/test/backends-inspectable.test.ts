import t from 'tap'
import { join } from 'node:path'
import { text } from 'node:stream/consumers'
import type { Backend } from '../src/backend.js'
import {
  bytesFromJson,
  bytesToJson,
  connectionFromJson,
  connectionToJson,
  isInspectable,
  listLimit,
  type Inspectable,
} from '../src/backends/inspectable.js'
import { MemoryBackend } from '../src/backends/memory.js'
import { SqliteBackend } from '../src/backends/sqlite.js'
import { DiscardBackend } from '../src/backends/discard.js'
import { injected } from './lib/backends-message.js'

t.test('bytes survive JSON: UTF-8 as text, anything else as base64', async t => {
  t.equal(bytesToJson(Buffer.from('héllo')), 'héllo')
  const raw = Buffer.from([0xff, 0x00, 0xe9])
  t.same(bytesToJson(raw), { base64: raw.toString('base64') })
  for (const b of [Buffer.from('héllo'), raw, Buffer.alloc(0), Buffer.from([0xc3])])
    t.same(bytesFromJson(JSON.parse(JSON.stringify(bytesToJson(b)))), b)
  const c = injected({ env: [['X', raw]] }).connection
  t.same(connectionFromJson(connectionToJson(c)), c)
})

t.test('list limits are clamped', async t => {
  t.equal(listLimit(undefined), 100)
  t.equal(listLimit(0), 1)
  t.equal(listLimit(5.7), 5)
  t.equal(listLimit(1e9), 1000)
  t.equal(listLimit(Number.NaN), 100)
})

t.test('isInspectable tells the queryable backends', async t => {
  t.ok(isInspectable(new MemoryBackend()))
  t.notOk(isInspectable(new DiscardBackend()))
})

const kinds: Array<[string, (dir: string) => Promise<Backend & Inspectable>]> = [
  ['memory', async () => new MemoryBackend()],
  ['sqlite', async dir => SqliteBackend.open(join(dir, 'mail.db'))],
]

for (const [kind, make] of kinds) {
  t.test(`${kind}: list, filters, cursors, count, get, bodies, remove`, async t => {
    const backend = await make(t.testdir())
    t.teardown(() => backend.close())
    const base = 1_800_000_000_000
    const specs = [
      { id: 'a', namespace: 'n1', metadata: { mailClass: 'news', virtualMta: 'v1' }, receivedAt: base },
      { id: 'b', namespace: 'n1', metadata: { mailClass: 'alerts', sendId: 's2' }, receivedAt: base + 10 },
      { id: 'c', namespace: 'n2', recipients: ['one@x', 'two@x'], ruleKey: '10.', receivedAt: base + 20 },
      { id: 'd', namespace: null, sender: 'bounce@y', metadata: { listId: 'L' }, receivedAt: base + 30 },
      { id: 'e', namespace: 'n1', metadata: { mailClass: 'news' }, receivedAt: base + 40 },
    ]
    for (const spec of specs) t.equal((await backend.deliver(injected(spec))).code, 'K', spec.id)
    const ids = async (o: Parameters<Inspectable['list']>[0]) =>
      (await backend.list(o)).messages.map(m => m.id)

    t.same(await ids({}), ['a', 'b', 'c', 'd', 'e'])
    t.same(await ids({ order: 'desc' }), ['e', 'd', 'c', 'b', 'a'])
    t.same(await ids({ namespace: 'n1' }), ['a', 'b', 'e'])
    t.same(await ids({ namespace: null }), ['d'])
    t.same(await ids({ mailClass: 'news' }), ['a', 'e'])
    t.same(await ids({ virtualMta: 'v1' }), ['a'])
    t.same(await ids({ sendId: 's2' }), ['b'])
    t.same(await ids({ listId: 'L' }), ['d'])
    t.same(await ids({ ruleKey: '10.' }), ['c'])
    t.same(await ids({ recipient: 'two@x' }), ['c'])
    t.same(await ids({ recipient: Buffer.from('one@x') }), ['c'])
    t.same(await ids({ sender: 'bounce@y' }), ['d'])
    t.same(await ids({ since: base + 10, until: base + 30 }), ['b', 'c'])
    t.same(await ids({ namespace: 'n1', mailClass: 'news', since: base + 1 }), ['e'])
    t.equal(await backend.count(), 5)
    t.equal(await backend.count({ namespace: 'n1' }), 3)

    // Walk in pages of two, both ways.
    for (const order of ['asc', 'desc'] as const) {
      const seen: string[] = []
      let cursor: number | undefined
      for (let pages = 0; pages < 10; pages++) {
        const page = await backend.list({ limit: 2, order, ...(cursor !== undefined && { cursor }) })
        seen.push(...page.messages.map(m => m.id))
        if (page.nextCursor === null) break
        cursor = page.nextCursor
      }
      t.same(seen, order === 'asc' ? ['a', 'b', 'c', 'd', 'e'] : ['e', 'd', 'c', 'b', 'a'], order)
    }
    const last = await backend.list({ limit: 5 })
    t.equal(last.nextCursor, null, 'no further page when all fit')

    const c = await backend.get('c')
    t.same(c!.recipients.map(String), ['one@x', 'two@x'])
    t.equal(c!.verdict.code, 'K')
    t.equal(await backend.get('zz'), undefined)
    t.match(await text((await backend.openBody('c', 'delivered'))!), /^Received: .*\nSubject: test c/)
    t.match(await text((await backend.openBody('c', 'received'))!), /^Subject: test c/)

    t.equal(await backend.remove({ namespace: 'n1' }), 3)
    t.same(await ids({}), ['c', 'd'])
    t.equal(await backend.remove(), 2)
    t.equal(await backend.count(), 0)
    t.equal((await backend.deliver(injected({ id: 'f' }))).code, 'K', 'still stores after a removal')
    t.same(await ids({}), ['f'])
  })
}

t.test('memory: bodies are copied, so disposing the originals loses nothing', async t => {
  const backend = new MemoryBackend()
  const msg = injected({ id: 'copy', body: 'Subject: x\n\nhello\n' })
  await backend.deliver(msg)
  ;(await msg.received.read()).fill(0x21)
  t.equal(await text((await backend.openBody('copy', 'received'))!), 'Subject: x\n\nhello\n')
  await backend.close()
  t.equal((await backend.deliver(injected())).code, 'Z', 'closed')
})

t.test('memory: an unreadable body gets Z', async t => {
  const backend = new MemoryBackend()
  const msg = injected()
  await msg.received.dispose()
  const broken = {
    ...msg,
    received: { ...msg.received, size: 5, read: () => Promise.reject(new Error('gone')) },
  }
  t.same(await backend.deliver(broken), { code: 'Z', text: 'qq temporary problem (#4.3.0)' })
  t.equal(await backend.count(), 0)
})

import t from 'tap'
import net from 'node:net'
import { encodeRequest, parseReply, type Verdict } from '@qmqpkit/qmqp'
import { startQmqpd } from '@qmqpkit/server/testing'
import { Prng, testSeed } from './lib/prng.js'

// 100 senders in parallel from 10 loopback addresses, each address a namespace by its rule's
// QMQPD_NAMESPACE. Each namespace has waiters — in process and over HTTP, started before, during
// and after the sending, with and without a cursor — and each must see exactly its own messages.

const namespaces = Array.from({ length: 10 }, (_, i) => `ns${i}`)
const addressOf = (i: number) => `127.0.1.${i + 1}`
const rules =
  namespaces.map((ns, i) => `${addressOf(i)}:allow,QMQPD_NAMESPACE="${ns}"`).join('\n') + '\n:deny\n'

/** One QMQP request from a given local address; resolves to the reply. */
function sendFrom(port: number, localAddress: string, bytes: Buffer): Promise<Verdict> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ port, host: '127.0.0.1', localAddress, allowHalfOpen: true })
    const chunks: Buffer[] = []
    s.on('connect', () => s.end(bytes))
    s.on('data', d => chunks.push(d))
    s.on('error', reject)
    s.on('close', () => {
      try {
        resolve(parseReply(Buffer.concat(chunks)))
      } catch (err) {
        reject(err)
      }
    })
  })
}

t.test('parallel senders, namespaced waiters, no lost wake-ups', async t => {
  const seed = testSeed()
  const rnd = new Prng(seed)
  const srv = await startQmqpd({ rules })
  t.teardown(() => srv.close())
  const start = srv.cursor()

  // Each namespace gets 10 messages; who sends when is shuffled by the seed.
  const jobs = namespaces.flatMap((ns, i) => Array.from({ length: 10 }, (_, k) => ({ ns, i, k })))
  for (let j = jobs.length - 1; j > 0; j--) {
    const r = rnd.int(j + 1)
    ;[jobs[j], jobs[r]] = [jobs[r]!, jobs[j]!]
  }

  const httpWait = async (ns: string, after: string | null) => {
    const url = `${srv.apiUrl}/api/v1/wait?namespace=${ns}&count=10&timeout=60${after ? `&after=${after}` : ''}`
    const res = await fetch(url)
    t.equal(res.status, 200, `${ns} HTTP wait (seed ${seed})`)
    return ((await res.json()) as { messages: Array<{ id: string; namespace: string }> }).messages
  }
  // Before sending: half in process, half over HTTP, all after the starting cursor.
  const early = namespaces.map((ns, i) =>
    i % 2
      ? srv.waitFor({ namespace: ns }, { count: 10, after: start, timeoutMs: 60_000 })
      : httpWait(ns, start),
  )

  const replies = new Map<string, string[]>(namespaces.map(ns => [ns, []]))
  const midway: Array<Promise<Array<{ id: string; namespace: string | null }>>> = []
  await Promise.all(
    jobs.map(async ({ ns, i, k }, n) => {
      // Some waiters join while messages are arriving, without a cursor: stored ones count.
      if (n % 10 === 5) midway.push(srv.waitFor({ namespace: jobs[n]!.ns }, { count: 10, timeoutMs: 60_000 }))
      const body = `Subject: ${ns} message ${k}\n\nseed ${seed}\n`
      const verdict = await sendFrom(
        srv.port,
        addressOf(i),
        encodeRequest({ message: body, sender: `s@${ns}`, recipients: [`r${k}@${ns}`] }),
      )
      t.equal(verdict.code, 'K', `${ns}/${k} (seed ${seed})`)
      replies.get(ns)!.push(verdict.text.split(' ').pop()!)
    }),
  )
  const late = namespaces.map(ns => httpWait(ns, null))

  const expect = (ns: string) => [...replies.get(ns)!].sort()
  const results = await Promise.all(early)
  results.forEach((got, i) => {
    const ns = namespaces[i]!
    t.same(got.map(m => m.id).sort(), expect(ns), `early waiter of ${ns} saw exactly its own (seed ${seed})`)
    t.ok(got.every(m => m.namespace === ns))
  })
  for (const got of await Promise.all(midway)) {
    const ns = got[0]!.namespace!
    t.same(got.map(m => m.id).sort(), expect(ns), `midway waiter of ${ns} (seed ${seed})`)
  }
  for (const [i, got] of (await Promise.all(late)).entries())
    t.same(
      got.map(m => m.id).sort(),
      expect(namespaces[i]!),
      `late waiter of ${namespaces[i]} (seed ${seed})`,
    )
  t.equal(srv.inspection.catalog.waiting, 0, 'no waiter left behind')
  t.equal((await srv.messages()).length, 100)

  // Reset one namespace; a wait after the fresh cursor sees only what comes next.
  const { cursor } = await srv.reset('ns3')
  const next = srv.waitFor({ namespace: 'ns3' }, { after: cursor, timeoutMs: 10_000 })
  await sendFrom(
    srv.port,
    addressOf(3),
    encodeRequest({ message: 'Subject: after reset\n\n', sender: 's@x', recipients: ['r@x'] }),
  )
  t.same(
    (await next).map(m => m.subject),
    ['after reset'],
  )
  t.equal((await srv.messages({ namespace: 'ns3' })).length, 1)
  t.equal((await srv.messages()).length, 91)
})

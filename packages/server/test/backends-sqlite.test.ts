import t from 'tap'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { text } from 'node:stream/consumers'
import { createHash } from 'node:crypto'
import Database from 'better-sqlite3'
import { messageBodyFromFile } from '@qmqpkit/qmqp'
import { SqliteBackend, sqliteBackendFactory } from '../src/backends/sqlite.js'
import { decodeAddressList, encodeAddressList } from '../src/backends/sqlite-writer.js'
import { BackendOpenError, BackendSpecError } from '../src/backends/errors.js'
import { failingBody, injected } from './lib/backends-message.js'

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex')

async function bodyBytes(
  backend: SqliteBackend,
  id: string,
  part: 'received' | 'delivered',
): Promise<Buffer> {
  const stream = await backend.openBody(id, part)
  if (!stream) throw new Error(`no body for ${id}`)
  const chunks: Buffer[] = []
  for await (const c of stream) chunks.push(c as Buffer)
  return Buffer.concat(chunks)
}

t.test('a message is stored whole, with its envelope, connection and metadata', async t => {
  const path = join(t.testdir(), 'mail.db')
  const backend = await SqliteBackend.open(path)
  const latin = Buffer.from([0x63, 0x61, 0x66, 0xe9]) // not UTF-8: must come back byte for byte
  const msg = injected({
    id: 'one',
    sender: Buffer.from([0x61, 0xff, 0x40, 0x62]),
    recipients: ['x@example.net', 'y@example.net'],
    env: [
      ['PROTO', Buffer.from('TCP')],
      ['GREENARROW_MAILCLASS', latin],
    ],
    ruleKey: '127.',
    metadata: { mailClass: 'news', virtualMta: 'vmta1', sendId: 's1', listId: 'l1' },
    namespace: 'ns',
    faults: ['slow'],
  })
  const verdict = await backend.deliver(msg)
  t.equal(verdict.code, 'K')
  t.equal(verdict.text, `ok ${Math.floor(msg.receivedAt / 1000)} qp one`)
  await backend.close()

  // Everything is still there after reopening the file.
  const again = await SqliteBackend.open(path)
  t.teardown(() => again.close())
  const stored = await again.get('one')
  t.ok(stored)
  t.same(stored!.sender, msg.sender)
  t.same(stored!.recipients.map(String), ['x@example.net', 'y@example.net'])
  t.same(stored!.connection.env, msg.connection.env)
  t.equal(stored!.connection.ruleKey, '127.')
  t.equal(stored!.metadata.mailClass, 'news')
  t.equal(stored!.namespace, 'ns')
  t.same(stored!.faults, ['slow'])
  t.same(stored!.verdict, verdict)
  t.same(stored!.transcript, msg.transcript)
  t.equal(stored!.size, msg.received.size)
  t.equal(stored!.deliveredSize, msg.delivered.size)
  t.same(await bodyBytes(again, 'one', 'received'), await msg.received.read())
  t.same(await bodyBytes(again, 'one', 'delivered'), await msg.delivered.read())
  t.equal(await again.openBody('nope', 'received'), undefined)

  // The metadata columns and byte-preserving JSON are there for SQL too.
  const row = again.db
    .prepare('SELECT mail_class, virtual_mta, send_id, list_id, rule_key, connection FROM messages')
    .get() as Record<string, string>
  t.match(row, { mail_class: 'news', virtual_mta: 'vmta1', send_id: 's1', list_id: 'l1', rule_key: '127.' })
  t.same(JSON.parse(row.connection!).env[1], ['GREENARROW_MAILCLASS', { base64: latin.toString('base64') }])
  t.equal(again.db.pragma('journal_mode', { simple: true }), 'wal')
  t.same(again.settings, { journalMode: 'wal', synchronous: 2 }, 'the writer runs WAL with synchronous FULL')
})

t.test('a delivered body that is the received one is stored once', async t => {
  const backend = await SqliteBackend.open(join(t.testdir(), 'mail.db'))
  t.teardown(() => backend.close())
  const msg = injected({ id: 'same', delivered: 'same' })
  t.equal((await backend.deliver(msg)).code, 'K')
  t.equal(backend.db.prepare('SELECT count(*) FROM bodies').pluck().get(), 1)
  t.equal(await text((await backend.openBody('same', 'delivered'))!), (await msg.received.read()).toString())
})

t.test('concurrent deliveries share commits', async t => {
  const backend = await SqliteBackend.open(join(t.testdir(), 'mail.db'))
  t.teardown(() => backend.close())
  const msgs = Array.from({ length: 200 }, (_, i) => injected({ id: `c${i}` }))
  const verdicts = await Promise.all(msgs.map(m => backend.deliver(m)))
  t.same(new Set(verdicts.map(v => v.code)), new Set(['K']))
  t.equal(await backend.count(), 200)
  t.ok(backend.commits < 200, `${backend.commits} commits for 200 messages`)
})

t.test('a large body is streamed into chunk rows', async t => {
  const dir = t.testdir()
  const file = join(dir, 'big')
  const big = Buffer.alloc(3 * 1024 * 1024 + 12345)
  for (let i = 0; i < big.length; i++) big[i] = (i * 7 + (i >> 11)) & 0xff
  writeFileSync(file, big)
  const body = await messageBodyFromFile(file)
  const backend = await SqliteBackend.open(join(dir, 'mail.db'), { chunkBytes: 256 * 1024 })
  t.teardown(() => backend.close())
  const verdict = await backend.deliver(injected({ id: 'big', body, delivered: 'same' }))
  t.equal(verdict.code, 'K')
  const chunks = backend.db
    .prepare('SELECT length(data) FROM bodies ORDER BY chunk')
    .pluck()
    .all() as number[]
  t.equal(chunks.length, Math.ceil(big.length / (256 * 1024)))
  t.ok(
    chunks.slice(0, -1).every(n => n === 256 * 1024),
    'every row but the last is one chunk',
  )
  t.equal(sha(await bodyBytes(backend, 'big', 'received')), sha(big))
  t.equal((await backend.get('big'))!.size, big.length)
})

t.test('a failed delivery leaves nothing behind', async t => {
  const path = join(t.testdir(), 'mail.db')
  const backend = await SqliteBackend.open(path, { inlineBytes: 1024 })
  // Large: chunks were committed before the body failed; they are removed again.
  const large = await backend.deliver(
    injected({ id: 'bad', body: failingBody(1_000_000, 600_000), delivered: 'same' }),
  )
  t.same(large, { code: 'Z', text: 'qq write error or disk full (#4.3.0)' })
  // Small, read whole: fails before any write.
  const small = await backend.deliver(injected({ id: 'bad2', body: failingBody(100, 0), delivered: 'same' }))
  t.equal(small.code, 'Z')
  // A body shorter than it claims is not stored either.
  const short = injected({ body: 'x'.repeat(10_000) }).received
  const liar = {
    size: 2_000_000,
    stream: (range?: { start?: number; end?: number }) => short.stream(range),
    read: async () => Buffer.alloc(10),
    dispose: async () => {},
  }
  t.equal((await backend.deliver(injected({ id: 'short', body: liar, delivered: 'same' }))).code, 'Z')
  t.equal((await backend.deliver(injected({ id: 'good' }))).code, 'K')
  await backend.close()
  const db = new Database(path, { readonly: true })
  t.teardown(() => db.close())
  t.same(db.prepare('SELECT id FROM messages').pluck().all(), ['good'])
  t.equal(
    db.prepare('SELECT count(*) FROM bodies WHERE seq NOT IN (SELECT seq FROM messages)').pluck().get(),
    0,
  )
})

t.test('chunks of a message interrupted before its commit are removed on open', async t => {
  const path = join(t.testdir(), 'mail.db')
  const first = await SqliteBackend.open(path)
  t.equal((await first.deliver(injected({ id: 'kept' }))).code, 'K')
  // What a crash between staging chunks and committing the message row leaves.
  first.db.prepare('INSERT INTO bodies (seq, part, chunk, data) VALUES (99, 0, 0, ?)').run(Buffer.alloc(10))
  await first.close()
  const second = await SqliteBackend.open(path)
  t.teardown(() => second.close())
  t.equal(second.db.prepare('SELECT count(*) FROM bodies WHERE seq = 99').pluck().get(), 0)
  t.equal(await second.count(), 1)
  t.equal((await second.deliver(injected({ id: 'next' }))).code, 'K')
  t.same(
    (await second.list()).messages.map(m => m.id),
    ['kept', 'next'],
  )
})

t.test('after close, deliveries get Z', async t => {
  const backend = await SqliteBackend.open(join(t.testdir(), 'mail.db'))
  const pending = backend.deliver(injected({ id: 'inflight' }))
  await backend.close()
  t.equal((await pending).code, 'K', 'close waits for deliveries in progress')
  t.equal((await backend.deliver(injected())).code, 'Z')
  await backend.close()
})

t.test('specs and open failures', async t => {
  await t.rejects(sqliteBackendFactory.create('sqlite:', {}), BackendSpecError)
  await t.rejects(
    sqliteBackendFactory.create(`sqlite:${join(t.testdir(), 'missing', 'dir', 'mail.db')}`, {}),
    BackendOpenError,
  )
  const path = join(t.testdir(), 'future.db')
  const db = new Database(path)
  db.pragma('user_version = 99')
  db.close()
  await t.rejects(SqliteBackend.open(path), { code: 'SERVER_ERR_BACKEND_OPEN', message: /schema version 99/ })
  const made = await sqliteBackendFactory.create(`sqlite:${join(t.testdir(), 'ok.db')}`, {})
  t.match(made.name, /^sqlite:.*ok\.db$/)
  await made.close()
})

t.test('recipient lists are stored as netstrings in one column, byte for byte', async t => {
  const list = [Buffer.from('a@b'), Buffer.alloc(0), Buffer.from([0xff, 0x2c, 0x3a]), Buffer.from('x5:a@b,')]
  const blob = encodeAddressList(list)
  t.same(blob.subarray(0, 6), Buffer.from('3:a@b,'))
  t.same(decodeAddressList(blob), list)
  t.same(decodeAddressList(Buffer.alloc(0)), [])
  for (const bad of ['3:ab,', '3:abcd', 'x:a,', '2:ab;'])
    t.throws(() => decodeAddressList(Buffer.from(bad)), /malformed/, bad)

  // The recipient filter matches whole addresses only, never a netstring inside another.
  const backend = await SqliteBackend.open(join(t.testdir(), 'mail.db'))
  t.teardown(() => backend.close())
  await backend.deliver(injected({ id: 'tricky', recipients: ['x3:a@b,'] }))
  await backend.deliver(injected({ id: 'plain', recipients: ['c@d', 'a@b'] }))
  t.same(
    (await backend.list({ recipient: 'a@b' })).messages.map(m => m.id),
    ['plain'],
  )
  t.same(
    (await backend.list({ recipient: 'x3:a@b,' })).messages.map(m => m.id),
    ['tricky'],
  )
  t.equal(await backend.count({ recipient: 'nobody' }), 0)
})

t.test('concurrent large messages take turns with the shared chunk buffers', async t => {
  const backend = await SqliteBackend.open(join(t.testdir(), 'mail.db'), {
    chunkBytes: 64 * 1024,
    chunksInFlight: 2,
    inlineBytes: 1024,
  })
  t.teardown(() => backend.close())
  const bodies = Array.from({ length: 6 }, (_, i) => Buffer.alloc(1_000_000 + i * 777, `message ${i} `))
  const verdicts = await Promise.all(
    bodies.map((body, i) =>
      backend.deliver(
        injected({ id: `big${i}`, body, delivered: Buffer.concat([Buffer.from('R\n'), body]) }),
      ),
    ),
  )
  t.same(new Set(verdicts.map(v => v.code)), new Set(['K']))
  for (const [i, body] of bodies.entries()) {
    t.equal(sha(await bodyBytes(backend, `big${i}`, 'received')), sha(body), `big${i} received`)
    t.equal(
      sha(await bodyBytes(backend, `big${i}`, 'delivered')),
      sha(Buffer.concat([Buffer.from('R\n'), body])),
      `big${i} delivered`,
    )
  }
})

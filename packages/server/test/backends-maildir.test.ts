import t from 'tap'
import { rmSync, mkdirSync, readdirSync, readFileSync, statSync, utimesSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { messageBodyFrom, messageBodyFromFile } from '@qmqpkit/qmqp'
import { MaildirBackend, deliveryHeaders, maildirBackendFactory } from '../src/backends/maildir.js'
import { BackendOpenError, BackendSpecError } from '../src/backends/errors.js'
import { failingBody, injected } from './lib/backends-message.js'

t.test('a message lands in new/ with Return-Path and Delivered-To before the delivered form', async t => {
  const dir = join(t.testdir(), 'Maildir')
  const backend = await MaildirBackend.open(dir)
  t.teardown(() => backend.close())
  for (const sub of ['tmp', 'new', 'cur']) t.ok(statSync(join(dir, sub)).isDirectory(), `${sub}/ made`)
  const msg = injected({ id: 'one', sender: 'bounce@example.com', recipients: ['a@x.test', 'b@x.test'] })
  const verdict = await backend.deliver(msg)
  t.same(verdict, { code: 'K', text: `ok ${Math.floor(msg.receivedAt / 1000)} qp one` })
  t.same(readdirSync(join(dir, 'tmp')), [], 'nothing left in tmp/')
  const names = readdirSync(join(dir, 'new'))
  t.equal(names.length, 1)
  const content = readFileSync(join(dir, 'new', names[0]!))
  const expected = Buffer.concat([
    Buffer.from('Return-Path: <bounce@example.com>\nDelivered-To: a@x.test\nDelivered-To: b@x.test\n'),
    await msg.delivered.read(),
  ])
  t.same(content, expected)
  t.match(names[0], new RegExp(`^\\d+\\.M\\d+P${process.pid}Q1\\..*,S=${expected.length}$`))
  t.equal(statSync(join(dir, 'new', names[0]!)).mode & 0o777, 0o600)
})

t.test('the null sender and odd bytes in addresses', async t => {
  t.same(deliveryHeaders(Buffer.alloc(0), []), Buffer.from('Return-Path: <>\n'))
  t.same(
    deliveryHeaders(Buffer.from('a\nb'), [Buffer.from([0x72, 0xe9, 0x0d])]),
    Buffer.concat([
      Buffer.from('Return-Path: <a_b>\nDelivered-To: r'),
      Buffer.from([0xe9]),
      Buffer.from('_\n'),
    ]),
  )
})

t.test('many concurrent deliveries: each one file, each complete', async t => {
  const dir = t.testdir()
  const backend = await MaildirBackend.open(dir)
  t.teardown(() => backend.close())
  const msgs = Array.from({ length: 100 }, (_, i) => injected({ id: `c${i}`, recipients: [`r${i}@x`] }))
  const verdicts = await Promise.all(msgs.map(m => backend.deliver(m)))
  t.same(new Set(verdicts.map(v => v.code)), new Set(['K']))
  const names = readdirSync(join(dir, 'new'))
  t.equal(new Set(names).size, 100)
  const bodies = new Set(names.map(n => readFileSync(join(dir, 'new', n), 'latin1')))
  for (const [i, m] of msgs.entries())
    t.ok(
      bodies.has(
        `Return-Path: <sender@example.com>\nDelivered-To: r${i}@x\n${(await m.delivered.read()).toString()}`,
      ),
    )
})

t.test('a large body is streamed to the file', async t => {
  const dir = t.testdir()
  const src = join(dir, 'big')
  const big = Buffer.alloc(5 * 1024 * 1024, 'abcdefghij\n')
  writeFileSync(src, big)
  const backend = await MaildirBackend.open(join(dir, 'md'))
  t.teardown(() => backend.close())
  const verdict = await backend.deliver(
    injected({ body: 'x', delivered: await messageBodyFromFile(src), recipients: [] }),
  )
  t.equal(verdict.code, 'K')
  const [name] = readdirSync(join(dir, 'md', 'new'))
  t.same(
    readFileSync(join(dir, 'md', 'new', name!)),
    Buffer.concat([Buffer.from('Return-Path: <sender@example.com>\n'), big]),
  )
})

t.test('a large body without readInto is copied through its stream, byte for byte', async t => {
  const dir = t.testdir()
  const big = Buffer.alloc(700_000)
  for (let i = 0; i < big.length; i++) big[i] = (i * 13 + (i >> 10)) & 0xff
  const inner = messageBodyFrom(big)
  const plain = {
    size: inner.size,
    stream: (r?: { start?: number; end?: number }) => inner.stream(r),
    read: () => inner.read(),
    dispose: () => inner.dispose(),
  }
  const backend = await MaildirBackend.open(join(dir, 'md'))
  t.teardown(() => backend.close())
  t.equal((await backend.deliver(injected({ delivered: plain, recipients: ['a@b'] }))).code, 'K')
  const [name] = readdirSync(join(dir, 'md', 'new'))
  t.same(
    readFileSync(join(dir, 'md', 'new', name!)),
    Buffer.concat([Buffer.from('Return-Path: <sender@example.com>\nDelivered-To: a@b\n'), big]),
  )
})

t.test('a failed delivery leaves no file anywhere', async t => {
  const dir = t.testdir()
  const backend = await MaildirBackend.open(dir)
  t.teardown(() => backend.close())
  const verdict = await backend.deliver(injected({ delivered: failingBody(500_000, 200_000) }))
  t.same(verdict, { code: 'Z', text: 'qq write error or disk full (#4.3.0)' })
  const liar = { ...injected().delivered, size: 99_999 }
  const short = await backend.deliver(injected({ delivered: liar }))
  t.equal(short.code, 'Z', 'a body shorter than its size')
  t.same(readdirSync(join(dir, 'tmp')), [])
  t.same(readdirSync(join(dir, 'new')), [])
})

t.test('a maildir that cannot be written gives Z and keeps nothing', async t => {
  const dir = t.testdir()
  const backend = await MaildirBackend.open(dir)
  t.teardown(() => backend.close())
  // tmp/ replaced by a plain file: creating the temporary file fails (as root too).
  rmSync(join(dir, 'tmp'), { recursive: true })
  writeFileSync(join(dir, 'tmp'), '')
  t.same(await backend.deliver(injected()), { code: 'Z', text: 'qq temporary problem (#4.3.0)' })
  t.same(readdirSync(join(dir, 'new')), [])
})

t.test('stale tmp/ files are cleaned on open, fresh ones are left', async t => {
  const dir = t.testdir()
  mkdirSync(join(dir, 'tmp'), { recursive: true })
  writeFileSync(join(dir, 'tmp', 'old'), 'partial')
  const old = (Date.now() - 37 * 3600 * 1000) / 1000
  utimesSync(join(dir, 'tmp', 'old'), old, old)
  writeFileSync(join(dir, 'tmp', 'fresh'), 'another deliverer at work')
  const backend = await MaildirBackend.open(dir)
  await backend.close()
  await backend.close()
  t.same(readdirSync(join(dir, 'tmp')), ['fresh'])
  t.equal((await backend.deliver(injected())).code, 'Z', 'closed')
})

t.test('specs', async t => {
  await t.rejects(maildirBackendFactory.create('maildir:', {}), BackendSpecError)
  const file = join(t.testdir(), 'plain-file')
  writeFileSync(file, '')
  await t.rejects(maildirBackendFactory.create(`maildir:${file}`, {}), BackendOpenError)
  const b = await maildirBackendFactory.create(`maildir:${join(t.testdir(), 'm')}`, {})
  t.match(b.name, /^maildir:/)
  await b.close()
})

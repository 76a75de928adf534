import t, { type Test } from 'tap'
import net from 'node:net'
import { networkInterfaces } from 'node:os'
import { once } from 'node:events'
import { readdirSync } from 'node:fs'
import { PassThrough } from 'node:stream'
import {
  createQmqpServer,
  resolveLimits,
  connectionId,
  type QmqpServerOptions,
  type ServerEvent,
  type QmqpServer,
} from '../src/server-core.js'
import { encodeRequest } from '../src/request.js'
import { encodeReply, parseReply } from '../src/response.js'
import type { QmqpRequest } from '../src/request.js'
import { loadQmqpFixtures, sha256 } from '../../../test/lib/qmqp-fixtures.js'

interface Received {
  sender: Buffer
  recipients: Buffer[]
  message: Buffer
}

/** A server on 127.0.0.1:0 that records requests; stopped at teardown. */
async function start(t: Test, opts: Partial<QmqpServerOptions> = {}) {
  const received: Received[] = []
  const events: ServerEvent[] = []
  const server = createQmqpServer({
    onRequest: async (req: QmqpRequest) => {
      received.push({ sender: req.sender, recipients: req.recipients, message: await req.message.read() })
      await req.message.dispose()
      return { code: 'K', text: 'ok' }
    },
    onEvent: e => events.push(e),
    ...opts,
  })
  const { port } = await server.listen(0, '127.0.0.1')
  t.teardown(() => server.close())
  return { server, port, received, events }
}

/** Writes `bytes` (half-closing unless told not to) and returns everything read until the server closed. */
async function raw(port: number, bytes: Buffer | string, opts: { end?: boolean } = {}): Promise<string> {
  const s = net.connect(port, '127.0.0.1')
  const parts: Buffer[] = []
  s.on('data', d => parts.push(d))
  s.on('error', () => undefined)
  if (opts.end === false) s.write(bytes)
  else s.end(bytes)
  await once(s, 'close')
  return Buffer.concat(parts).toString('latin1')
}

const hasIpv6Loopback = Object.values(networkInterfaces()).some(list => list?.some(i => i.address === '::1'))

const replyText = (wire: string) => (wire === '' ? null : parseReply(Buffer.from(wire, 'latin1')))
const flat = (v: ReturnType<typeof replyText>) => (v ? v.code + v.text : null)

t.test('qmail mode: all 21 fixtures give the recorded reply or drop, envelope and message', async t => {
  const { port, received } = await start(t)
  for (const fx of loadQmqpFixtures()) {
    received.length = 0
    const reply = flat(replyText(await raw(port, fx.bytes)))
    if (fx.expect === 'drop') {
      t.equal(reply, null, `${fx.name}: dropped without a reply`)
      t.equal(received.length, 0, `${fx.name}: nothing passed on`)
    } else if (fx.expect === 'D') {
      t.equal(reply, fx.qmail.reply, `${fx.name}: qmail's D text`)
      t.equal(received.length, 0, `${fx.name}: nothing passed on`)
    } else {
      t.equal(reply, 'Kok', `${fx.name}: the handler's K`)
      t.equal(received.length, 1)
      t.same(
        [received[0]!.sender, received[0]!.recipients],
        [fx.envelope!.sender, fx.envelope!.recipients],
        `${fx.name}: envelope`,
      )
      t.equal(sha256(received[0]!.message), fx.message!.sha256, `${fx.name}: message sha256`)
    }
  }
})

t.test("compat 'postfix': the fixtures get Postfix qmqpd's answers", async t => {
  const { port, received } = await start(t, {
    limits: { compat: 'postfix' },
    onRequest: async req => {
      received.push({ sender: req.sender, recipients: req.recipients, message: await req.message.read() })
      await req.message.dispose()
      return { code: 'K', text: 'Ok: queued as 4F1A2B3C' }
    },
  })
  for (const fx of loadQmqpFixtures()) {
    const reply = flat(replyText(await raw(port, fx.bytes)))
    if (fx.postfix.reply_regex)
      t.match(reply, new RegExp(fx.postfix.reply_regex), `${fx.name}: ${fx.postfix.behaviour}`)
    else t.equal(reply, fx.postfix.reply, `${fx.name}: ${fx.postfix.behaviour}`)
  }
  t.same(
    received.find(r => r.recipients[0]?.equals(Buffer.from('rc')))?.recipients,
    [Buffer.from('rc')],
    'fixture 10: cut at the NUL',
  )
})

t.test('a message over maxMessageBytes is refused at its length, before the body is sent', async t => {
  const { port, received, events } = await start(t, { limits: { maxMessageBytes: 1000 } })
  const s = net.connect(port, '127.0.0.1')
  s.on('error', () => undefined)
  s.write('1030:1001:')
  const [data] = (await once(s, 'data')) as [Buffer]
  t.same(parseReply(data), {
    code: 'D',
    text: 'sorry, that message size exceeds my databytes limit (#5.3.4)',
  })
  s.destroy()
  t.equal(received.length, 0)
  t.ok(
    events.some(
      e => e.type === 'protocol-error' && e.reason === 'message-bytes-limit' && e.action === 'reply',
    ),
  )
  const custom = await start(t, { limits: { maxMessageBytes: 10, texts: { messageTooBig: 'Dtoo big' } } })
  t.equal(
    flat(
      replyText(
        await raw(custom.port, encodeRequest({ message: 'x'.repeat(11), sender: '', recipients: ['r'] })),
      ),
    ),
    'Dtoo big',
  )
  t.equal(
    flat(
      replyText(
        await raw(custom.port, encodeRequest({ message: 'x'.repeat(10), sender: '', recipients: ['r'] })),
      ),
    ),
    'Kok',
  )
})

t.test('maxRecipients: the whole request is read, then refused with the configured text', async t => {
  const { port, received } = await start(t, {
    limits: { maxRecipients: 2, texts: { tooManyRecipients: 'Dno more than two' } },
  })
  t.equal(
    flat(
      replyText(await raw(port, encodeRequest({ message: 'm', sender: 's', recipients: ['a', 'b', 'c'] }))),
    ),
    'Dno more than two',
  )
  t.equal(
    flat(replyText(await raw(port, encodeRequest({ message: 'm', sender: 's', recipients: ['a', 'b'] })))),
    'Kok',
  )
  t.equal(received.length, 1)
  t.throws(() => resolveLimits({ texts: { badAddress: 'no letter' } }), TypeError)
  t.throws(() => resolveLimits({ texts: { temporaryFailure: 'Dnot temporary' } }), TypeError)
})

t.test('idle and total timeouts drop by default, or answer the configured Z', async t => {
  const partial = '100:10:abc'
  const idleDrop = await start(t, { limits: { idleTimeoutMs: 50 } })
  t.equal(await raw(idleDrop.port, partial, { end: false }), '')
  t.ok(idleDrop.events.some(e => e.type === 'timeout' && e.kind === 'idle' && e.action === 'drop'))
  const idleZ = await start(t, { limits: { idleTimeoutMs: 50, texts: { idleTimeout: 'Ztimeout (#4.4.2)' } } })
  t.equal(flat(replyText(await raw(idleZ.port, partial, { end: false }))), 'Ztimeout (#4.4.2)')
  const total = await start(t, { limits: { totalTimeoutMs: 80, texts: { totalTimeout: 'Ztoo slow' } } })
  t.equal(flat(replyText(await raw(total.port, partial, { end: false }))), 'Ztoo slow')
  const totalDrop = await start(t, {
    limits: { totalTimeoutMs: 80 },
    onRequest: () => new Promise(() => undefined),
  })
  t.equal(
    await raw(totalDrop.port, encodeRequest({ message: 'm', sender: '', recipients: ['r'] })),
    '',
    'a handler that never answers',
  )
})

t.test('a throwing handler gives a temporary failure, never a K', async t => {
  const { port, events } = await start(t, {
    onRequest: async () => {
      throw new Error('backend down')
    },
  })
  t.equal(
    flat(replyText(await raw(port, encodeRequest({ message: 'm', sender: '', recipients: ['r'] })))),
    'Zqq temporary problem (#4.3.0)',
  )
  t.ok(events.some(e => e.type === 'request-error'))
})

t.test('reply plans: delay, raw bytes, close before the reply, verdict', async t => {
  const plans = [
    { delayMs: 30, verdict: { code: 'D' as const, text: 'later no' } },
    { raw: Buffer.from('garbage') },
    { close: 'before-reply' as const },
    {},
  ]
  let n = 0
  const { port } = await start(t, {
    onRequest: async req => {
      await req.message.dispose()
      return plans[n++]!
    },
  })
  const req = encodeRequest({ message: 'm', sender: '', recipients: ['r'] })
  t.equal(flat(replyText(await raw(port, req))), 'Dlater no')
  t.equal(await raw(port, req), 'garbage')
  t.equal(await raw(port, req), '')
  t.equal(
    flat(replyText(await raw(port, req))),
    'Zqq temporary problem (#4.3.0)',
    'a plan without a verdict is a Z',
  )
})

t.test('a client that leaves while the access hook decides is not waited for', async t => {
  let release!: () => void
  const deciding = new Promise<void>(r => (release = r))
  const { port, server, events } = await start(t, {
    onConnection: async () => {
      await deciding
      return { allow: true }
    },
  })
  const s = net.connect(port, '127.0.0.1')
  await once(s, 'connect')
  s.resetAndDestroy()
  while (server.connections === 0) await new Promise(r => setTimeout(r, 5))
  await new Promise(r => setTimeout(r, 20))
  release()
  for (let i = 0; i < 200 && server.connections > 0; i++) await new Promise(r => setTimeout(r, 10))
  t.equal(server.connections, 0)
  t.match(
    events.find(e => e.type === 'connection-close'),
    { outcome: 'client-abort' },
  )
})

t.test('the access hook refuses before any byte is read', async t => {
  const { port, received, events } = await start(t, {
    onConnection: facts => ({ allow: facts.remoteAddress !== '127.0.0.1' }),
  })
  t.equal(await raw(port, encodeRequest({ message: 'm', sender: '', recipients: ['r'] })), '')
  t.equal(received.length, 0)
  const close = events.find(e => e.type === 'connection-close')
  t.match(close, { outcome: 'refused', bytesRead: 0 })
  const withReply = await start(t, {
    onConnection: () => ({ allow: false, reply: { code: 'D', text: 'go away' } }),
  })
  t.equal(flat(replyText(await raw(withReply.port, 'x'))), 'Dgo away')
  const postfix = await start(t, { limits: { compat: 'postfix' }, onConnection: () => ({ allow: false }) })
  t.equal(
    flat(replyText(await raw(postfix.port, 'x'))),
    'DError: unknown[127.0.0.1] is not authorized to use this service',
  )
  const throwing = await start(t, {
    onConnection: () => {
      throw new Error('rules unreadable')
    },
  })
  t.equal(await raw(throwing.port, 'x'), '')
})

t.test('context and facts reach the handler; a throttled read still gives every byte', async t => {
  let seen: unknown
  const { port, received } = await start(t, {
    onConnection: () => ({ allow: true, context: { rule: 'r1' }, readBytesPerSecond: 200_000 }),
    onRequest: async (req, facts, transcript, context) => {
      seen = { context, family: facts.family, local: facts.localAddress, transcript }
      received.push({ sender: req.sender, recipients: req.recipients, message: await req.message.read() })
      return { code: 'K', text: 'ok' }
    },
  })
  const message = Buffer.alloc(50_000, 0x61)
  const t0 = Date.now()
  t.equal(
    flat(replyText(await raw(port, encodeRequest({ message, sender: 's', recipients: ['r1', 'r22'] })))),
    'Kok',
  )
  t.same(received[0]!.message, message)
  // Not a timing assertion on speed: 50,000 bytes at 200,000 bytes/s cannot take less than 250 ms.
  t.ok(Date.now() - t0 >= 240, 'the read was throttled')
  t.match(seen, {
    context: { rule: 'r1' },
    family: 'IPv4',
    local: '127.0.0.1',
    transcript: { messageLength: 50_000, senderLength: 1, recipientLengths: [2, 3] },
  })
  const tr = (
    seen as {
      transcript: { firstByteAt: number; bodyDoneAt: number; requestDoneAt: number; startedAt: number }
    }
  ).transcript
  t.ok(tr.startedAt <= tr.firstByteAt && tr.firstByteAt <= tr.bodyDoneAt && tr.bodyDoneAt <= tr.requestDoneAt)
})

t.test('large messages are spooled to a file; broken ones leave nothing behind', async t => {
  const dir = t.testdir()
  let spooledPath = ''
  const { port, events } = await start(t, {
    limits: { spoolThresholdBytes: 1024, spoolDir: dir },
    onRequest: async req => {
      spooledPath = readdirSync(dir)[0] ?? ''
      const body = await req.message.read()
      await req.message.dispose()
      return { code: 'K', text: `${body.length}` }
    },
  })
  t.equal(
    flat(
      replyText(
        await raw(
          port,
          encodeRequest({ message: Buffer.alloc(100_000, 0x62), sender: '', recipients: ['r'] }),
        ),
      ),
    ),
    'K100000',
  )
  t.match(spooledPath, /^qmqp-/)
  t.ok(events.some(e => e.type === 'request-parsed' && e.spooled))
  t.same(readdirSync(dir), [], 'disposed')
  const broken = encodeRequest({
    message: Buffer.alloc(100_000, 0x62),
    sender: '',
    recipients: ['r'],
  }).subarray(0, 60_000)
  t.equal(await raw(port, broken), '')
  t.same(readdirSync(dir), [], 'a truncated message is discarded')
})

t.test('a stalled client does not hold up others', async t => {
  const { port, server } = await start(t)
  const stalled = net.connect(port, '127.0.0.1')
  stalled.on('error', () => undefined)
  stalled.write('500:400:abc')
  await once(stalled, 'connect')
  const replies = await Promise.all(
    Array.from({ length: 50 }, (_, i) =>
      raw(port, encodeRequest({ message: `m${i}`, sender: '', recipients: ['r'] })),
    ),
  )
  t.same(
    replies.map(r => flat(replyText(r))),
    Array(50).fill('Kok'),
  )
  for (let i = 0; i < 200 && server.connections > 1; i++) await new Promise(r => setTimeout(r, 10))
  t.equal(server.connections, 1, 'the stalled one is still open')
  t.notOk(stalled.destroyed)
  await server.close()
  t.equal(server.connections, 0)
})

t.test('close(grace) lets an in-flight request finish', async t => {
  let release!: () => void
  const gate = new Promise<void>(r => (release = r))
  const { port, server } = await start(t, {
    onRequest: async req => {
      await req.message.dispose()
      await gate
      return { code: 'K', text: 'finished' }
    },
  })
  const pending = raw(port, encodeRequest({ message: 'm', sender: '', recipients: ['r'] }))
  while (server.connections === 0) await new Promise(r => setTimeout(r, 5))
  const closing = server.close(5000)
  setTimeout(release, 20)
  await closing
  t.equal(flat(replyText(await pending)), 'Kfinished')
})

t.test('handleStreams serves one request over a stream pair (stdio)', async t => {
  const events: string[] = []
  const server = createQmqpServer({
    onRequest: async req => ({ code: 'K', text: `${req.recipients.length}` }),
    onEvent: e => events.push(e.type),
  })
  const input = new PassThrough()
  const output = new PassThrough()
  const out: Buffer[] = []
  output.on('data', d => out.push(d))
  input.end(encodeRequest({ message: 'hi', sender: 'a', recipients: ['b', 'c'] }))
  await server.handleStreams(input, output, {
    id: connectionId(),
    remoteAddress: '192.0.2.1',
    remotePort: 1,
    localAddress: '192.0.2.2',
    localPort: 628,
    family: 'IPv4',
  })
  t.same(Buffer.concat(out), encodeReply({ code: 'K', text: '2' }))
  t.same(events, ['connection-open', 'request-parsed', 'reply-sent', 'connection-close'])
})

t.test('events tell the story of a connection', async t => {
  const { port, events } = await start(t)
  await raw(port, encodeRequest({ message: 'hello', sender: 's', recipients: ['r'] }))
  await raw(port, '5:x')
  while (events.filter(e => e.type === 'connection-close').length < 2)
    await new Promise(r => setTimeout(r, 5))
  t.same(
    events.map(e => e.type),
    [
      'connection-open',
      'request-parsed',
      'reply-sent',
      'connection-close',
      'connection-open',
      'protocol-error',
      'connection-close',
    ],
  )
  t.match(events[2], { verdict: { code: 'K', text: 'ok' }, bytes: 6 })
  t.match(events[5], { reason: 'length-syntax', stage: 'message', action: 'drop' })
  t.match(events[6], { outcome: 'drop' })
})

t.test('listens on IPv6 loopback too', { skip: !hasIpv6Loopback && 'no IPv6 loopback here' }, async t => {
  const server = createQmqpServer({ onRequest: async (_req, facts) => ({ code: 'K', text: facts.family }) })
  const addr = await server.listen(0, '::1')
  t.teardown(() => server.close())
  const s = net.connect(addr.port, '::1')
  const parts: Buffer[] = []
  s.on('data', d => parts.push(d))
  s.end(encodeRequest({ message: 'm', sender: '', recipients: ['r'] }))
  await once(s, 'close')
  t.same(parseReply(Buffer.concat(parts)), { code: 'K', text: 'IPv6' })
})

t.test('listen errors reject', async t => {
  const a = createQmqpServer({ onRequest: async () => ({ code: 'K', text: '' }) })
  const { port } = await a.listen(0, '127.0.0.1')
  t.teardown(() => a.close())
  const b: QmqpServer = createQmqpServer({ onRequest: async () => ({ code: 'K', text: '' }) })
  await t.rejects(b.listen(port, '127.0.0.1'), { code: 'EADDRINUSE' })
})

t.test('without hooks the facts are looked up when read, and are the same', async t => {
  const server = createQmqpServer({
    onRequest: async (_req, facts) => ({
      code: 'K',
      text: JSON.stringify({ ...facts, id: typeof facts.id }),
    }),
  })
  const { port } = await server.listen(0, '127.0.0.1')
  t.teardown(() => server.close())
  const s = net.connect(port, '127.0.0.1')
  const parts: Buffer[] = []
  s.on('data', d => parts.push(d))
  s.end(encodeRequest({ message: 'm', sender: '', recipients: ['r'] }))
  await once(s, 'connect')
  const localPort = s.localPort
  await once(s, 'close')
  t.same(JSON.parse(parseReply(Buffer.concat(parts)).text), {
    id: 'string',
    remoteAddress: '127.0.0.1',
    remotePort: localPort,
    localAddress: '127.0.0.1',
    localPort: port,
    family: 'IPv4',
  })
})

t.test('sockets accepted elsewhere: handleSocket resolves at the end, acceptSocket serves alike', async t => {
  const received: string[] = []
  const server = createQmqpServer({
    onRequest: async req => {
      received.push((await req.message.read()).toString())
      await req.message.dispose()
      return { code: 'K', text: 'ok' }
    },
  })
  const ended: string[] = []
  let n = 0
  const listener = net.createServer({ allowHalfOpen: true }, socket => {
    if (n++ === 0) void server.handleSocket(socket).then(() => ended.push('first'))
    else server.acceptSocket(socket, { address: '127.0.0.1', port: 1 })
  })
  listener.listen(0, '127.0.0.1')
  await once(listener, 'listening')
  t.teardown(async () => {
    await server.close()
    listener.close()
  })
  const port = (listener.address() as net.AddressInfo).port
  const request = (text: string) =>
    encodeRequest({ message: Buffer.from(text), sender: 'a@b', recipients: ['c@d'] })
  t.equal(flat(replyText(await raw(port, request('one')))), 'Kok')
  t.equal(flat(replyText(await raw(port, request('two')))), 'Kok')
  t.same(received, ['one', 'two'])
  while (server.connections > 0) await new Promise(resolve => setTimeout(resolve, 5))
  t.same(ended, ['first'])
})

t.test('eventTypes: only the events asked for are given to onEvent', async t => {
  const all = await start(t)
  const some = await start(t, { eventTypes: ['reply-sent', 'connection-close'] })
  const request = encodeRequest({ message: Buffer.from('hi'), sender: 'a@b', recipients: ['c@d'] })
  for (const s of [all, some]) {
    t.equal(flat(replyText(await raw(s.port, request))), 'Kok')
    while (s.server.connections > 0) await new Promise(resolve => setTimeout(resolve, 5))
  }
  t.same(
    all.events.map(e => e.type),
    ['connection-open', 'request-parsed', 'reply-sent', 'connection-close'],
  )
  t.same(
    some.events.map(e => e.type),
    ['reply-sent', 'connection-close'],
  )
})

import t, { type Test } from 'tap'
import net from 'node:net'
import { networkInterfaces } from 'node:os'
import { once } from 'node:events'
import { spawn } from 'node:child_process'
import { Readable } from 'node:stream'
import { send, parseServer, type SendOptions } from '../src/client.js'
import { createQmqpServer, type QmqpServerOptions } from '../src/server-core.js'
import { messageBodyFrom } from '../src/message-body.js'
import { encodeReply } from '../src/response.js'
import { QmqpConnectError, QmqpError, QmqpReplyError, QmqpTimeoutError } from '../src/errors.js'
import type { Verdict } from '../src/verdict.js'

/** Our server core answering `verdict`, recording what arrived. */
async function qmqpServer(
  t: Test,
  verdict: Verdict,
  opts: Partial<QmqpServerOptions> = {},
  host = '127.0.0.1',
) {
  const got: Array<{ sender: string; recipients: string[]; message: Buffer }> = []
  const server = createQmqpServer({
    onRequest: async req => {
      got.push({
        sender: req.sender.toString('latin1'),
        recipients: req.recipients.map(r => r.toString('latin1')),
        message: await req.message.read(),
      })
      await req.message.dispose()
      return verdict
    },
    ...opts,
  })
  const { port } = await server.listen(0, host)
  t.teardown(() => server.close())
  return { port, got, spec: host.includes(':') ? `[${host}]:${port}` : `${host}:${port}` }
}

/** A plain listener doing `onSocket` with every connection; closed at teardown. */
async function listener(t: Test, onSocket: (s: net.Socket) => void) {
  const open = new Set<net.Socket>()
  const server = net.createServer(s => {
    open.add(s)
    s.on('error', () => undefined)
    s.once('close', () => open.delete(s))
    onSocket(s)
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.teardown(async () => {
    for (const s of open) s.destroy()
    server.close()
    await once(server, 'close')
  })
  return `127.0.0.1:${(server.address() as net.AddressInfo).port}`
}

/** A loopback port where nothing listens. */
async function closedPort(): Promise<string> {
  const s = net.createServer()
  s.listen(0, '127.0.0.1')
  await once(s, 'listening')
  const port = (s.address() as net.AddressInfo).port
  s.close()
  await once(s, 'close')
  return `127.0.0.1:${port}`
}

const hasIpv6Loopback = Object.values(networkInterfaces()).some(list => list?.some(i => i.address === '::1'))

const failure = (p: Promise<unknown>) =>
  p.then(
    () => undefined,
    (err: unknown) => err,
  )

const msg = {
  message: 'Subject: hi\n\nhello\n',
  sender: 'a@example.com',
  recipients: ['b@example.net', 'c@example.org'],
}

t.test('parseServer accepts IPv4, IPv6, names and ports', async t => {
  t.match(parseServer('192.0.2.1'), { host: '192.0.2.1', port: 628 })
  t.match(parseServer('192.0.2.1:6628'), { host: '192.0.2.1', port: 6628 })
  t.match(parseServer('[::1]:6628'), { host: '::1', port: 6628 })
  t.match(parseServer('[2001:db8::1]'), { host: '2001:db8::1', port: 628 })
  t.match(parseServer('2001:db8::1'), { host: '2001:db8::1', port: 628 })
  t.match(parseServer(' mx.example.com:25 ', 628), { host: 'mx.example.com', port: 25 })
  t.match(parseServer('localhost', 7000), { host: 'localhost', port: 7000 })
  for (const bad of ['', 'host:0', 'host:70000', 'host:x', '[nope]:1', '1:2:3', 'bad host', 'h:1:'])
    t.throws(() => parseServer(bad), { code: 'QMQP_ERR_CONFIG' }, bad)
})

t.test('sends every kind of message source byte for byte', async t => {
  const { spec, got } = await qmqpServer(t, { code: 'K', text: 'ok' })
  const sources = [
    Buffer.from(msg.message),
    msg.message,
    messageBodyFrom(msg.message),
    { stream: Readable.from([Buffer.from(msg.message)]), size: Buffer.byteLength(msg.message) },
  ]
  for (const message of sources) {
    const r = await send({ ...msg, message }, { servers: [spec] })
    t.same(r.verdict, { code: 'K', text: 'ok' })
  }
  const r = await send(
    { ...msg, message: Readable.from([Buffer.from(msg.message)]), size: Buffer.byteLength(msg.message) },
    { servers: [spec] },
  )
  t.equal(r.server, spec)
  t.equal(r.remoteAddress, '127.0.0.1')
  t.ok(r.timings.totalMs >= r.timings.connectMs)
  t.equal(got.length, 5)
  for (const g of got)
    t.same(g, { sender: msg.sender, recipients: msg.recipients, message: Buffer.from(msg.message) })
  await t.rejects(send({ ...msg, message: Readable.from([]) }, { servers: [spec] }), {
    code: 'QMQP_ERR_CONFIG',
  })
  await t.rejects(send(msg, { servers: [] }), { code: 'QMQP_ERR_CONFIG' })
  await t.rejects(
    send({ ...msg, message: { stream: Readable.from([Buffer.from('abc')]), size: 10 } }, { servers: [spec] }),
    {
      code: 'QMQP_ERR_BODY_LENGTH',
    },
  )
})

t.test('failover: a closed port first, ours second: delivered to the second', async t => {
  const dead = await closedPort()
  const { spec, got } = await qmqpServer(t, { code: 'K', text: 'second' })
  const r = await send(msg, { servers: [dead, spec] })
  t.same(r.verdict, { code: 'K', text: 'second' })
  t.equal(r.server, spec)
  t.equal(got.length, 1)
  t.match(r.attempts, [
    { server: dead, error: { code: 'QMQP_ERR_CONNECT', reason: 'refused' } },
    { server: spec, verdict: { code: 'K' } },
  ])
  const err = await failure(send(msg, { servers: [dead, dead] }))
  t.ok(err instanceof QmqpConnectError && err.reason === 'refused' && err.temporary)
})

t.test('a Z is final by default, and fails over with connect-or-Z; a D is always final', async t => {
  const z = await qmqpServer(t, { code: 'Z', text: 'busy' })
  const d = await qmqpServer(t, { code: 'D', text: 'no' })
  const k = await qmqpServer(t, { code: 'K', text: 'ok' })
  t.same((await send(msg, { servers: [z.spec, k.spec] })).verdict, { code: 'Z', text: 'busy' })
  t.equal(k.got.length, 0, 'like qmail-qmqpc, the second server is not contacted after a Z')
  const r = await send(msg, { servers: [z.spec, k.spec], failoverOn: 'connect-or-Z' })
  t.same(r.verdict, { code: 'K', text: 'ok' })
  t.equal(r.attempts.length, 2)
  t.same((await send(msg, { servers: [d.spec, k.spec], failoverOn: 'connect-or-Z' })).verdict, {
    code: 'D',
    text: 'no',
  })
  t.same(
    (await send(msg, { servers: [z.spec, z.spec], failoverOn: 'connect-or-Z' })).verdict,
    { code: 'Z', text: 'busy' },
    'all Z: the last Z',
  )
  const dead = await closedPort()
  t.same((await send(msg, { servers: [z.spec, dead], failoverOn: 'connect-or-Z' })).verdict, {
    code: 'Z',
    text: 'busy',
  })
  const once = { ...msg, message: Readable.from([Buffer.from('x')]), size: 1 }
  t.same(
    (await send(once, { servers: [z.spec, k.spec], failoverOn: 'connect-or-Z' })).verdict.code,
    'Z',
    'a one-shot stream is not sent twice',
  )
  t.equal(k.got.length, 1)
})

t.test('a server that accepts and never answers: read timeout', async t => {
  const silent = await listener(t, s => s.resume())
  const opts: SendOptions = { servers: [silent], timeoutMs: 150 }
  const err = await failure(send(msg, opts))
  t.ok(
    err instanceof QmqpTimeoutError && err.phase === 'read' && err.temporary && err.server === silent,
    String(err),
  )
})

t.test('a server that never reads a large body: write timeout', async t => {
  const stuck = await listener(t, s => s.pause())
  await t.rejects(
    send({ ...msg, message: Buffer.alloc(32 * 1024 * 1024) }, { servers: [stuck], timeoutMs: 200 }),
    { code: 'QMQP_ERR_TIMEOUT', phase: 'write' },
  )
})

t.test('a connect that never completes: connect timeout, then the next server', async t => {
  // A listener with a full accept queue never completes another handshake.
  const py = spawn('python3', [
    '-c',
    'import socket,sys,time\ns=socket.socket()\ns.bind(("127.0.0.1",0))\ns.listen(0)\nprint(s.getsockname()[1],flush=True)\ntime.sleep(60)',
  ])
  t.teardown(() => void py.kill())
  const [line] = (await once(py.stdout, 'data')) as [Buffer]
  const port = Number(line.toString().trim())
  const fillers: net.Socket[] = []
  t.teardown(() => fillers.forEach(s => s.destroy()))
  for (let i = 0; i < 3; i++) {
    const s = net.connect(port, '127.0.0.1')
    s.on('error', () => undefined)
    fillers.push(s)
  }
  await new Promise(r => setTimeout(r, 100))
  const k = await qmqpServer(t, { code: 'K', text: 'after timeout' })
  const r = await send(msg, { servers: [`127.0.0.1:${port}`, k.spec], connectTimeoutMs: 200 })
  t.same(r.verdict, { code: 'K', text: 'after timeout' })
  t.match(r.attempts[0], { error: { code: 'QMQP_ERR_CONNECT', reason: 'timeout' } })
})

t.test('no reply, a garbled reply, a reset', async t => {
  const hangup = await listener(t, s => s.once('data', () => s.end()))
  const none = await failure(send(msg, { servers: [hangup] }))
  t.ok(none instanceof QmqpReplyError && none.reason === 'no-reply', String(none))
  const garbled = await listener(t, s => s.once('data', () => s.end('xyzKthanks')))
  await t.rejects(send(msg, { servers: [garbled] }), { code: 'QMQP_ERR_REPLY', reason: 'bad-reply' })
  const reset = await listener(t, s => s.once('data', () => s.resetAndDestroy()))
  const lost = await failure(send(msg, { servers: [reset] }))
  t.ok(lost instanceof QmqpError && lost.temporary, String(lost))
  const early = await listener(t, s => s.end(encodeReply({ code: 'K', text: 'before you asked' })))
  t.same((await send(msg, { servers: [early] })).verdict, { code: 'K', text: 'before you asked' })
})

t.test('a reply in pieces, and one longer than a read, is put together', async t => {
  const text = 'queued '.repeat(6000) // about 42 KB: several reads
  const reply = encodeReply({ code: 'K', text })
  // The reply leaves in pieces some milliseconds apart, so that the client reads each one alone.
  const cuts = [0, 1, 3, 4, 9000, 20000, 33000, reply.length]
  const slow = await listener(t, s =>
    s.once('data', async () => {
      for (let i = 1; i < cuts.length; i++) {
        s.write(reply.subarray(cuts[i - 1], cuts[i]))
        await new Promise(resolve => setTimeout(resolve, 5))
      }
      s.end()
    }),
  )
  const [first, second] = await Promise.all([send(msg, { servers: [slow] }), send(msg, { servers: [slow] })])
  t.same(first.verdict, { code: 'K', text })
  t.same(second.verdict, { code: 'K', text }, 'two replies read at once do not mix')
  t.equal(first.remoteAddress, '127.0.0.1')
  t.equal(first.remotePort, Number(slow.split(':')[1]))
})

t.test('a size refusal sent before the body is read is taken, and the write stops', async t => {
  const { spec, got } = await qmqpServer(t, { code: 'K', text: 'ok' }, { limits: { maxMessageBytes: 1000 } })
  const r = await send({ ...msg, message: Buffer.alloc(8 * 1024 * 1024, 0x61) }, { servers: [spec] })
  t.same(r.verdict, { code: 'D', text: 'sorry, that message size exceeds my databytes limit (#5.3.4)' })
  t.equal(got.length, 0)
})

t.test(
  'IPv6 servers, bracketed or bare, and names',
  { skip: !hasIpv6Loopback && 'no IPv6 loopback here' },
  async t => {
    const v6 = await qmqpServer(t, { code: 'K', text: 'v6' }, {}, '::1')
    t.same((await send(msg, { servers: [v6.spec] })).verdict, { code: 'K', text: 'v6' })
    t.same((await send(msg, { servers: ['::1'], port: Number(v6.spec.split(':').pop()) })).verdict, {
      code: 'K',
      text: 'v6',
    })
    const v4 = await qmqpServer(t, { code: 'K', text: 'name' })
    t.same((await send(msg, { servers: [`localhost:${v4.spec.split(':')[1]}`] })).verdict.code, 'K')
  },
)

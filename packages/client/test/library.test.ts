import { rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { ClientConfigError, ClientRejectedError, ClientUsageError } from '../src/errors.js'
import { resolveServers, send } from '../src/library.js'
import { hangUpServer, recordingServer, refusedPort } from './lib/recording-server.js'

const envelope = { sender: 'app@example.com', recipients: ['ops@example.com', Buffer.from('b@example.net')] }

t.test('K: resolves with the verdict, the server and the envelope; the server got the bytes', async t => {
  const srv = await recordingServer({ code: 'K', text: 'ok 1796398890 qp 19011' })
  t.teardown(srv.close)
  const message = Buffer.from('Subject: hi\n\nbody \xff\n', 'latin1')
  const result = await send(message, envelope, { servers: [srv.server] })
  t.same(result.verdict, { code: 'K', text: 'ok 1796398890 qp 19011' })
  t.equal(result.server, srv.server)
  t.same(result.envelope, {
    sender: Buffer.from('app@example.com'),
    recipients: [Buffer.from('ops@example.com'), Buffer.from('b@example.net')],
  })
  t.same(srv.received, [
    { message, sender: Buffer.from('app@example.com'), recipients: result.envelope.recipients },
  ])
})

t.test('Z and D reject with ClientRejectedError, temporary for Z only', async t => {
  const z = await recordingServer({ code: 'Z', text: 'try later' })
  t.teardown(z.close)
  const d = await recordingServer({ code: 'D', text: 'go away' })
  t.teardown(d.close)
  await t.rejects(send('x\n', envelope, { servers: [z.server] }), {
    name: 'ClientRejectedError',
    temporary: true,
    verdict: { code: 'Z', text: 'try later' },
    server: z.server,
  })
  await t.rejects(send('x\n', envelope, { servers: [d.server] }), {
    name: 'ClientRejectedError',
    temporary: false,
    verdict: { code: 'D', text: 'go away' },
  })
  // Z is final by default (qmail-qmqpc); failover on Z is asked for explicitly.
  await t.rejects(send('x\n', envelope, { servers: [z.server, d.server] }), ClientRejectedError)
  t.equal(d.received.length, 1, 'the second server was not asked after a Z')
  await t.rejects(send('x\n', envelope, { servers: [z.server, d.server], failoverOn: 'connect-or-Z' }), {
    name: 'ClientRejectedError',
    verdict: { code: 'D' },
  })
  t.equal(d.received.length, 2)
})

t.test('the next server is tried only when connecting fails', async t => {
  const refused = await refusedPort()
  const good = await recordingServer()
  t.teardown(good.close)
  const result = await send('m\n', envelope, { servers: [`127.0.0.1:${refused}`, good.server] })
  t.equal(result.server, good.server)
  const rude = await hangUpServer()
  t.teardown(rude.close)
  await t.rejects(send('m\n', envelope, { servers: [`127.0.0.1:${rude.port}`, good.server] }), {
    message: /./,
    temporary: true,
  })
  t.equal(good.received.length, 1, 'a server that hung up after connect is final')
  await t.rejects(send('m\n', envelope, { servers: [`127.0.0.1:${refused}`] }), {
    code: 'QMQP_ERR_CONNECT',
    reason: 'refused',
    temporary: true,
  })
})

t.test('servers come from the client home unless given', async t => {
  const srv = await recordingServer()
  t.teardown(srv.close)
  const home = t.testdir({ control: { qmqpservers: `# engine\n127.0.0.1:${srv.port}\n` } })
  await send('m\n', envelope, { home })
  const env = new Map([['QMQPKIT_CLIENT_HOME', Buffer.from(home)]])
  await send('m\n', envelope, { env })
  t.equal(srv.received.length, 2)
  writeFileSync(join(home, 'control/qmqpservers'), '\n')
  await t.rejects(send('m\n', envelope, { home }), ClientConfigError)
})

t.test('a qmqpservers file read before is read again once it changed, even at the same size', async t => {
  const a = await recordingServer()
  t.teardown(a.close)
  const b = await recordingServer()
  t.teardown(b.close)
  // Same length, so only the content and the file times tell the two versions apart.
  const line = (port: number) => `127.0.0.1:${String(port).padStart(5, '0')}\n`
  const home = t.testdir({ control: { qmqpservers: line(a.port) } })
  const path = join(home, 'control/qmqpservers')
  t.equal((await send('m\n', envelope, { home })).server, `127.0.0.1:${a.port}`)
  t.equal((await send('m\n', envelope, { home })).server, `127.0.0.1:${a.port}`)
  writeFileSync(path, line(b.port))
  t.equal((await send('m\n', envelope, { home })).server, `127.0.0.1:${b.port}`)
  t.same([a.received.length, b.received.length], [2, 1])
  const list = resolveServers({ home })
  list.push('changed by the caller')
  t.same(resolveServers({ home }), [`127.0.0.1:${b.port}`], 'a caller cannot change the list read')
  rmSync(path)
  await t.rejects(send('m\n', envelope, { home }), { name: 'ClientConfigError', message: /does not exist/ })
})

t.test('misuse is a permanent error', async t => {
  await t.rejects(send('m\n', { sender: '', recipients: [] }, { servers: ['127.0.0.1'] }), ClientUsageError)
  t.throws(() => resolveServers({ servers: [] }), { code: 'CLIENT_ERR_USAGE', temporary: false })
  t.throws(() => resolveServers({ servers: ['not a server'] }), ClientUsageError)
  t.same(resolveServers({ servers: ['::1', { host: '10.0.0.1', port: 6628 }, ' mx.example.com '] }), [
    '[::1]:628',
    '10.0.0.1:6628',
    'mx.example.com:628',
  ])
})

t.test('without an envelope the message is prepared as qmail-inject would', async t => {
  const srv = await recordingServer()
  t.teardown(srv.close)
  const home = t.testdir({ control: { me: 'client.example.com\n', qmqpservers: `${srv.server}\n` } })
  const env = new Map([['USER', Buffer.from('app')]])
  const result = await send(
    'To: ops, b@example.net\nBcc: audit@example.org\nSubject: hi\n\nhello\n',
    undefined,
    { home, env },
  )
  t.same(result.envelope.recipients.map(String), [
    'b@example.net',
    'ops@client.example.com',
    'audit@example.org',
  ])
  t.equal(result.envelope.sender.toString(), 'app@client.example.com')
  const got = srv.received[0]!
  t.same(got.recipients.map(String), ['b@example.net', 'ops@client.example.com', 'audit@example.org'])
  t.match(
    got.message.toString(),
    /^Date: .*\nMessage-ID: <.*@client\.example\.com>\nFrom: app@client\.example\.com\nTo: ops@client\.example\.com, b@example\.net\nSubject: hi\n\nhello\n$/,
  )
  await t.rejects(
    send('To: a\n\n', undefined, { home, env: new Map() }).then(() =>
      send({ stream: process.stdin, size: 0 }, undefined, { home }),
    ),
    ClientUsageError,
  )
  await t.rejects(send('To: foo: bar\n\nx\n', undefined, { home, env }), {
    code: 'CLIENT_ERR_PARSE',
    temporary: false,
  })
})

import t, { type Test } from 'tap'
import net, { type AddressInfo, type Socket } from 'node:net'
import { once } from 'node:events'
import { createQmqpServer, type Verdict } from '@qmqpkit/qmqp'
import {
  QmqpForwardBackend,
  forwardFailureText,
  parseQmqpSpec,
  qmqpBackendFactory,
} from '../src/backends/qmqp.js'
import { BackendSpecError } from '../src/backends/errors.js'
import { injected } from './lib/backends-message.js'
import { postfixUnavailable, start as startPostfix } from '../../../test/lib/postfix-instance.js'

interface Seen {
  sender: string
  recipients: string[]
  message: Buffer
}

/** A real QMQP server on loopback answering by the first recipient's local part: k, z or d. */
async function upstream(t: Test) {
  const seen: Seen[] = []
  const server = createQmqpServer({
    async onRequest(req) {
      const message = await req.message.read()
      await req.message.dispose()
      const recipients = req.recipients.map(String)
      seen.push({ sender: String(req.sender), recipients, message })
      const kind = recipients[0]?.split('@')[0]
      const verdicts: Record<string, Verdict> = {
        z: { code: 'Z', text: 'upstream says later' },
        d: { code: 'D', text: 'upstream says never' },
      }
      return verdicts[kind ?? ''] ?? { code: 'K', text: 'upstream queued it' }
    },
  })
  const address = await server.listen(0, '127.0.0.1')
  t.teardown(() => server.close())
  return { seen, port: address.port }
}

/** A listener that accepts and never answers. */
async function silent(t: Test) {
  const open = new Set<Socket>()
  const server = net.createServer(s => {
    open.add(s)
    s.resume()
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.teardown(async () => {
    for (const s of open) s.destroy()
    server.close()
  })
  return (server.address() as AddressInfo).port
}

/** A port nobody listens on. */
async function deadPort(): Promise<number> {
  const server = net.createServer().listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as AddressInfo
  server.close()
  await once(server, 'close')
  return port
}

t.test('K only after the upstream K; the delivered form and envelope go upstream', async t => {
  const up = await upstream(t)
  const backend = await qmqpBackendFactory.create(`qmqp://127.0.0.1:${up.port}`, {})
  t.teardown(() => backend.close())
  const msg = injected({ sender: 'from@example.com', recipients: ['k@example.net', 'other@example.net'] })
  t.same(await backend.deliver(msg), { code: 'K', text: 'upstream queued it' })
  t.equal(up.seen.length, 1)
  t.same(up.seen[0]!.sender, 'from@example.com')
  t.same(up.seen[0]!.recipients, ['k@example.net', 'other@example.net'])
  t.same(up.seen[0]!.message, await msg.delivered.read())
})

t.test("the upstream's Z and D are passed back as given", async t => {
  const up = await upstream(t)
  const backend = new QmqpForwardBackend({ servers: [`127.0.0.1:${up.port}`] })
  t.same(await backend.deliver(injected({ recipients: ['z@x'] })), { code: 'Z', text: 'upstream says later' })
  t.same(await backend.deliver(injected({ recipients: ['d@x'] })), { code: 'D', text: 'upstream says never' })
})

t.test('no upstream answer is always Z', async t => {
  const dead = await deadPort()
  const refused = new QmqpForwardBackend({ servers: [`127.0.0.1:${dead}`] })
  t.same(await refused.deliver(injected()), {
    code: 'Z',
    text: 'connection to mail server rejected (#4.4.1)',
  })
  const quiet = await silent(t)
  const stuck = new QmqpForwardBackend({ servers: [`127.0.0.1:${quiet}`], timeoutMs: 300 })
  t.same(await stuck.deliver(injected()), { code: 'Z', text: 'connection to mail server timed out (#4.4.1)' })
})

t.test('servers are tried in order when connecting fails', async t => {
  const up = await upstream(t)
  const dead = await deadPort()
  const backend = await qmqpBackendFactory.create(
    `qmqp://127.0.0.1:${dead},127.0.0.1:${up.port}?timeout=5000`,
    {},
  )
  t.same(await backend.deliver(injected()), { code: 'K', text: 'upstream queued it' })
  t.equal(up.seen.length, 1)
})

t.test('specs', async t => {
  t.same(parseQmqpSpec('qmqp://mx.example.com'), { servers: ['mx.example.com:628'] })
  t.same(parseQmqpSpec('qmqp://10.0.0.1:629,[::1]:6628,[fe80::1]?timeout=100&connect-timeout=50'), {
    servers: ['10.0.0.1:629', '[::1]:6628', '[fe80::1]:628'],
    timeoutMs: 100,
    connectTimeoutMs: 50,
  })
  for (const bad of [
    'qmqp://',
    'qmqp:host',
    'qmqp://h:0',
    'qmqp://h:99999',
    'qmqp://a:b:c',
    'qmqp://h?timeout=x',
    'qmqp://h?color=red',
  ])
    t.throws(() => parseQmqpSpec(bad), BackendSpecError, bad)
  t.equal(forwardFailureText(new Error('x')), 'communication with mail server failed (#4.4.2)')
  t.equal(
    forwardFailureText({ code: 'QMQP_ERR_CONNECT', reason: 'timeout' }),
    'connection to mail server timed out (#4.4.1)',
  )
  const b = new QmqpForwardBackend(parseQmqpSpec('qmqp://a,b:1'))
  t.equal(b.name, 'qmqp://a:628,b:1')
})

const postfixWhy = postfixUnavailable()
if (postfixWhy && process.env.CI)
  throw new Error(`Postfix qmqpd not usable: ${postfixWhy} (CI installs Debian postfix and runs as root)`)

t.test('forwarding into a private Postfix qmqpd', { skip: postfixWhy ?? false }, async t => {
  const postfix = await startPostfix()
  t.teardown(() => postfix.stop())
  const backend = await qmqpBackendFactory.create(`qmqp://127.0.0.1:${postfix.port}`, {})
  const msg = injected({
    sender: 'forwarder@example.com',
    recipients: ['one@example.net', 'two@example.org'],
    body: 'Subject: through postfix\n\nforwarded body line\n',
  })
  const verdict = await backend.deliver(msg)
  t.equal(verdict.code, 'K')
  t.match(verdict.text, /^Ok: queued as \S+/, "Postfix's own K text comes back")
  const queued = await postfix.queuedMessages()
  t.equal(queued.length, 1)
  t.equal(queued[0]!.sender, 'forwarder@example.com')
  t.same(queued[0]!.recipients, ['one@example.net', 'two@example.org'])
  t.match(
    queued[0]!.content,
    /Received: \(qmail 1 invoked from network\)/,
    'our delivered form went upstream',
  )
  t.match(queued[0]!.content, /forwarded body line/)
})

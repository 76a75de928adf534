import { readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import t from 'tap'
import { send, type Verdict } from '@qmqpkit/qmqp'
import type { Backend } from '../src/backend.js'
import { MemoryBackend } from '../src/backends/memory.js'
import { loadConfig } from '../src/config.js'
import { bindMessage, greenArrowConfig, MessageIds, serverLimits } from '../src/daemon.js'
import type { InjectedMessage } from '../src/injected-message.js'
import { envText, fixtures, rawExchange, replyText, request, startDaemon, waitFor } from './lib/harness.js'

const fixture = (name: string) => readFileSync(path.join(fixtures, 'qmqp', name))
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec']
/** qmail's Received date, written out here independently of the module under test. */
const qmailDate = (ms: number) => {
  const d = new Date(ms)
  const p = (n: number) => String(n).padStart(2, '0')
  return `${d.getUTCDate()} ${MONTHS[d.getUTCMonth()]} ${d.getUTCFullYear()} ${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} -0000`
}
const bodyOf = async (m: MemoryBackend, id: string, part: 'received' | 'delivered') => {
  const chunks: Buffer[] = []
  for await (const c of (await m.openBody(id, part))!) chunks.push(c as Buffer)
  return Buffer.concat(chunks)
}

t.test('a message over a real socket is stored exactly, with its connection environment', async t => {
  const { memory, port, lines } = await startDaemon(t)
  const raw = fixture('01-minimal.qmqp')
  const message = raw.subarray(raw.indexOf(':', 4) + 1, raw.indexOf(':', 4) + 1 + 178)
  const res = await send(
    { message, sender: 'sender@example.com', recipients: ['rcpt@example.net'] },
    { servers: [`127.0.0.1:${port}`] },
  )
  t.equal(res.verdict.code, 'K')
  const { messages } = await memory.list()
  t.equal(messages.length, 1)
  const m = messages[0]!
  t.match(
    res.verdict.text,
    new RegExp(`^ok ${Math.floor(m.receivedAt / 1000)} qp ${m.id}$`),
    'qmail-qmqpd style K text naming the id',
  )
  t.match(m.id, /^\d+$/)
  t.same(m.sender, Buffer.from('sender@example.com'))
  t.same(m.recipients, [Buffer.from('rcpt@example.net')])
  t.same((await bodyOf(memory, m.id, 'received')).equals(message), true, 'received bytes exact')
  const received = `Received: from unknown (127.0.0.1)\n  by qmqp.example.test with QMQP; ${qmailDate(m.receivedAt)}\n`
  t.equal((await bodyOf(memory, m.id, 'delivered')).toString('latin1'), received + message.toString('latin1'))
  t.equal(m.size, 178)
  t.equal(m.connection.remoteIp, '127.0.0.1')
  t.equal(m.connection.decision, 'loopback-default')
  t.equal(m.connection.ruleKey, null)
  t.equal(m.connection.proto, 'TCP')
  t.same(envText(m.connection.env), [
    ['PROTO', 'TCP'],
    ['TCPLOCALIP', '127.0.0.1'],
    ['TCPLOCALPORT', String(port)],
    ['TCPREMOTEIP', '127.0.0.1'],
    ['TCPREMOTEPORT', String(m.connection.remotePort)],
  ])
  t.equal(m.metadata.mode, 'raw')
  t.equal(m.transcript.messageLength, 178)
  t.same(m.verdict, res.verdict, 'the verdict sent is the one stored')
  const msgLine = lines.find(l => l['event'] === 'message')!
  t.match(msgLine, {
    id: m.id,
    verdict: 'K',
    bytes: 178,
    recipients: 1,
    backend: 'memory:',
    rule: null,
    remote: `127.0.0.1:${m.connection.remotePort}`,
  })
  const connLine = await waitFor(() => lines.find(l => l['event'] === 'connection'))
  t.match(connLine, { verdict: 'K', decision: 'loopback-default', bytes: raw.length })
  t.type(connLine['ms'], 'number')
})

t.test('GreenArrow headers: SimpleMH by rule, metadata extracted, X-GreenArrow-* removed', async t => {
  const dir = t.testdir({ 'qmqp.tcp': '127.0.0.1:allow,GREENARROW_SIMPLEMH=""\n' })
  const { memory, port } = await startDaemon(t, [
    '--rules-source',
    path.join(dir, 'qmqp.tcp'),
    '--received-format',
    'qmail',
  ])
  const r = await rawExchange(port, fixture('06-greenarrow-headers.qmqp'))
  t.match(replyText(r), /^Kok \d+ qp \d+$/)
  const m = (await memory.list()).messages[0]!
  t.equal(m.connection.ruleKey, '127.0.0.1')
  t.equal(m.connection.decision, 'allow')
  t.same(envText(m.connection.env).slice(-1), [['GREENARROW_SIMPLEMH', '']])
  t.match(m.metadata, {
    mode: 'simplemh',
    mailClass: 'transactional',
    mailClassSource: 'header',
    instanceId: '0901220005',
    clickTrackingId: 'order-4711',
  })
  const delivered = (await bodyOf(memory, m.id, 'delivered')).toString('latin1')
  t.notMatch(delivered, /X-GreenArrow-/i)
  t.match(
    delivered,
    new RegExp(`^Received: from unknown \\(127\\.0\\.0\\.1\\)\\n  by 127\\.0\\.0\\.1 with QMQP; `),
  )
})

t.test('an unknown mail class refused by policy: the D is sent and nothing is stored', async t => {
  const dir = t.testdir({ 'qmqp.tcp': '127.0.0.1:allow,GREENARROW_SIMPLEMH=""\n' })
  const { memory, port } = await startDaemon(t, [
    '--rules-source',
    path.join(dir, 'qmqp.tcp'),
    '--mail-classes',
    'newsletter,alerts',
    '--unknown-mailclass',
    'D',
    '--unknown-mailclass-text',
    'no such mail class (#5.3.5)',
  ])
  const r = await rawExchange(port, fixture('06-greenarrow-headers.qmqp'))
  t.equal(replyText(r), 'Dno such mail class (#5.3.5)')
  t.equal(await memory.count(), 0)
})

/** A backend answering as told, for the daemon's handling of each answer. */
function scripted(
  name: string,
  answer: () => Promise<Verdict>,
): Backend & { closed: boolean; seen: InjectedMessage[] } {
  const b = {
    name,
    closed: false,
    seen: [] as InjectedMessage[],
    deliver: async (msg: InjectedMessage) => {
      b.seen.push(msg)
      return answer()
    },
    close: async () => void (b.closed = true),
  }
  return b
}

t.test(
  'backend answers: D and Z passed back, a throw or a hang becomes Z, K needs every backend',
  async t => {
    const cases: Array<[string, () => Promise<Verdict>, string]> = [
      ['D', async () => ({ code: 'D', text: 'mailbox full (#5.2.2)' }), 'Dmailbox full (#5.2.2)'],
      ['Z', async () => ({ code: 'Z', text: 'try later (#4.3.0)' }), 'Ztry later (#4.3.0)'],
      ['throw', async () => Promise.reject(new Error('disk on fire')), 'Zbackend failure (#4.3.0)'],
      ['hang', () => new Promise<Verdict>(() => {}), 'Zbackend timed out (#4.3.0)'],
    ]
    for (const [label, answer, expected] of cases) {
      const memory = new MemoryBackend()
      const second = scripted(label, answer)
      const { port } = await startDaemon(t, ['--backend-timeout', '300ms'], { backends: [memory, second] })
      const r = await rawExchange(port, request('Subject: x\n\nbody\n', 'a@example.com', ['b@example.com']))
      t.equal(replyText(r), expected, label)
      t.equal(second.seen.length, 1, `${label}: second backend reached after the first said K`)
    }
  },
)

t.test('SIGTERM-style close lets a request in flight finish, then closes the backends', async t => {
  let release!: () => void
  const gate = new Promise<void>(r => (release = r))
  const slow = scripted('slow', async () => {
    await gate
    return { code: 'K', text: 'ok slow' }
  })
  const { daemon, port } = await startDaemon(t, [], { backends: [slow] })
  const pending = rawExchange(port, request('Subject: x\n\nbody\n', 'a@example.com', ['b@example.com']))
  while (slow.seen.length === 0) await new Promise(r => setTimeout(r, 5))
  const closing = daemon.close(10_000)
  // New connections are refused once closing started.
  const late = await rawExchange(port, request('x', 'a@example.com', ['b@example.com']))
  t.equal(late.error, 'ECONNREFUSED')
  t.equal(slow.closed, false, 'backend still open while a request is in flight')
  release()
  t.equal(replyText(await pending), 'Kok slow')
  await closing
  t.equal(slow.closed, true)
})

t.test('limits reach the wire: size and recipients refused early with the configured texts', async t => {
  const { memory, port } = await startDaemon(t, [
    '--max-message-bytes',
    '100',
    '--size-reply',
    'Dtoo big here (#5.3.4)',
    '--max-recipients',
    '2',
    '--recipients-reply',
    'Ztoo many, later (#4.5.3)',
  ])
  const big = await rawExchange(port, request('x'.repeat(101), 'a@example.com', ['b@example.com']))
  t.equal(replyText(big), 'Dtoo big here (#5.3.4)')
  const many = await rawExchange(
    port,
    request('x', 'a@example.com', ['b@example.com', 'c@example.com', 'd@example.com']),
  )
  t.equal(replyText(many), 'Ztoo many, later (#4.5.3)')
  const ok = await rawExchange(
    port,
    request('x'.repeat(100), 'a@example.com', ['b@example.com', 'c@example.com']),
  )
  t.match(replyText(ok), /^Kok /)
  t.equal(await memory.count(), 1)
})

t.test('serverLimits passes only what was configured; greenArrowConfig maps the options', async t => {
  const plain = serverLimits(loadConfig([], {}, null))
  t.equal(plain.maxMessageBytes, undefined, 'qmail: no size limit unless configured')
  t.equal(plain.idleTimeoutMs, undefined)
  t.equal(plain.totalTimeoutMs, 3_600_000)
  t.equal(plain.texts?.totalTimeout, null, 'the one-hour alarm drops, as qmail')
  const ga = greenArrowConfig(
    loadConfig(
      [
        '--unknown-virtual-mta',
        'Z',
        '--virtual-mtas',
        'smtp1-1,2',
        '--me',
        'engine.example',
        '--hide-received-honour',
        'off',
      ],
      {},
      null,
    ).greenarrow,
  )
  t.same(ga.policies.unknownVirtualMta, { reply: 'Z', text: 'unknown VirtualMTA (#5.3.5)' })
  t.equal(ga.policies.unknownMailClass, 'accept')
  t.same(ga.knownVirtualMtas, ['smtp1-1', '2'])
  t.equal(ga.me, 'engine.example')
  t.equal(ga.honourReceivedHide, false)
})

t.test('bindMessage names the unprivileged port and the capability', async t => {
  const err = Object.assign(new Error('listen EACCES'), { code: 'EACCES' })
  const text = bindMessage('::', 628, err)
  t.match(text, /^unable to bind \[::\]:628: permission denied/)
  t.match(text, /--listen 127\.0\.0\.1:6628/)
  t.match(text, /CAP_NET_BIND_SERVICE/)
  t.equal(
    bindMessage('127.0.0.1', 6628, Object.assign(new Error('x'), { code: 'EADDRINUSE' })),
    'unable to bind 127.0.0.1:6628: address in use',
  )
})

t.test('a rules database that goes missing drops connections, and comes back', async t => {
  const dir = t.testdir()
  const cdb = path.join(dir, 'qmqp.tcp.cdb')
  const { compileRulesToBuffer } = await import('@qmqpkit/tcprules')
  writeFileSync(cdb, compileRulesToBuffer('127.0.0.1:allow,X="1"\n'))
  const { memory, port, lines } = await startDaemon(t, ['--rules', cdb])
  t.match(replyText(await rawExchange(port, request('a', 'a@example.com', ['b@example.com']))), /^K/)
  const { unlinkSync } = await import('node:fs')
  unlinkSync(cdb)
  const dropped = await rawExchange(port, request('a', 'a@example.com', ['b@example.com']))
  t.equal(dropped.reply, null)
  t.ok(
    lines.some(l => l['event'] === 'rules-error'),
    'logged',
  )
  writeFileSync(cdb, compileRulesToBuffer('127.0.0.1:allow,X="2"\n'))
  t.match(replyText(await rawExchange(port, request('a', 'a@example.com', ['b@example.com']))), /^K/)
  const stored = (await memory.list()).messages
  t.same(
    stored.map(m => envText(m.connection.env).at(-1)),
    [
      ['X', '1'],
      ['X', '2'],
    ],
  )
})

t.test('message ids count up in decimal from their start, across the million boundary', async t => {
  for (const start of [0, 7, 999_998, 1_796_412_999_997, 1_796_412_000_000, 1_000_000]) {
    const ids = new MessageIds(start)
    const got = Array.from({ length: 5 }, () => ids.next())
    t.same(
      got,
      [0, 1, 2, 3, 4].map(i => String(start + i)),
      `from ${start}`,
    )
  }
})

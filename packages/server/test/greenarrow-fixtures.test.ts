import t from 'tap'
import { createHash } from 'node:crypto'
import { readFileSync, readdirSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { messageBodyFrom } from '@qmqpkit/qmqp'
import type { ConnectionInfo } from '../src/injected-message.js'
import { applyGreenArrow } from '../src/greenarrow/apply.js'
import { defaultGreenArrowConfig } from '../src/greenarrow/config.js'
import { verpSenderFor } from '../src/greenarrow/verp.js'

const dir = fileURLToPath(new URL('../../../fixtures/qmqp/', import.meta.url))
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex')
const now = new Date('2026-12-04T15:41:30Z')
const RECEIVED =
  'Received: from unknown (127.0.0.1)\n  by qmqp.example.test with QMQP; 4 Dec 2026 15:41:30 -0000\n'

/** The netstrings of a request: the outer one, then message, sender, recipients inside it. */
function parseRequest(stream: Buffer): { message: Buffer; sender: Buffer; recipients: Buffer[] } {
  const netstring = (buf: Buffer, at: number): [Buffer, number] => {
    const colon = buf.indexOf(0x3a, at)
    const length = Number(buf.toString('latin1', at, colon))
    if (buf[colon + 1 + length] !== 0x2c) throw new Error('bad netstring')
    return [buf.subarray(colon + 1, colon + 1 + length), colon + 2 + length]
  }
  const [outer] = netstring(stream, 0)
  const parts: Buffer[] = []
  for (let at = 0; at < outer.length;) {
    const [part, next] = netstring(outer, at)
    parts.push(part)
    at = next
  }
  const [message, sender, ...recipients] = parts
  return { message: message!, sender: sender!, recipients }
}

function conn(rule: Record<string, string>): ConnectionInfo {
  const env: Record<string, string> = {
    PROTO: 'TCP',
    TCPLOCALHOST: 'qmqp.example.test',
    TCPLOCALIP: '127.0.0.1',
    TCPLOCALPORT: '628',
    TCPREMOTEIP: '127.0.0.1',
    TCPREMOTEPORT: '41000',
    ...rule,
  }
  return {
    id: 'fixture',
    remoteIp: '127.0.0.1',
    remotePort: 41000,
    localIp: '127.0.0.1',
    localPort: 628,
    proto: 'TCP',
    ruleKey: '127.0.0.1',
    decision: 'allow',
    env: Object.entries(env).map(([k, v]) => [k, Buffer.from(v)]),
  }
}

const config = { ...defaultGreenArrowConfig('engine.example.com'), receivedFormat: 'qmail' as const }

function load(name: string) {
  const side = JSON.parse(readFileSync(`${dir}${name}.json`, 'utf8')) as {
    expect: string
    message?: { bytes: number; sha256: string }
    envelope?: { sender: string; recipients: string[] }
  }
  return { side, request: parseRequest(readFileSync(`${dir}${name}.qmqp`)) }
}

t.test(
  'fixture 06 under SimpleMH: class, instance and tracking id read; every X-GreenArrow-* header removed',
  async t => {
    const { side, request } = load('06-greenarrow-headers')
    t.same([request.message.length, sha256(request.message)], [side.message!.bytes, side.message!.sha256])
    const r = await applyGreenArrow(
      messageBodyFrom(request.message),
      conn({ GREENARROW_SIMPLEMH: '' }),
      request.sender,
      config,
      now,
    )
    t.same(r.metadata, {
      mode: 'simplemh',
      mailClass: 'transactional',
      mailClassSource: 'header',
      instanceId: '0901220005',
      clickTrackingId: 'order-4711',
      dkim: null,
      virtualMta: null,
      sendId: null,
      listId: null,
      verp: null,
      problems: [],
    })
    t.equal(r.verdict, undefined)
    const delivered = await r.delivered.read()
    t.equal(
      delivered.toString('latin1'),
      RECEIVED +
        'From: shop@example.com\nTo: buyer@example.net\nSubject: Your order\n\nThank you for your order.\n',
    )
    t.equal(r.delivered.size, delivered.length)
  },
)

t.test('fixture 06 under raw injection: VirtualMTA and ListID read; same delivered bytes', async t => {
  const { request } = load('06-greenarrow-headers')
  const r = await applyGreenArrow(messageBodyFrom(request.message), conn({}), request.sender, config, now)
  t.same(
    [
      r.metadata.mode,
      r.metadata.mailClass,
      r.metadata.instanceId,
      r.metadata.virtualMta,
      r.metadata.listId,
      r.metadata.sendId,
      r.metadata.problems,
    ],
    ['raw', null, null, 'smtp1-1', 't100', null, []],
  )
  t.equal(
    (await r.delivered.read()).toString('latin1'),
    RECEIVED +
      'From: shop@example.com\nTo: buyer@example.net\nSubject: Your order\n\nThank you for your order.\n',
  )
})

t.test('fixture 06 with the rule class and a known-class list', async t => {
  const { request } = load('06-greenarrow-headers')
  const r = await applyGreenArrow(
    messageBodyFrom(request.message),
    conn({ GREENARROW_MAILCLASS: 'bulk' }),
    request.sender,
    { ...config, knownMailClasses: ['bulk'] },
    now,
  )
  t.same(
    [r.metadata.mailClass, r.metadata.mailClassSource, r.metadata.problems.map(p => p.check)],
    ['transactional', 'header', ['unknownMailClass']],
  )
})

t.test(
  'fixture 05: the VERP sender is recorded, its per-recipient form is the documented one, the message passes unchanged',
  async t => {
    const { side, request } = load('05-verp-sender')
    t.equal(request.sender.toString(), side.envelope!.sender)
    const r = await applyGreenArrow(messageBodyFrom(request.message), conn({}), request.sender, config, now)
    t.same(r.metadata.verp, {
      prefix: 'bounce-t100-20111229-',
      domain: 'bounces.example.com',
      greenArrow: { bounceLocalPart: 'bounce', listId: 't100', sendId: '20111229' },
    })
    t.same(
      request.recipients.map(rcpt => verpSenderFor(request.sender, rcpt).toString()),
      [
        'bounce-t100-20111229-reader=example.net@bounces.example.com',
        'bounce-t100-20111229-other=example.org@bounces.example.com',
      ],
    )
    const delivered = await r.delivered.read()
    t.equal(sha256(delivered.subarray(RECEIVED.length)), side.message!.sha256)
    t.equal(delivered.subarray(0, RECEIVED.length).toString(), RECEIVED)
  },
)

t.test(
  'every well-formed fixture without GreenArrow headers is delivered as qmail-qmqpd queues it: Received line + message',
  async t => {
    const names = readdirSync(dir)
      .filter(f => f.endsWith('.json'))
      .map(f => f.slice(0, -5))
    let checked = 0
    for (const name of names) {
      if (name.startsWith('06-')) continue
      const side = JSON.parse(readFileSync(`${dir}${name}.json`, 'utf8')) as {
        expect: string
        message?: { sha256: string }
      }
      if (side.expect !== 'K' || !side.message) continue
      const { request } = load(name)
      for (const rule of [{}, { GREENARROW_SIMPLEMH: '' }]) {
        const r = await applyGreenArrow(
          messageBodyFrom(request.message),
          conn(rule),
          request.sender,
          config,
          now,
        )
        const delivered = await r.delivered.read()
        t.equal(delivered.subarray(0, RECEIVED.length).toString(), RECEIVED, name)
        t.equal(sha256(delivered.subarray(RECEIVED.length)), side.message.sha256, name)
      }
      checked++
    }
    t.equal(checked, 9)
  },
)

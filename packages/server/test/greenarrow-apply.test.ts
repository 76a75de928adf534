import t from 'tap'
import { messageBodyFrom, type MessageBody } from '@qmqpkit/qmqp'
import type { ConnectionInfo } from '../src/injected-message.js'
import { applyGreenArrow, type GreenArrowExtras } from '../src/greenarrow/apply.js'
import { defaultGreenArrowConfig, type GreenArrowConfig } from '../src/greenarrow/config.js'

const now = new Date('2026-12-04T15:41:30Z')
const RECEIVED =
  'Received: from unknown (127.0.0.1)\n  by qmqp.example.test with QMQP; 4 Dec 2026 15:41:30 -0000\n'

/** A connection as qmqpd builds it, with the rule's variables after tcpserver's. */
function conn(rule: Record<string, string> = {}, tcp: Record<string, string> = {}): ConnectionInfo {
  const base: Record<string, string> = {
    PROTO: 'TCP',
    TCPLOCALIP: '127.0.0.1',
    TCPLOCALPORT: '628',
    TCPREMOTEIP: '127.0.0.1',
    TCPREMOTEPORT: '40000',
    ...tcp,
  }
  return {
    id: 'c1',
    remoteIp: '127.0.0.1',
    remotePort: 40000,
    localIp: '127.0.0.1',
    localPort: 628,
    proto: 'TCP',
    ruleKey: '127.0.0.1',
    decision: 'allow',
    env: [...Object.entries(base), ...Object.entries(rule)].map(([k, v]) => [k, Buffer.from(v, 'latin1')]),
  }
}

const SIMPLEMH = { GREENARROW_SIMPLEMH: '' }
const config = (over: Partial<GreenArrowConfig> = {}): GreenArrowConfig => ({
  ...defaultGreenArrowConfig('engine.example.com'),
  receivedFormat: 'qmail',
  ...over,
})
const msg = (header: string, body = 'body\n') => messageBodyFrom(Buffer.from(`${header}\n${body}`, 'latin1'))

async function run(
  header: string,
  rule: Record<string, string> = {},
  over: Partial<GreenArrowConfig> = {},
  options: {
    sender?: string
    tcp?: Record<string, string>
    extras?: GreenArrowExtras
    body?: MessageBody
  } = {},
) {
  const tcp = { TCPLOCALHOST: 'qmqp.example.test', ...options.tcp }
  const result = await applyGreenArrow(
    options.body ?? msg(header),
    conn(rule, tcp),
    Buffer.from(options.sender ?? 'sender@example.com'),
    config(over),
    now,
    options.extras,
  )
  return { ...result, text: (await result.delivered.read()).toString('latin1') }
}
const checks = (r: { metadata: { problems: Array<{ check: string }> } }) =>
  r.metadata.problems.map(p => p.check)

t.test(
  'mode: SimpleMH when the rule sets GREENARROW_SIMPLEMH (any value) or GREENARROW_MAILCLASS',
  async t => {
    t.equal((await run('To: x\n')).metadata.mode, 'raw')
    t.equal((await run('To: x\n', { GREENARROW_SIMPLEMH: '' })).metadata.mode, 'simplemh')
    t.equal((await run('To: x\n', { GREENARROW_SIMPLEMH: 'no' })).metadata.mode, 'simplemh')
    t.equal((await run('To: x\n', { GREENARROW_MAILCLASS: 'news' })).metadata.mode, 'simplemh')
    t.equal((await run('To: x\n', { RELAYCLIENT: '' })).metadata.mode, 'raw')
  },
)

t.test('mail class precedence: header, then the rule, then the default', async t => {
  const header = 'X-GreenArrow-MailClass: fromheader\n'
  const def = { defaultMailClass: 'fromdefault' }
  const rule = { GREENARROW_MAILCLASS: 'fromrule' }
  const cases: Array<
    [string, Record<string, string>, Partial<GreenArrowConfig>, string | null, string | null]
  > = [
    [header, rule, def, 'fromheader', 'header'],
    [header, SIMPLEMH, def, 'fromheader', 'header'],
    [header, SIMPLEMH, {}, 'fromheader', 'header'],
    ['', rule, def, 'fromrule', 'rule'],
    ['', rule, {}, 'fromrule', 'rule'],
    ['', SIMPLEMH, def, 'fromdefault', 'default'],
    ['', SIMPLEMH, {}, null, null],
    ['X-GreenArrow-MailClass:\n', rule, def, 'fromrule', 'rule'],
    ['', { GREENARROW_MAILCLASS: '' }, def, 'fromdefault', 'default'],
  ]
  for (const [h, r, c, mailClass, source] of cases) {
    const { metadata } = await run(h, r, c)
    t.same(
      [metadata.mailClass, metadata.mailClassSource],
      [mailClass, source],
      `${JSON.stringify(h)} ${JSON.stringify(r)} ${JSON.stringify(c)}`,
    )
  }
  t.same(checks(await run('X-GreenArrow-MailClass:   \n', SIMPLEMH)), ['emptyHeader'])
  t.equal((await run('x-greenarrow-mailclass: lower\n', SIMPLEMH)).metadata.mailClass, 'lower')
})

t.test('mail class checks and their policies', async t => {
  const invalid = await run('X-GreenArrow-MailClass: news-letter\n', SIMPLEMH)
  t.same(checks(invalid), ['invalidMailClass'])
  t.equal(invalid.metadata.mailClass, 'news-letter')
  t.equal(invalid.verdict, undefined)
  const refused = await run('X-GreenArrow-MailClass: a\n', SIMPLEMH, {
    policies: { ...config().policies, invalidMailClass: { reply: 'D', text: 'bad mail class (#5.7.1)' } },
  })
  t.same(refused.verdict, { code: 'D', text: 'bad mail class (#5.7.1)' })
  const known = { knownMailClasses: ['Transactional', 'news'] }
  t.same(checks(await run('X-GreenArrow-MailClass: transactional\n', SIMPLEMH, known)), [])
  const unknown = await run('X-GreenArrow-MailClass: promo\n', SIMPLEMH, {
    ...known,
    policies: { ...config().policies, unknownMailClass: { reply: 'Z', text: 'no such class' } },
  })
  t.same(checks(unknown), ['unknownMailClass'])
  t.match(unknown.metadata.problems[0]!.message, /unknown mail class "promo"/)
  t.same(unknown.verdict, { code: 'Z', text: 'no such class' })
  // The rule's class and the default are checked as well.
  t.same(checks(await run('', { GREENARROW_MAILCLASS: 'bad class' })), ['invalidMailClass'])
  t.same(checks(await run('', SIMPLEMH, { defaultMailClass: 'other', ...known })), ['unknownMailClass'])
})

t.test('InstanceID, Click-Tracking-ID', async t => {
  const ok = await run(
    'X-GreenArrow-InstanceID: 0901220005\nX-GreenArrow-Click-Tracking-ID: order-4711\n',
    SIMPLEMH,
  )
  t.same([ok.metadata.instanceId, ok.metadata.clickTrackingId, checks(ok)], ['0901220005', 'order-4711', []])
  const long = await run(`X-GreenArrow-InstanceID: ${'9'.repeat(301)}\n`, SIMPLEMH, {
    policies: { ...config().policies, invalidInstanceId: { reply: 'Z', text: 'bad instance' } },
  })
  t.same(checks(long), ['invalidInstanceId'])
  t.same(long.verdict, { code: 'Z', text: 'bad instance' })
  t.equal(long.metadata.instanceId, '9'.repeat(301))
  t.same(checks(await run('X-GreenArrow-InstanceID: caf\xe9\n', SIMPLEMH)), ['invalidInstanceId'])
})

t.test('DKIM: several headers add up, folding allowed, bad ones add nothing', async t => {
  const header =
    'X-GreenArrow-DKIM: {"domain": "a.example",\n  "selector": "s1"}\n' +
    'X-GreenArrow-DKIM: [{"domain": "b.example"}, {"domain": "c.example", "selector": "s3"}]\n' +
    'X-GreenArrow-DKIM: {"domain": \n'
  const r = await run(header, SIMPLEMH)
  t.same(r.metadata.dkim, [
    { domain: 'a.example', selector: 's1' },
    { domain: 'b.example' },
    { domain: 'c.example', selector: 's3' },
  ])
  t.same(checks(r), ['invalidDkim'])
  t.notMatch(r.text, /DKIM/)
  const big = await run(`X-GreenArrow-DKIM: {"domain":"d.example","key":"${'k'.repeat(4100)}"}\n`, SIMPLEMH, {
    policies: { ...config().policies, invalidDkim: { reply: 'D', text: 'DKIM header too large' } },
  })
  t.same([big.metadata.dkim, checks(big), big.verdict?.code], [[], ['invalidDkim'], 'D'])
  t.equal((await run('To: x\n', SIMPLEMH)).metadata.dkim, null)
})

t.test('raw injection: MtaID, SendID, ListID', async t => {
  const r = await run(
    'X-GreenArrow-MtaID: smtp1-1\nX-GreenArrow-SendID: 20111229\nX-GreenArrow-ListID: t100\n',
  )
  t.same(
    [r.metadata.virtualMta, r.metadata.sendId, r.metadata.listId, checks(r)],
    ['smtp1-1', '20111229', 't100', []],
  )
  t.equal(
    (await run('X-GreenArrow-MtaID: 2\n', {}, { knownVirtualMtas: ['smtp1-1', '2'] })).metadata.virtualMta,
    '2',
  )
  const unknown = await run('X-GreenArrow-MtaID: nosuch\n', {}, { knownVirtualMtas: ['smtp1-1'] })
  t.same(
    [unknown.metadata.virtualMta, checks(unknown), unknown.verdict],
    [null, ['unknownVirtualMta'], undefined],
  )
  t.match(unknown.metadata.problems[0]!.message, /"nosuch"; the default VirtualMTA is used/)
  const refused = await run(
    'X-GreenArrow-MtaID: nosuch\n',
    {},
    {
      knownVirtualMtas: [],
      policies: { ...config().policies, unknownVirtualMta: { reply: 'D', text: 'no such VirtualMTA' } },
    },
  )
  t.same(refused.verdict, { code: 'D', text: 'no such VirtualMTA' })
  const badList = await run(
    'X-GreenArrow-ListID: a1\n',
    {},
    { policies: { ...config().policies, invalidListId: { reply: 'Z', text: 'list' } } },
  )
  t.same(
    [badList.metadata.listId, checks(badList), badList.verdict],
    ['a1', ['invalidListId'], { code: 'Z', text: 'list' }],
  )
  t.same((await run('To: x\n')).metadata.virtualMta, null)
})

t.test('X-Virtual-MTA: read only when asked, wins over MtaID, stripped only when asked', async t => {
  const header = 'X-GreenArrow-MtaID: smtp1-1\nX-Virtual-MTA: smtp2-1\n'
  const off = await run(header)
  t.equal(off.metadata.virtualMta, 'smtp1-1')
  t.match(off.text, /\nX-Virtual-MTA: smtp2-1\n/)
  const on = await run(header, {}, { processXVirtualMta: true })
  t.equal(on.metadata.virtualMta, 'smtp2-1')
  t.match(on.text, /\nX-Virtual-MTA: smtp2-1\n/)
  const strip = await run(header, {}, { processXVirtualMta: true, stripXVirtualMta: true })
  t.equal(strip.metadata.virtualMta, 'smtp2-1')
  t.notMatch(strip.text, /Virtual-MTA/)
  t.equal((await run('X-Virtual-MTA: only\n', {}, { processXVirtualMta: true })).metadata.virtualMta, 'only')
  t.equal(
    (await run('X-Virtual-MTA:\nX-GreenArrow-MtaID: m\n', {}, { processXVirtualMta: true })).metadata
      .virtualMta,
    'm',
  )
  // SimpleMH does not read it.
  t.equal((await run('X-Virtual-MTA: v\n', SIMPLEMH, { processXVirtualMta: true })).metadata.virtualMta, null)
})

t.test('each mode reads only its own headers, and both strip every X-GreenArrow-* header', async t => {
  const header =
    'From: a@example.com\nX-GreenArrow-MailClass: news\nX-GreenArrow-InstanceID: 7\nX-GreenArrow-MtaID: m1\n' +
    'X-GreenArrow-SendID: s\nX-GreenArrow-ListID: l\nX-GREENARROW-Unknown-Thing: y\nX-GreenArrowish: kept\nSubject: s\n'
  const kept = 'From: a@example.com\nX-GreenArrowish: kept\nSubject: s\n\nbody\n'
  const raw = await run(header)
  t.same(
    [
      raw.metadata.mailClass,
      raw.metadata.instanceId,
      raw.metadata.virtualMta,
      raw.metadata.sendId,
      raw.metadata.listId,
    ],
    [null, null, 'm1', 's', 'l'],
  )
  t.equal(raw.text, RECEIVED + kept)
  const simple = await run(header, SIMPLEMH)
  t.same(
    [
      simple.metadata.mailClass,
      simple.metadata.instanceId,
      simple.metadata.virtualMta,
      simple.metadata.sendId,
      simple.metadata.listId,
    ],
    ['news', '7', null, null, null],
  )
  t.equal(simple.text, RECEIVED + kept)
})

t.test('a second copy of a header is ignored and noted', async t => {
  const r = await run('X-GreenArrow-MailClass: first\nX-GreenArrow-MailClass: second\n', SIMPLEMH)
  t.equal(r.metadata.mailClass, 'first')
  t.same(checks(r), ['duplicateHeader'])
  t.notMatch(r.text, /MailClass/)
})

t.test('policies: a D wins over a Z, otherwise the first refusal; accept gives no verdict', async t => {
  const header = 'X-GreenArrow-MailClass: a\nX-GreenArrow-InstanceID: \x01\nX-GreenArrow-DKIM: nope\n'
  const policies = (mc: 'accept' | 'Z' | 'D', inst: 'accept' | 'Z' | 'D', dkim: 'accept' | 'Z' | 'D') => {
    const p = (x: 'accept' | 'Z' | 'D', text: string) =>
      x === 'accept' ? ('accept' as const) : { reply: x, text }
    return {
      policies: {
        ...config().policies,
        invalidMailClass: p(mc, 'mc'),
        invalidInstanceId: p(inst, 'inst'),
        invalidDkim: p(dkim, 'dkim'),
      },
    }
  }
  t.same((await run(header, SIMPLEMH, policies('Z', 'D', 'Z'))).verdict, { code: 'D', text: 'inst' })
  t.same((await run(header, SIMPLEMH, policies('accept', 'Z', 'Z'))).verdict, { code: 'Z', text: 'inst' })
  t.same((await run(header, SIMPLEMH, policies('Z', 'accept', 'D'))).verdict, { code: 'D', text: 'dkim' })
  const raw = await run(
    'X-GreenArrow-MtaID: nosuch\nX-GreenArrow-ListID: a\n',
    {},
    {
      knownVirtualMtas: [],
      policies: {
        ...config().policies,
        unknownVirtualMta: { reply: 'Z', text: 'vmta' },
        invalidListId: { reply: 'Z', text: 'list' },
      },
    },
  )
  t.same([checks(raw), raw.verdict], [['unknownVirtualMta', 'invalidListId'], { code: 'Z', text: 'list' }])
  const all = await run(header, SIMPLEMH, policies('accept', 'accept', 'accept'))
  t.equal(all.verdict, undefined)
  t.same(checks(all), ['invalidMailClass', 'invalidInstanceId', 'invalidDkim'])
})

t.test('Received line: formats, facts from the environment, hidden by the rule', async t => {
  t.ok((await run('To: x\n')).text.startsWith(RECEIVED))
  const ga = await run('To: x\n', {}, { receivedFormat: 'greenarrow' })
  t.ok(
    ga.text.startsWith(
      'Received: from unknown (127.0.0.1)\n  by engine.example.com with QMQP; 4 Dec 2026 15:41:30 -0000\nTo: x\n',
    ),
  )
  const named = await run(
    'To: x\n',
    {},
    {},
    {
      tcp: {
        TCPREMOTEHOST: 'app1.example.com',
        TCPREMOTEINFO: 'joe',
        TCPREMOTEIP: '192.0.2.7',
        TCPLOCALHOST: '',
      },
    },
  )
  t.ok(named.text.startsWith('Received: from app1.example.com (joe@192.0.2.7)\n  by  with QMQP;'))
  const pf = await run(
    'To: x\n',
    {},
    { receivedFormat: 'postfix' },
    { extras: { recipients: [Buffer.from('r@example.net')], queueId: 'ABC123' } },
  )
  t.ok(
    pf.text.startsWith(
      'Received: from unknown (unknown [127.0.0.1])\n\tby engine.example.com (Postfix) with QMQP id ABC123\n\tfor <r@example.net>; Fri,  4 Dec 2026 15:41:30 +0000 (UTC)\nTo: x\n',
    ),
  )
  t.match((await run('To: x\n', {}, { receivedFormat: 'postfix' })).text, /\n\tid c1; /)
  const hidden = await run('To: x\n', { GREENARROW_SMTP_RECEIVED_HIDE: '' })
  t.equal(hidden.text, 'To: x\n\nbody\n')
  t.ok(
    (
      await run('To: x\n', { GREENARROW_SMTP_RECEIVED_HIDE: '' }, { honourReceivedHide: false })
    ).text.startsWith(RECEIVED),
  )
})

t.test('without environment variables the connection fields name the peer', async t => {
  const c: ConnectionInfo = {
    ...conn(),
    env: [],
    remoteHost: 'peer.example',
    remoteInfo: 'ann',
    remoteIp: '10.1.2.3',
    localIp: '10.0.0.1',
  }
  const r = await applyGreenArrow(msg('To: x\n'), c, Buffer.alloc(0), config(), now)
  t.ok(
    (await r.delivered.read())
      .toString()
      .startsWith('Received: from peer.example (ann@10.1.2.3)\n  by 10.0.0.1 with QMQP;'),
  )
})

t.test(
  'hooks run in SimpleMH: early with the GreenArrow headers, late without; changes are delivered',
  async t => {
    const seen: string[][] = []
    const hooks = {
      earlyModify(h: import('../src/greenarrow/header-block.js').HeaderBlock) {
        seen.push(h.fields.map(f => f.name))
        h.set('X-GreenArrow-MailClass', 'rewritten')
      },
      async modify(h: import('../src/greenarrow/header-block.js').HeaderBlock) {
        seen.push(h.fields.map(f => f.name))
        h.add('X-Mailer-Info', 'emulated')
      },
    }
    const r = await run('X-GreenArrow-MailClass: news\nTo: x\n', SIMPLEMH, { hooks })
    t.same(seen, [['X-GreenArrow-MailClass', 'To'], ['To']])
    t.equal(r.metadata.mailClass, 'rewritten')
    t.equal(r.text, `${RECEIVED}To: x\nX-Mailer-Info: emulated\n\nbody\n`)
    seen.length = 0
    await run('To: x\n', {}, { hooks })
    t.same(seen, [])
  },
)

t.test('VERP sender recorded with its GreenArrow fields', async t => {
  const r = await run('To: x\n', {}, {}, { sender: 'bounce-t100-20111229-@bounces.example.com-@[]' })
  t.same(r.metadata.verp, {
    prefix: 'bounce-t100-20111229-',
    domain: 'bounces.example.com',
    greenArrow: { bounceLocalPart: 'bounce', listId: 't100', sendId: '20111229' },
  })
  t.equal((await run('To: x\n')).metadata.verp, null)
})

t.test('CR LF message: every kept byte is the same', async t => {
  const input =
    'From: a\r\nX-GreenArrow-MailClass: news\r\n continued\r\nSubject: s\r\n\r\nbody\r\nX-GreenArrow-MailClass: in body\r\n'
  const r = await applyGreenArrow(
    messageBodyFrom(Buffer.from(input)),
    conn(SIMPLEMH, { TCPLOCALHOST: 'qmqp.example.test' }),
    Buffer.alloc(0),
    config(),
    now,
  )
  t.equal(
    (await r.delivered.read()).toString(),
    `${RECEIVED}From: a\r\nSubject: s\r\n\r\nbody\r\nX-GreenArrow-MailClass: in body\r\n`,
  )
  t.equal(r.metadata.mailClass, 'news continued')
})

t.test(
  'a header past maxHeaderBytes: fields before the limit are processed, the rest passes untouched',
  async t => {
    const filler = Array.from({ length: 50 }, (_, i) => `X-Filler-${i}: ${'f'.repeat(40)}\n`).join('')
    const input = `X-GreenArrow-MtaID: early\n${filler}X-GreenArrow-ListID: late\n\nbody\n`
    const r = await applyGreenArrow(
      messageBodyFrom(input),
      conn({}, { TCPLOCALHOST: 'qmqp.example.test' }),
      Buffer.alloc(0),
      config({ maxHeaderBytes: 1000 }),
      now,
    )
    const text = (await r.delivered.read()).toString()
    t.equal(r.metadata.virtualMta, 'early')
    t.equal(r.metadata.listId, null)
    t.same(checks(r), ['headerTooLarge'])
    t.equal(text, RECEIVED + input.replace('X-GreenArrow-MtaID: early\n', ''))
  },
)

t.test('a message that is all header, or all body', async t => {
  t.equal(
    (await run('', {}, {}, { body: messageBodyFrom('X-GreenArrow-MtaID: m\nTo: x') })).text,
    `${RECEIVED}To: x`,
  )
  t.equal(
    (await run('', {}, {}, { body: messageBodyFrom('\nX-GreenArrow-MtaID: m\n') })).text,
    `${RECEIVED}\nX-GreenArrow-MtaID: m\n`,
  )
  t.equal((await run('', {}, {}, { body: messageBodyFrom('') })).text, RECEIVED)
})

import t from 'tap'
import { Readable } from 'node:stream'
import {
  decodeWords,
  isConnectionQuery,
  matchesQuery,
  parseHeaders,
  parseQuery,
  querySearchParams,
  readHeaderBlock,
  type MessageRecord,
} from '../src/query.js'

const record = (over: Partial<MessageRecord> = {}): MessageRecord => ({
  seq: 1,
  id: '1',
  namespace: 'blue',
  receivedAt: Date.parse('2026-01-02T03:04:05Z'),
  storedAt: null,
  stored: true,
  sender: 'Alice@Example.com',
  recipients: ['bob@example.com', 'carol+tag@example.org'],
  subject: 'Welcome aboard',
  headers: [
    ['Subject', 'Welcome aboard'],
    ['X-Campaign', 'Spring Sale 2026'],
  ],
  size: 100,
  deliveredSize: 120,
  verdict: { code: 'K', text: 'ok' },
  connection: {
    id: 'c1',
    remoteIp: '127.0.0.5',
    remotePort: 4000,
    localIp: '127.0.0.1',
    localPort: 628,
    proto: 'TCP',
    ruleKey: '127.0.0.5',
    decision: 'allow',
    env: [],
  },
  metadata: {
    mode: 'raw',
    mailClass: 'news',
    mailClassSource: 'header',
    instanceId: null,
    clickTrackingId: null,
    dkim: null,
    virtualMta: 'vmta1',
    sendId: 's1',
    listId: 'l1',
    verp: null,
    problems: [],
  },
  transcript: { outerLength: 1, messageLength: 1, senderLength: 1, recipientLengths: [1], startedAt: 0 },
  faults: [],
  ...over,
})

t.test('text fields match substrings in any case, the rest exactly', async t => {
  const r = record()
  const yes = (q: Record<string, string | string[]>) =>
    t.ok(matchesQuery(r, parseQuery(q)), JSON.stringify(q))
  const no = (q: Record<string, string | string[]>) =>
    t.notOk(matchesQuery(r, parseQuery(q)), JSON.stringify(q))
  yes({})
  yes({ to: 'CAROL+tag' })
  no({ to: 'dave' })
  yes({ from: 'alice@' })
  no({ from: 'bob' })
  yes({ subject: 'welcome' })
  no({ subject: 'goodbye' })
  yes({ header: 'x-campaign:spring sale' })
  yes({ header: ['X-Campaign:2026', 'Subject:aboard'] })
  no({ header: ['X-Campaign:2026', 'Subject:never'] })
  no({ header: 'X-Other:spring' })
  yes({ mailclass: 'news' })
  no({ mailclass: 'new' })
  yes({ vmta: 'vmta1', sendid: 's1', listid: 'l1' })
  no({ sendid: 's' })
  yes({ client: '127.0.0.5', rule: '127.0.0.5' })
  no({ client: '127.0.0.' })
  yes({ namespace: 'blue' })
  no({ namespace: 'blu' })
  no({ namespace: '' })
  t.ok(matchesQuery(record({ namespace: null }), parseQuery({ namespace: '' })))
  yes({ verdict: 'k' })
  no({ verdict: 'Z' })
  t.ok(matchesQuery(record({ verdict: null }), parseQuery({ verdict: 'drop' })))
  yes({ since: '2026-01-02T03:04:05Z', until: String(Date.parse('2026-01-02T03:04:06Z')) })
  no({ since: '2026-01-02T03:04:06Z' })
  no({ until: '2026-01-02T03:04:05Z' })
})

t.test('bad parameters are named; strict mode refuses unknown ones', async t => {
  t.throws(() => parseQuery({ verdict: 'X' }), { name: 'QueryError', message: /^verdict:/ })
  t.throws(() => parseQuery({ header: 'nocolon' }), { name: 'QueryError', message: /^header:/ })
  t.throws(() => parseQuery({ since: 'yesterday-ish' }), { name: 'QueryError', message: /^since:/ })
  t.throws(() => parseQuery({ to: ['a', 'b'] }), { name: 'QueryError', message: /^to:/ })
  t.same(parseQuery({ cursor: '5', to: 'x' }), { to: 'x' })
  t.throws(() => parseQuery({ cursor: '5' }, true), { name: 'QueryError', message: /^cursor:/ })
})

t.test('querySearchParams is the inverse of parseQuery', async t => {
  const q = parseQuery({
    to: 'a',
    from: 'b',
    subject: 'c d',
    header: ['X-A:1', 'X-B:2'],
    mailclass: 'm',
    namespace: '',
    verdict: 'drop',
    since: '1000',
  })
  const back = Object.fromEntries(
    [...new Set(querySearchParams(q).keys())].map(k => [k, querySearchParams(q).getAll(k)]),
  )
  t.same(parseQuery(back), q)
  t.equal(q.namespace, null)
})

t.test('connection queries use only client, rule and namespace', async t => {
  t.ok(isConnectionQuery(parseQuery({ client: '1.2.3.4', namespace: 'x' })))
  t.notOk(isConnectionQuery(parseQuery({ client: '1.2.3.4', to: 'x' })))
})

t.test('header blocks: unfolded, ended by the empty line, whatever the chunking', async t => {
  const text = 'Subject: one\r\n two\r\nX-A:  b \r\n\r\nBody: not a header\r\n'
  const bytes = Buffer.from(text)
  for (let cut = 0; cut <= bytes.length; cut++) {
    const block = await readHeaderBlock(
      Readable.from([bytes.subarray(0, cut), bytes.subarray(cut)].filter(b => b.length)),
    )
    t.same(
      parseHeaders(block),
      [
        ['Subject', 'one two'],
        ['X-A', 'b'],
      ],
      `cut ${cut}`,
    )
  }
  t.same(parseHeaders(Buffer.from('\nSubject: body\n')), [])
  t.same(parseHeaders(Buffer.from('Subject: x\nnot a header line\nX-B: y\n')), [['Subject', 'x']])
  const long = Buffer.alloc(200_000, 'a')
  t.equal((await readHeaderBlock(Readable.from([Buffer.from('X: '), long]))).length, 64 * 1024)
})

t.test('encoded words are decoded for display and subject search', async t => {
  t.equal(decodeWords('=?utf-8?B?R3LDvMOfZQ==?= =?iso-8859-1?Q?caf=E9_au_lait?='), 'Grüßecafé au lait')
  t.equal(decodeWords('=?x-unknown?B?AAAA?='), '=?x-unknown?B?AAAA?=')
  t.equal(decodeWords('plain'), 'plain')
})

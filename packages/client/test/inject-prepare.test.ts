import t from 'tap'
import { Readable } from 'node:stream'
import { InjectAddressError, InjectParseError, InjectReadError } from '../src/inject/errors.js'
import {
  prepareMessage,
  recipientFromArg,
  returnPathLine,
  rewriteDomains,
  senderFromArg,
  type InjectContext,
} from '../src/inject/prepare.js'

const b = (s: string) => Buffer.from(s, 'latin1')
const ctx = (over: Partial<InjectContext> = {}): InjectContext => ({
  args: [],
  flags: { recipients: 'A', print: true, senders: [] },
  env: new Map(),
  control: { me: b('client.example.com') },
  now: new Date('2026-12-04T15:52:36Z'),
  pid: 7,
  ...over,
})

t.test('no length limits: a 1 MB field line and 3000 recipients', async t => {
  const subject = 'Subject: ' + 'x'.repeat(1 << 20) + '\n'
  const rcpts = Array.from({ length: 3000 }, (_, i) => `r${i}@example.com`)
  const input = b(`To: ${rcpts.join(', ')}\n${subject}\nbody\n`)
  const p = await prepareMessage(input, ctx())
  t.equal(p.recipients.length, 3000)
  t.equal(p.recipients[0]!.toString(), 'r2999@example.com', 'right to left')
  t.ok(p.message.includes(b(subject)))
  const toField = p.message.toString('latin1').split('\nSubject:')[0]!.split('\nTo: ')[1]!
  const long = toField.split('\n').filter(line => line.length > 78)
  t.same(long, [], 'every folded line within 78 bytes')
})

t.test('a streamed message gives the same result as a buffer; the body passes unchanged', async t => {
  const body = Buffer.alloc(3 << 20)
  for (let i = 0; i < body.length; i++) body[i] = (i * 7) & 0xff
  body[body.length - 1] = 0x0a
  const input = Buffer.concat([b('To: a@b.c\n\n'), body])
  const chunks: Buffer[] = []
  for (let i = 0; i < input.length; i += 65536) chunks.push(input.subarray(i, i + 65536))
  const streamed = await prepareMessage(Readable.from(chunks), ctx())
  const whole = await prepareMessage(input, ctx())
  t.same(streamed.message, whole.message)
  t.ok(streamed.message.subarray(streamed.message.length - body.length).equals(body))
})

t.test('typed errors in qmail order', async t => {
  const args = ctx({ args: [b('a@(b')] })
  const err = await prepareMessage(b('To: (\n'), args).catch((e: unknown) => e)
  t.type(err, InjectAddressError, 'arguments are parsed before the message')
  t.equal((err as InjectAddressError).temporary, false)
  const perr = await prepareMessage(b('To: (\n  x\n'), ctx()).catch((e: unknown) => e)
  t.type(perr, InjectParseError)
  t.equal((perr as InjectParseError).code, 'CLIENT_ERR_PARSE')
  t.equal(
    (perr as InjectParseError).stderr.toString(),
    'qmail-inject: fatal: unable to parse this line:\nTo: (\n  x\n',
  )
  const broken = new Readable({
    read() {
      this.destroy(new Error('EIO'))
    },
  })
  const rerr = await prepareMessage(broken, ctx()).catch((e: unknown) => e)
  t.type(rerr, InjectReadError)
  t.equal((rerr as InjectReadError).temporary, true)
  t.equal((rerr as InjectReadError).code, 'CLIENT_ERR_READ')
})

t.test('helpers', async t => {
  const { domains } = rewriteDomains({ me: b('h.example') }, new Map())
  t.equal(senderFromArg(b(''), domains).toString(), '')
  t.equal(senderFromArg(b('a b'), domains).toString(), 'a b@h.example')
  t.throws(() => senderFromArg(b('x@"y'), domains), InjectParseError)
  t.equal(recipientFromArg(b('u'), domains).toString(), 'u@h.example')
  t.throws(() => recipientFromArg(b('x@[y'), domains), InjectAddressError)
  t.equal(returnPathLine(b('')).toString(), 'Return-Path: <>\n')
})

t.test('an explicit mft list and mail class setting take precedence over the environment', async t => {
  const env = new Map([
    ['GREENARROW_MAILCLASS', b('env')],
    ['QMAILMFTFILE', b('/nonexistent/file')],
  ])
  const p = await prepareMessage(
    b('To: l@x.y\n\nb\n'),
    ctx({ env, mft: [b('L@X.Y')], mailClass: { value: b('given'), mode: 'add-if-missing' } }),
  )
  t.match(
    p.message.toString(),
    /^Date: .*\nMessage-ID: .*\nFrom: anonymous@client\.example\.com\nMail-Followup-To: l@x\.y\nX-GreenArrow-MailClass: given\nTo: l@x\.y\n\nb\n$/,
  )
})

t.test('a NUL in an address ends it in the envelope, as the C string did', async t => {
  const p = await prepareMessage(b('To: "a\0b"@x.y\nReturn-Path: <"s\0t"@x.y>\n'), ctx())
  t.same(p.recipients.map(String), ['a'])
  t.equal(p.sender.toString(), 's')
  t.equal(p.returnPath.toString(), 'Return-Path: <s>\n')
})

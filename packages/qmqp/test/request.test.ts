import t from 'tap'
import { createHash } from 'node:crypto'
import { Readable, Writable } from 'node:stream'
import {
  RequestDecoder,
  encodeRequest,
  writeRequest,
  encodeEnvelopeTail,
  requestHead,
  messageSize,
  type RequestDecoderOptions,
} from '../src/request.js'
import { messageBodyFrom } from '../src/message-body.js'
import { QmqpError, QmqpLimitError, QmqpProtocolError } from '../src/errors.js'
import { loadQmqpFixtures, prng, testSeed } from '../../../test/lib/qmqp-fixtures.js'

interface Decoded {
  sender: Buffer
  recipients: Buffer[]
  message: Buffer
  badAddress: boolean
  consumed: number
}

/** Decodes `input` cut into pieces at `cuts`; returns the request or the error. */
function decode(input: Buffer, cuts: number[], opts: RequestDecoderOptions = {}): Decoded | QmqpError {
  const parts: Buffer[] = []
  const dec = new RequestDecoder({ ...opts, onMessageData: c => parts.push(Buffer.from(c)) })
  let consumed = 0
  try {
    let at = 0
    for (const cut of [...cuts, input.length]) {
      if (cut < at) continue
      if (!dec.done) consumed += dec.push(input.subarray(at, cut))
      at = cut
    }
    dec.end()
  } catch (err) {
    if (err instanceof QmqpError) return err
    throw err
  }
  const e = dec.envelope
  return {
    sender: e.sender,
    recipients: e.recipients,
    message: Buffer.concat(parts),
    badAddress: e.badAddress,
    consumed,
  }
}

const postfixOpts: RequestDecoderOptions = {
  compat: 'postfix',
  maxAddressBytes: 2048,
  maxMessageBytes: 10_240_000,
}
const outcome = (d: Decoded | QmqpError) =>
  d instanceof QmqpError ? `${d.name}:${'reason' in d ? d.reason : (d as QmqpLimitError).limit}` : 'ok'

t.test('all fixtures, split at every byte, decode as qmail-qmqpd reads them', async t => {
  for (const fx of loadQmqpFixtures()) {
    const whole = decode(fx.bytes, [])
    if (fx.expect === 'drop') t.ok(whole instanceof QmqpError, `${fx.name}: framing error`)
    else {
      t.notOk(whole instanceof QmqpError, `${fx.name}: decodes`)
      const d = whole as Decoded
      t.equal(d.badAddress, fx.expect === 'D', `${fx.name}: address verdict`)
      t.equal(
        createHash('sha256').update(d.message).digest('hex'),
        fx.message!.sha256,
        `${fx.name}: message sha256`,
      )
      if (fx.expect === 'K')
        t.same(
          [d.sender, d.recipients],
          [fx.envelope!.sender, fx.envelope!.recipients],
          `${fx.name}: envelope`,
        )
      t.ok(d.consumed <= fx.bytes.length)
    }
    for (let cut = 0; cut <= fx.bytes.length; cut++) {
      const d = decode(fx.bytes, [cut])
      if (outcome(d) !== outcome(whole))
        t.fail(`${fx.name}: cut ${cut} gives ${outcome(d)}, whole gives ${outcome(whole)}`)
    }
  }
})

t.test('fixture 21: bytes after the final comma are not consumed', async t => {
  const fx = loadQmqpFixtures().find(f => f.name.startsWith('21'))!
  const d = decode(fx.bytes, []) as Decoded
  t.equal(d.consumed, 230)
  t.equal(fx.bytes.length, 248)
})

t.test('postfix mode decodes as Postfix qmqpd reads', async t => {
  const fixtures = loadQmqpFixtures()
  const by = (p: string) => fixtures.find(f => f.name.startsWith(p))!
  for (const p of ['16', '19', '20']) {
    const d = decode(by(p).bytes, [], postfixOpts) as Decoded
    t.same(
      [d.sender, d.recipients],
      [Buffer.from('sender@example.com'), [Buffer.from('rcpt@example.net')]],
      `${p}: outer length ignored`,
    )
  }
  t.same(
    (decode(by('10').bytes, [], postfixOpts) as Decoded).recipients,
    [Buffer.from('rc')],
    'cut at the NUL',
  )
  t.equal((decode(by('09').bytes, [], postfixOpts) as Decoded).badAddress, false)
  t.match(decode(by('11').bytes, [], postfixOpts), { limit: 'address-bytes', stage: 'recipient' })
  t.match(decode(by('17').bytes, [], postfixOpts), { limit: 'message-bytes', stage: 'message' })
  t.match(decode(by('12').bytes, [], postfixOpts), { reason: 'missing-comma', stage: 'message' })
  t.match(decode(by('13').bytes, [], postfixOpts), { reason: 'missing-comma', stage: 'sender' })
  t.match(decode(by('15').bytes, [], postfixOpts), { reason: 'length-syntax', stage: 'sender' })
  t.match(decode(by('18').bytes, [], postfixOpts), { reason: 'truncated', stage: 'message' })
  t.match(decode(Buffer.from('x'), [], postfixOpts), { reason: 'length-syntax', stage: 'header' })
  t.match(decode(Buffer.from('99999999999999999999:'), [], postfixOpts), { limit: 'outer-bytes' })
})

t.test('qmail-mode errors name their reason and stage', async t => {
  const fixtures = loadQmqpFixtures()
  const by = (p: string) => decode(fixtures.find(f => f.name.startsWith(p))!.bytes, [])
  t.match(by('12'), { reason: 'missing-comma', stage: 'message' })
  t.match(by('13'), { reason: 'missing-comma', stage: 'sender' })
  t.match(by('15'), { reason: 'length-syntax', stage: 'sender' })
  t.match(by('16'), { limit: 'outer-bytes', stage: 'header' })
  t.match(by('17'), { reason: 'truncated', stage: 'message' })
  t.match(by('19'), { reason: 'outer-length-mismatch', stage: 'trailer' })
  t.match(by('20'), { reason: 'length-syntax', stage: 'recipient' })
  t.match(decode(Buffer.from('0:'), []), { reason: 'truncated' })
  t.match(decode(Buffer.from('0:1'), []), { reason: 'outer-length-mismatch' })
  t.match(
    decode(Buffer.from('10:100:'), []),
    { reason: 'outer-length-mismatch', stage: 'message' },
    'a message that cannot fit is refused at its length',
  )
  t.match(decode(Buffer.alloc(101, 0x30), []), { reason: 'length-prefix-too-long' })
  t.match(decode(Buffer.from('5:x'), []), { reason: 'length-syntax', stage: 'message' })
  t.match(decode(Buffer.from('x'), []), { reason: 'length-syntax', stage: 'header' })
})

t.test('limits: message size refused at its length, before any message byte', async t => {
  const req = encodeRequest({ message: 'x'.repeat(5000), sender: 's', recipients: ['r'] })
  let data = 0
  const dec = new RequestDecoder({ maxMessageBytes: 4999, onMessageData: c => (data += c.length) })
  t.throws(() => dec.push(req), QmqpLimitError)
  t.equal(data, 0)
  t.notOk(decode(req, [], { maxMessageBytes: 5000 }) instanceof QmqpError)
})

t.test('limits: recipients past the maximum are counted, not kept', async t => {
  const rcpts = Array.from({ length: 6 }, (_, i) => `r${i}@example.com`)
  const req = encodeRequest({ message: 'm', sender: 's', recipients: rcpts })
  const dec = new RequestDecoder({ maxRecipients: 4 })
  dec.push(req)
  t.ok(dec.done)
  t.equal(dec.envelope.tooManyRecipients, true)
  t.equal(dec.envelope.recipients.length, 4)
  t.equal(dec.envelope.recipientCount, 6)
  t.equal(dec.envelope.recipientLengths.length, 5)
  t.equal(dec.stage, 'trailer')
})

t.test('qmail mode: a long sender is skipped, not stored, and marks the request', async t => {
  const req = encodeRequest({ message: 'm', sender: 'x'.repeat(5000), recipients: ['ok@example.com'] })
  const dec = new RequestDecoder()
  dec.push(req)
  t.ok(dec.done)
  t.equal(dec.envelope.badAddress, true)
  t.equal(dec.envelope.sender.length, 0)
  t.equal(dec.envelope.senderLength, 5000)
  const nulSender = new RequestDecoder()
  nulSender.push(encodeRequest({ message: 'm', sender: 'a\0b', recipients: [] }))
  t.equal(nulSender.envelope.badAddress, true)
})

t.test('encode then decode is the identity (seeded)', async t => {
  const seed = testSeed()
  const rnd = prng(seed)
  const bytes = (n: number) => Buffer.from(Array.from({ length: n }, () => Math.floor(rnd() * 256)))
  for (let i = 0; i < 300; i++) {
    const message = bytes(Math.floor(rnd() * 3000))
    const sender = Buffer.from(bytes(Math.floor(rnd() * 40)).filter(b => b !== 0))
    const recipients = Array.from({ length: Math.floor(rnd() * 5) }, () =>
      Buffer.from(bytes(1 + Math.floor(rnd() * 60)).filter(b => b !== 0)),
    )
    const wire = encodeRequest({ message, sender, recipients })
    const cuts = Array.from({ length: 3 }, () => Math.floor(rnd() * wire.length)).sort((a, b) => a - b)
    const d = decode(wire, cuts)
    if (d instanceof QmqpError) {
      t.fail(`seed ${seed} case ${i}: ${d.message}`)
      break
    }
    if (
      !d.message.equals(message) ||
      !d.sender.equals(sender) ||
      d.recipients.length !== recipients.length ||
      d.recipients.some((r, j) => !r.equals(recipients[j]!))
    )
      t.fail(`seed ${seed} case ${i}: not the identity`)
  }
  t.pass('300 requests')
})

t.test('writeRequest streams a body from a Buffer, a MessageBody or a sized stream', async t => {
  const sink = () => {
    const parts: Buffer[] = []
    return {
      w: new Writable({
        highWaterMark: 16,
        write(c: Buffer, _e, cb) {
          parts.push(c)
          setImmediate(cb)
        },
      }),
      bytes: () => Buffer.concat(parts),
    }
  }
  const want = encodeRequest({
    message: 'hello world\n',
    sender: 'a@b',
    recipients: ['c@d', Buffer.from('e@f')],
  })
  for (const message of [
    Buffer.from('hello world\n'),
    'hello world\n',
    messageBodyFrom('hello world\n'),
    { stream: Readable.from([Buffer.from('hello '), Buffer.from('world\n')]), size: 12 },
  ]) {
    const s = sink()
    await writeRequest(s.w, { message, sender: 'a@b', recipients: ['c@d', Buffer.from('e@f')] })
    t.same(s.bytes(), want)
  }
  const s = sink()
  await t.rejects(
    writeRequest(s.w, {
      message: { stream: Readable.from([Buffer.from('short')]), size: 12 },
      sender: '',
      recipients: [],
    }),
    { code: 'QMQP_ERR_BODY_LENGTH' },
  )
  t.equal(messageSize('é'), 2)
  const tail = encodeEnvelopeTail('a', ['b'])
  t.same(
    Buffer.concat([requestHead(2, tail.length), Buffer.from('hi,'), tail]),
    encodeRequest({ message: 'hi', sender: 'a', recipients: ['b'] }),
  )
})

t.test('end() before completion is a truncation', async t => {
  const dec = new RequestDecoder()
  t.ok(dec.pristine)
  t.throws(() => dec.end(), QmqpProtocolError)
  t.equal(dec.stage, 'header')
})

t.test('a multi-megabyte body through a slow consumer: queued bytes stay within two chunks', async t => {
  const chunk = 64 * 1024
  const size = 8 * 1024 * 1024
  let maxQueued = 0
  let received = 0
  const slow = new Writable({
    highWaterMark: chunk,
    write(c: Buffer, _e, cb) {
      received += c.length
      maxQueued = Math.max(maxQueued, slow.writableLength)
      setTimeout(cb, 0)
    },
  })
  let made = 0
  const source = new Readable({
    highWaterMark: chunk,
    read() {
      if (made >= size) return void this.push(null)
      made += chunk
      this.push(Buffer.alloc(chunk, 0x61))
    },
  })
  await writeRequest(slow, { message: { stream: source, size }, sender: 's', recipients: ['r'] })
  t.ok(maxQueued <= 2 * chunk, `at most ${maxQueued} bytes queued in the consumer`)
  t.ok(received > size, 'everything written')
})

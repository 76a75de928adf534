import t from 'tap'
import { RequestDecoder, encodeRequest, type Compat } from '../src/request.js'
import { QmqpLimitError, QmqpProtocolError } from '../src/errors.js'
import { loadQmqpFixtures, prng, testSeed } from '../../../test/lib/qmqp-fixtures.js'

// Seeded fuzzing of the request decoder: random bytes, mutated valid requests and fresh valid
// requests, fed in random chunks. Properties: only our typed errors are thrown; nothing is held
// beyond the limits; bytes are never consumed past the input; valid requests decode exactly.
const CASES = Number(process.env.QMQP_FUZZ_CASES ?? 100_000)
const seed = testSeed()
const rnd = prng(seed)
const int = (n: number) => Math.floor(rnd() * n)
const bytes = (n: number) => {
  const b = Buffer.allocUnsafe(n)
  for (let i = 0; i < n; i++) b[i] = int(256)
  return b
}
const limits = { maxMessageBytes: 4000, maxAddressBytes: 64, maxRecipients: 8, maxOuterBytes: 6000 }
const seeds = [
  ...loadQmqpFixtures().map(f => f.bytes),
  encodeRequest({ message: 'a', sender: '', recipients: [] }),
]

function validRequest() {
  const message = bytes(int(200))
  const sender = Buffer.from(bytes(int(20)).filter(b => b !== 0))
  const recipients = Array.from({ length: int(4) }, () => Buffer.from(bytes(int(20)).filter(b => b !== 0)))
  return { message, sender, recipients }
}

function mutate(src: Buffer): Buffer {
  const b = Buffer.from(src)
  const kind = int(6)
  const at = int(b.length + 1)
  if (kind === 0 && b.length) b[Math.min(at, b.length - 1)] = int(256)
  if (kind === 1) return Buffer.concat([b.subarray(0, at), bytes(1 + int(4)), b.subarray(at)])
  if (kind === 2) return Buffer.concat([b.subarray(0, at), b.subarray(Math.min(b.length, at + 1 + int(4)))])
  if (kind === 3) return b.subarray(0, at)
  if (kind === 4) {
    // rewrite a digit run: the commonest way a length goes wrong
    const d = b.findIndex((c, i) => i >= at && c >= 0x30 && c <= 0x39)
    if (d >= 0) b[d] = 0x30 + int(10)
  }
  if (kind === 5) return Buffer.concat([Buffer.from(String(int(1e6))), b.subarray(b.indexOf(0x3a))])
  return b
}

t.test(`${CASES} random, mutated and valid inputs (seed ${seed}, QMQP_SEED to change)`, async t => {
  let failure: string | undefined
  const counts = { ok: 0, protocol: 0, limit: 0 }
  for (let n = 0; n < CASES && !failure; n++) {
    const compat: Compat = int(4) === 0 ? 'postfix' : 'qmail'
    const pick = int(10)
    let input: Buffer
    let valid: ReturnType<typeof validRequest> | undefined
    if (pick < 2) input = bytes(int(64))
    else if (pick < 7) input = mutate(seeds[int(seeds.length)]!)
    else {
      valid = validRequest()
      input = pick === 9 ? mutate(encodeRequest(valid)) : encodeRequest(valid)
      if (pick === 9) valid = undefined
    }
    let message = 0
    const dec = new RequestDecoder({ ...limits, compat, onMessageData: c => (message += c.length) })
    let consumed = 0
    try {
      let at = 0
      while (at < input.length && !dec.done) {
        const piece = input.subarray(at, at + 1 + int(40))
        const used = dec.push(piece)
        if (used > piece.length || (used < piece.length && !dec.done))
          failure = `consumed ${used} of ${piece.length}`
        consumed += used
        at += piece.length
      }
      dec.end()
      counts.ok++
      const e = dec.envelope
      if (e.recipients.length > limits.maxRecipients) failure = `kept ${e.recipients.length} recipients`
      if ([e.sender, ...e.recipients].some(a => a.length > limits.maxAddressBytes))
        failure = 'kept an address over the limit'
      if (compat === 'qmail' && consumed > limits.maxOuterBytes + 101) failure = `consumed ${consumed}`
      if (valid) {
        const same =
          e.sender.equals(valid.sender) &&
          e.recipients.length === valid.recipients.length &&
          e.recipients.every((r, i) => r.equals(valid.recipients[i]!))
        if (!same || message !== valid.message.length) failure = 'valid request not decoded exactly'
      }
    } catch (err) {
      if (err instanceof QmqpProtocolError) counts.protocol++
      else if (err instanceof QmqpLimitError) counts.limit++
      else failure = `untyped error ${(err as Error)?.name}: ${(err as Error)?.message}`
      if (valid) failure = `valid request refused: ${(err as Error).message}`
    }
    if (message > limits.maxMessageBytes) failure = `passed on ${message} message bytes`
    if (failure)
      failure = `seed ${seed} case ${n} (${compat}, input ${input.toString('hex').slice(0, 400)}): ${failure}`
  }
  if (failure) t.fail(failure)
  else t.pass(`no property broken: ${JSON.stringify(counts)}`)
  t.ok(counts.ok > 0 && counts.protocol > 0 && counts.limit > 0, 'all outcomes occurred')
})

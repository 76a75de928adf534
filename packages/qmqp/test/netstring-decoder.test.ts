import t from 'tap'
import { NetstringDecoder, decodeNetstrings } from '../src/netstring-decoder.js'
import { QmqpLimitError, QmqpProtocolError } from '../src/errors.js'

/** Decodes a sequence of netstrings fed in two pieces cut at `cut`. */
function decodeSplit(input: Buffer, cut: number, maxLength?: number) {
  return decodeNetstrings(
    [input.subarray(0, cut), input.subarray(cut)],
    maxLength === undefined ? {} : { maxLength },
  )
}

t.test('every split of a sequence gives the same netstrings', async t => {
  const input = Buffer.from('5:hello,0:,3:a,b,13:\x00\xff\n:,12345678,', 'latin1')
  const want = ['hello', '', 'a,b', '\x00\xff\n:,12345678'].map(s => Buffer.from(s, 'latin1'))
  for (let cut = 0; cut <= input.length; cut++) t.same(decodeSplit(input, cut), want, `cut ${cut}`)
})

t.test('one byte at a time', async t => {
  const input = Buffer.from('11:hello world,1:x,')
  const bytes = [...input].map(b => Buffer.from([b]))
  t.same(decodeNetstrings(bytes), [Buffer.from('hello world'), Buffer.from('x')])
})

t.test('leading zeros and an empty length are accepted, as qmail and Postfix do', async t => {
  t.same(decodeNetstrings(Buffer.from('0005:hello,000:,:,')), [
    Buffer.from('hello'),
    Buffer.alloc(0),
    Buffer.alloc(0),
  ])
})

t.test('what qmail rejects is rejected, with a typed error and reason', async t => {
  const cases: Array<[string, string]> = [
    ['5x:hello,', 'length-syntax'],
    ['-1:,', 'length-syntax'],
    [' 5:hello,', 'length-syntax'],
    ['5:hello;', 'missing-comma'],
    ['5:hello', 'truncated'],
    ['5', 'truncated'],
    ['3:abcd,', 'missing-comma'],
  ]
  for (const [input, reason] of cases) {
    t.throws(() => decodeNetstrings(Buffer.from(input)), QmqpProtocolError, input)
    try {
      decodeNetstrings(Buffer.from(input))
    } catch (err) {
      t.equal((err as QmqpProtocolError).reason, reason, input)
      t.equal((err as QmqpProtocolError).code, 'QMQP_ERR_PROTOCOL')
      t.equal((err as QmqpProtocolError).temporary, false)
    }
  }
})

t.test('a length over the limit is refused while its digits are read, before any payload', async t => {
  let lengths = 0
  const dec = new NetstringDecoder({ maxLength: 1000, onLength: () => lengths++ })
  t.throws(() => dec.push(Buffer.from('1001')), QmqpLimitError)
  t.equal(lengths, 0)
  const ok = new NetstringDecoder({ maxLength: 1000, onLength: n => (lengths = n) })
  t.equal(ok.push(Buffer.from('1000:')), 5)
  t.equal(lengths, 1000)
  t.equal(ok.length, 1000)
  // qmail's default guard
  t.throws(() => new NetstringDecoder().push(Buffer.from('200000001')), {
    code: 'QMQP_ERR_LIMIT',
    limit: 'netstring-bytes',
  })
})

t.test('the length prefix has a byte budget, so endless zeros end', async t => {
  const dec = new NetstringDecoder({ maxPrefixBytes: 10 })
  t.throws(() => dec.push(Buffer.alloc(11, 0x30)), {
    code: 'QMQP_ERR_PROTOCOL',
    reason: 'length-prefix-too-long',
  })
  t.equal(new NetstringDecoder({ maxPrefixBytes: 10 }).push(Buffer.from('000000005:')), 10)
})

t.test('push stops after one netstring; data are views; reset reads the next', async t => {
  const seen: Buffer[] = []
  let ends = 0
  const chunk = Buffer.from('3:abc,2:de,')
  const dec = new NetstringDecoder({ onData: c => seen.push(c), onEnd: () => ends++ })
  t.ok(dec.pristine)
  const at = dec.push(chunk)
  t.equal(at, 6)
  t.ok(dec.done)
  t.equal(seen[0]!.buffer, chunk.buffer, 'a view, not a copy')
  t.equal(dec.push(chunk, at), at, 'nothing more once done')
  dec.reset(10, 'sender')
  t.equal(dec.stage, 'sender')
  t.equal(dec.push(chunk, at), chunk.length)
  t.equal(ends, 2)
  t.same(Buffer.concat(seen).toString(), 'abcde')
  t.equal(dec.prefixBytes, 2)
})

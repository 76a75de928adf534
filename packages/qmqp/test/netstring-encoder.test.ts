import t from 'tap'
import { PassThrough, Readable, Writable } from 'node:stream'
import {
  COMMA,
  decimalDigits,
  encodeNetstring,
  putNetstringPrefix,
  netstringPrefix,
  netstringSize,
  pipeExactly,
  writeChunk,
  writeNetstring,
} from '../src/netstring-encoder.js'
import { decodeNetstrings } from '../src/netstring-decoder.js'
import { QmqpBodyLengthError } from '../src/errors.js'

function collector() {
  const parts: Buffer[] = []
  const w = new Writable({
    write(c: Buffer, _e, cb) {
      parts.push(c)
      cb()
    },
  })
  return { w, bytes: () => Buffer.concat(parts) }
}

t.test('encodeNetstring counts bytes, strings as UTF-8', async t => {
  t.same(encodeNetstring(''), Buffer.from('0:,'))
  t.same(encodeNetstring('héllo'), Buffer.from('6:héllo,'))
  t.same(encodeNetstring(Buffer.from([0, 255])), Buffer.from([0x32, 0x3a, 0, 255, 0x2c]))
  t.equal(netstringSize(0), 3)
  t.equal(netstringSize(10), 14)
  t.same(netstringPrefix(12), Buffer.from('12:'))
  t.same(COMMA, Buffer.from(','))
  t.throws(() => netstringPrefix(-1), RangeError)
  t.throws(() => netstringPrefix(1.5), RangeError)
})

t.test('writeNetstring from a Buffer and from a stream of known length', async t => {
  const c = collector()
  await writeNetstring(c.w, Buffer.from('abc'))
  await writeNetstring(c.w, Readable.from([Buffer.from('de'), Buffer.from('f')]), 3)
  await writeNetstring(c.w, Readable.from([]), 0)
  t.same(decodeNetstrings(c.bytes()), [Buffer.from('abc'), Buffer.from('def'), Buffer.alloc(0)])
  await t.rejects(writeNetstring(c.w, Readable.from([Buffer.from('x')])), TypeError)
})

t.test('a stream giving more or fewer bytes than declared is an error, extra bytes unwritten', async t => {
  const c = collector()
  await t.rejects(
    pipeExactly(Readable.from([Buffer.from('abc'), Buffer.from('def')]), c.w, 4),
    QmqpBodyLengthError,
  )
  t.equal(c.bytes().toString(), 'abc')
  await t.rejects(pipeExactly(Readable.from([Buffer.from('ab')]), c.w, 3), {
    code: 'QMQP_ERR_BODY_LENGTH',
    declared: 3,
    actual: 2,
  })
  await pipeExactly(Readable.from(['xy']), c.w, 2)
  t.equal(c.bytes().toString(), 'abcabxy')
})

t.test('writeChunk waits for drain, and fails if the stream closes first', async t => {
  const slow = new PassThrough({ highWaterMark: 4 })
  t.equal(writeChunk(slow, Buffer.from('ab')), undefined)
  const wait = writeChunk(slow, Buffer.from('cdefgh'))
  t.ok(wait instanceof Promise)
  let drained = false
  void wait!.then(() => (drained = true))
  await new Promise(r => setImmediate(r))
  t.notOk(drained)
  slow.read()
  await wait
  t.ok(drained)
  const dead = new PassThrough({ highWaterMark: 1 })
  const w2 = writeChunk(dead, Buffer.from('abc'))
  dead.destroy()
  await t.rejects(w2!, { code: 'ERR_STREAM_PREMATURE_CLOSE' })
  const bad = new PassThrough({ highWaterMark: 1 })
  const w3 = writeChunk(bad, Buffer.from('abc'))
  bad.destroy(new Error('boom'))
  await t.rejects(w3!, /boom/)
})

t.test('decimalDigits, netstringSize and putNetstringPrefix agree with the text form', async t => {
  for (const n of [0, 1, 9, 10, 99, 100, 999, 1000, 65535, 200_000_000, 9_999_999_999]) {
    t.equal(decimalDigits(n), String(n).length, `${n} digits`)
    t.equal(netstringSize(n), `${n}:`.length + n + 1, `${n} size`)
    const buf = Buffer.alloc(String(n).length + 3, 0x2e)
    t.equal(putNetstringPrefix(buf, 1, n), String(n).length + 2)
    t.equal(buf.toString('latin1'), `.${n}:.`)
  }
})

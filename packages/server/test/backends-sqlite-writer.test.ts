import t from 'tap'
import { Prng, testSeed } from '../../../test/lib/prng.js'
import {
  BatchArena,
  BatchReader,
  decodeAddressList,
  messageColumns,
  type PackedChunk,
  type PackedValue,
} from '../src/backends/sqlite-writer.js'

function randomValue(rng: Prng): PackedValue {
  switch (rng.int(6)) {
    case 0:
      return null
    case 1:
      return rng.chance(0.5) ? rng.int(2 ** 40) : rng.next() * 1e6 - 5e5
    case 2:
      // Text beyond Latin-1 and ASCII: UTF-8 lengths differ from string lengths.
      return Array.from({ length: rng.int(40) }, () => rng.pick(['a', 'é', '€', '😀', '"', '\n'])).join('')
    case 3:
      return rng.bytes(rng.int(300))
    case 4:
      return Array.from({ length: rng.int(5) }, () => rng.bytes(rng.int(30)))
    default:
      return ''
  }
}

t.test('packed message records come back value for value, in order', async t => {
  const seed = testSeed()
  const rng = new Prng(seed)
  // Small start: the arena has to grow while records are appended.
  const arena = new BatchArena(64)
  const written: Array<{ values: PackedValue[]; chunks: PackedChunk[]; length: number }> = []
  for (let i = 0; i < 40; i++) {
    const values = messageColumns.map(() => randomValue(rng))
    const chunks: PackedChunk[] = Array.from(
      { length: rng.int(3) },
      (_, n) => [rng.int(2), n, rng.bytes(rng.int(5000))] as const,
    )
    written.push({ values, chunks, length: arena.appendMessage(values, chunks) })
  }
  const total = written.reduce((n, w) => n + w.length, 0)
  t.equal(arena.length, total)
  const packed = arena.take()!
  t.ok(packed.byteLength >= total, 'one buffer holds the whole batch')
  t.equal(arena.length, 0, 'the arena starts again empty')
  t.equal(arena.take(), undefined, 'nothing to take from an empty arena')

  const reader = new BatchReader(Buffer.from(packed))
  for (const [i, w] of written.entries()) {
    const got = reader.message(w.length)
    const expected = w.values.map(v =>
      Array.isArray(v) ? v.map(a => Buffer.from(a)) : v instanceof Uint8Array ? Buffer.from(v) : v,
    )
    const actual = got.values.map((v, c) =>
      Array.isArray(w.values[c]) && Buffer.isBuffer(v) ? decodeAddressList(v) : v,
    )
    t.same(actual, expected, `record ${i} values (seed ${seed})`)
    t.same(
      got.chunks,
      w.chunks.map(([p, n, d]) => [p, n, Buffer.from(d)]),
      `record ${i} chunks (seed ${seed})`,
    )
  }
})

t.test('a record with the wrong number of values is refused and leaves the arena as it was', async t => {
  const arena = new BatchArena()
  const good = arena.appendMessage(
    messageColumns.map((_, i) => i),
    [],
  )
  t.throws(() => arena.appendMessage([1, 2, 3], []), RangeError)
  t.equal(arena.length, good)
})

t.test('a damaged record is reported, and the next record is still read', async t => {
  const arena = new BatchArena()
  const first = arena.appendMessage(
    messageColumns.map(() => 'x'),
    [],
  )
  const second = arena.appendMessage(
    messageColumns.map(() => 7),
    [],
  )
  const buf = Buffer.from(arena.take()!)
  buf[0] = 0xee
  const reader = new BatchReader(buf)
  t.throws(() => reader.message(first), /unknown tag 238/)
  t.same(
    reader.message(second).values,
    messageColumns.map(() => 7),
  )
})

import t from 'tap'
import { Readable } from 'node:stream'
import type { MessageBody } from '@qmqpkit/qmqp'
import { messageBodyFrom } from '@qmqpkit/qmqp'
import { readHeader } from '../src/greenarrow/header-reader.js'
import { scanHeader } from '../src/greenarrow/header-block.js'

/** A body served in fixed-size chunks that counts what was pulled and refuses to be read whole. */
class ChunkedBody implements MessageBody {
  pulled = 0
  constructor(
    readonly bytes: Buffer,
    readonly chunk: number,
  ) {}
  get size(): number {
    return this.bytes.length
  }
  stream(range: { start?: number; end?: number } = {}): Readable {
    let pos = range.start ?? 0
    const end = range.end ?? this.bytes.length
    const stream = new Readable({
      highWaterMark: 1,
      read: () => {
        const piece = this.bytes.subarray(pos, Math.min(end, pos + this.chunk))
        pos += piece.length
        this.pulled += piece.length
        stream.push(piece.length > 0 ? piece : null)
      },
    })
    return stream
  }
  async read(): Promise<Buffer> {
    throw new Error('read() would hold the whole message')
  }
  async dispose(): Promise<void> {}
}

const messages = [
  'From: a\nSubject: b\n\nbody\n',
  'X-A: 1\n folded\n\tagain\nX-B: 2\n\n',
  'A: 1\r\nB: 2\r\n\r\nbody',
  'A: 1\nnot a field\nB: 2\n\n',
  'A: 1\nB: 2',
  'A: 1\nB: 2\n',
  '\nbody only\n',
  '',
]

t.test('the same fields and end whatever the chunk size', async t => {
  for (const m of messages) {
    const whole = scanHeader(Buffer.from(m), true)
    for (let chunk = 1; chunk <= m.length + 1; chunk++) {
      const read = await readHeader(new ChunkedBody(Buffer.from(m), chunk), 1 << 20)
      t.same(
        [read.fields.map(f => f.raw.toString()), read.end, read.complete, read.truncated],
        [whole.fields.map(f => f.raw.toString()), whole.end, true, false],
        `${JSON.stringify(m)} in chunks of ${chunk}`,
      )
    }
  }
})

t.test('only the header is pulled from a large message', async t => {
  const header = 'From: a@example.com\nSubject: big\n\n'
  const body = new ChunkedBody(Buffer.concat([Buffer.from(header), Buffer.alloc(4 << 20, 0x61)]), 16 * 1024)
  const read = await readHeader(body, 1 << 20)
  t.equal(read.end, header.length - 1)
  t.ok(body.pulled <= 2 * 16 * 1024, `pulled ${body.pulled} bytes`)
})

t.test('a header longer than the limit is cut at the limit, whatever the chunks', async t => {
  const lines = Array.from({ length: 2000 }, (_, i) => `X-Line-${i}: ${'v'.repeat(30)}\n`).join('')
  const bytes = Buffer.from(`${lines}\nbody\n`)
  const limit = 10_000
  const expected = scanHeader(bytes.subarray(0, limit), false)
  for (const chunk of [1000, 4096, 65536, bytes.length]) {
    const body = new ChunkedBody(bytes, chunk)
    const read = await readHeader(body, limit)
    t.equal(read.truncated, true)
    t.equal(read.complete, false)
    t.equal(read.end, expected.end)
    t.equal(read.fields.length, expected.fields.length)
    t.ok(read.end <= limit)
    t.ok(body.pulled <= limit + 2 * chunk, `pulled ${body.pulled} with chunks of ${chunk}`)
  }
  // A header that ends exactly at the limit is whole.
  const exact = Buffer.from('A: 1\nB: 2\n\nbody')
  const atLimit = await readHeader(messageBodyFrom(exact), 10)
  t.same([atLimit.fields.length, atLimit.end, atLimit.truncated], [2, 10, false])
  const overByOne = await readHeader(messageBodyFrom(exact), 9)
  t.same([overByOne.fields.length, overByOne.end, overByOne.truncated], [1, 5, true])
  // A message that is all header and longer than the limit.
  const noEnd = await readHeader(messageBodyFrom('A: 1\nB: 2\nC: 3\n'), 8)
  t.same([noEnd.fields.length, noEnd.truncated], [1, true])
})

t.test('a body held in memory is read in place, with the same result as a stream', async t => {
  const long = Array.from({ length: 400 }, (_, i) => `X-Line-${i}: ${'v'.repeat(30)}\n`).join('')
  for (const m of [...messages, `${long}\nbody\n`, long]) {
    for (const limit of [1 << 20, 5000, 10]) {
      const streamed = await readHeader(new ChunkedBody(Buffer.from(m), 4096), limit)
      const inPlace = await readHeader(messageBodyFrom(m), limit)
      t.same(
        [inPlace.fields.map(f => f.raw.toString()), inPlace.end, inPlace.complete, inPlace.truncated],
        [streamed.fields.map(f => f.raw.toString()), streamed.end, streamed.complete, streamed.truncated],
        `${JSON.stringify(m.slice(0, 20))}, limit ${limit}`,
      )
    }
  }
})

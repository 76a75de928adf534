import t from 'tap'
import { Prng } from '../../../test/lib/prng.js'
import { createHash } from 'node:crypto'
import { writeFileSync } from 'node:fs'
import { Readable } from 'node:stream'
import { messageBodyFromFile, type MessageBody } from '@qmqpkit/qmqp'
import type { ConnectionInfo } from '../src/injected-message.js'
import { applyGreenArrow } from '../src/greenarrow/apply.js'
import { defaultGreenArrowConfig } from '../src/greenarrow/config.js'

const BODY_BYTES = 8 * 1024 * 1024 + 12345
const CHUNK = 64 * 1024
const HEADER =
  'From: big@example.com\nX-GreenArrow-MailClass: bulk\nX-GreenArrow-InstanceID: 42\nSubject: large\n\n'
const KEPT = 'From: big@example.com\nSubject: large\n\n'
const now = new Date('2026-12-04T15:41:30Z')
const RECEIVED =
  'Received: from unknown (127.0.0.1)\n  by engine.example.com with QMQP; 4 Dec 2026 15:41:30 -0000\n'

/** 64 KiB of seeded pseudo-random bytes, repeated with a shift so no two chunks are alike. */
const pattern = new Prng(0x2545f491).bytes(CHUNK + 256)
const bodyChunk = (n: number): Buffer => pattern.subarray(n % 256, (n % 256) + CHUNK)

/** The message, generated on demand for any range; read() is refused: it would hold it whole. */
class GeneratedBody implements MessageBody {
  readonly size = HEADER.length + BODY_BYTES
  readonly ranges: Array<{ start: number; pulled: number }> = []
  stream(range: { start?: number; end?: number } = {}): Readable {
    const record = { start: range.start ?? 0, pulled: 0 }
    this.ranges.push(record)
    const end = range.end ?? this.size
    const header = Buffer.from(HEADER)
    let pos = record.start
    const stream = new Readable({
      highWaterMark: CHUNK,
      read: () => {
        let piece: Buffer
        if (pos >= end) piece = Buffer.alloc(0)
        else if (pos < header.length) piece = header.subarray(pos, Math.min(end, header.length))
        else {
          const offset = pos - header.length
          const n = Math.floor(offset / CHUNK)
          piece = bodyChunk(n).subarray(offset - n * CHUNK, Math.min(CHUNK, end - header.length - n * CHUNK))
        }
        pos += piece.length
        record.pulled += piece.length
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

function expectedDigest(): string {
  const h = createHash('sha256').update(RECEIVED).update(KEPT)
  for (let n = 0; n * CHUNK < BODY_BYTES; n++)
    h.update(bodyChunk(n).subarray(0, Math.min(CHUNK, BODY_BYTES - n * CHUNK)))
  return h.digest('hex')
}

const connection: ConnectionInfo = {
  id: 'big',
  remoteIp: '127.0.0.1',
  remotePort: 1,
  localIp: '127.0.0.1',
  localPort: 628,
  proto: 'TCP',
  ruleKey: null,
  decision: 'loopback-default',
  env: [
    ['TCPREMOTEIP', Buffer.from('127.0.0.1')],
    ['GREENARROW_SIMPLEMH', Buffer.alloc(0)],
  ],
}

async function digestOf(stream: Readable): Promise<{ digest: string; bytes: number; largestChunk: number }> {
  const h = createHash('sha256')
  let bytes = 0
  let largestChunk = 0
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    h.update(chunk)
    bytes += chunk.length
    largestChunk = Math.max(largestChunk, chunk.length)
  }
  return { digest: h.digest('hex'), bytes, largestChunk }
}

t.test('a multi-megabyte message streams through without being read whole', async t => {
  const received = new GeneratedBody()
  const r = await applyGreenArrow(
    received,
    connection,
    Buffer.from('a@example.com'),
    defaultGreenArrowConfig('engine.example.com'),
    now,
  )
  t.equal(r.metadata.mailClass, 'bulk')
  t.equal(received.ranges.length, 1)
  t.ok(received.ranges[0]!.pulled <= 2 * CHUNK, `header read pulled ${received.ranges[0]!.pulled} bytes`)
  t.equal(r.delivered.size, RECEIVED.length + KEPT.length + BODY_BYTES)

  const streamed = await digestOf(r.delivered.stream())
  t.equal(streamed.bytes, r.delivered.size)
  t.equal(streamed.digest, expectedDigest())
  t.ok(
    streamed.largestChunk <= 4 * CHUNK,
    `the body came in chunks, never whole (largest ${streamed.largestChunk})`,
  )
  // The body was taken from the received message once, from the end of its header.
  t.same(
    received.ranges.slice(1).map(x => x.start),
    [HEADER.length - 1],
  )
  // A second reading gives the same bytes (a backend chain reads it more than once).
  t.equal((await digestOf(r.delivered.stream())).digest, streamed.digest)
})

t.test('the same through a spooled file body, and a range in the middle', async t => {
  const path = `${t.testdir()}/message`
  const generated = new GeneratedBody()
  const parts: Buffer[] = []
  for await (const chunk of generated.stream() as AsyncIterable<Buffer>) parts.push(Buffer.from(chunk))
  const whole = Buffer.concat(parts)
  writeFileSync(path, whole)
  const received = await messageBodyFromFile(path)
  t.teardown(() => received.dispose())
  const r = await applyGreenArrow(
    received,
    connection,
    Buffer.alloc(0),
    defaultGreenArrowConfig('engine.example.com'),
    now,
  )
  t.equal((await digestOf(r.delivered.stream())).digest, expectedDigest())
  const prefixLength = RECEIVED.length + KEPT.length
  const start = prefixLength - 10
  const end = prefixLength + 3 * CHUNK + 7
  const middle = await digestOf(r.delivered.stream({ start, end }))
  const expected = Buffer.concat([Buffer.from(RECEIVED + KEPT), whole.subarray(HEADER.length)]).subarray(
    start,
    end,
  )
  t.equal(middle.bytes, end - start)
  t.equal(middle.digest, createHash('sha256').update(expected).digest('hex'))
})

import t from 'tap'
import { messageBodyFrom } from '@qmqpkit/qmqp'
import { SplicedBody } from '../src/greenarrow/spliced-body.js'

const collect = async (s: AsyncIterable<Buffer>) => {
  const parts: Buffer[] = []
  for await (const c of s) parts.push(c)
  return Buffer.concat(parts).toString()
}

t.test('prefix then the source from an offset; size adds up', async t => {
  const body = new SplicedBody(Buffer.from('NEW:'), messageBodyFrom('0123456789'), 3)
  t.equal(body.size, 11)
  t.equal((await body.read()).toString(), 'NEW:3456789')
  t.equal(await collect(body.stream()), 'NEW:3456789')
})

t.test('every range gives the bytes Buffer.subarray would', async t => {
  const body = new SplicedBody(Buffer.from('abc'), messageBodyFrom('0123456789'), 4)
  const whole = 'abc456789'
  for (let start = 0; start <= whole.length + 1; start++)
    for (let end = 0; end <= whole.length + 1; end++)
      t.equal(await collect(body.stream({ start, end })), whole.slice(start, end), `${start}..${end}`)
  t.equal(await collect(body.stream({ start: 5 })), whole.slice(5))
  t.equal(await collect(body.stream({ end: 2 })), 'ab')
})

t.test('empty prefix, empty tail, and a start past the source are handled', async t => {
  t.equal((await new SplicedBody(Buffer.alloc(0), messageBodyFrom('xyz'), 0).read()).toString(), 'xyz')
  t.equal((await new SplicedBody(Buffer.from('p'), messageBodyFrom('xyz'), 3).read()).toString(), 'p')
  t.throws(() => new SplicedBody(Buffer.alloc(0), messageBodyFrom('xyz'), 4), RangeError)
  t.throws(() => new SplicedBody(Buffer.alloc(0), messageBodyFrom('xyz'), -1), RangeError)
  await new SplicedBody(Buffer.from('p'), messageBodyFrom('xyz'), 0).dispose()
})

t.test('a source that ends early is an error, not a short message', async t => {
  const liar = messageBodyFrom('abc')
  const short = {
    ...liar,
    size: 10,
    stream: liar.stream.bind(liar),
    read: liar.read.bind(liar),
    dispose: liar.dispose.bind(liar),
  }
  await t.rejects(new SplicedBody(Buffer.from('p'), short, 0).read(), /ended 7 bytes early/)
})

t.test('a consumer that stops early closes the source stream', async t => {
  const source = messageBodyFrom(Buffer.alloc(1 << 20, 0x61))
  let destroyed = false
  const tracked = {
    size: source.size,
    stream: (r?: { start?: number; end?: number }) => {
      const s = source.stream(r)
      s.once('close', () => (destroyed = true))
      return s
    },
    read: () => source.read(),
    dispose: () => source.dispose(),
  }
  const body = new SplicedBody(Buffer.from('x'), tracked, 0)
  for await (const chunk of body.stream() as AsyncIterable<Buffer>) {
    t.ok(chunk.length > 0)
    if (chunk[0] === 0x61) break
  }
  await new Promise(resolve => setImmediate(resolve))
  t.equal(destroyed, true)
})

t.test('readInto gives the bytes of every range, read across the prefix and the source', async t => {
  const whole = 'abc456789'
  for (const source of [messageBodyFrom('0123456789'), plainBody('0123456789')]) {
    const body = new SplicedBody(Buffer.from('abc'), source, 4)
    for (const size of [1, 2, 4, 20])
      for (let position = 0; position <= whole.length + 1; position++) {
        const target = Buffer.alloc(size)
        const n = await body.readInto(target, position)
        t.equal(
          target.toString('latin1', 0, n),
          whole.slice(position, position + size),
          `${size} at ${position}`,
        )
      }
  }
  const short = { ...plainBody('abc'), size: 10 }
  await t.rejects(
    new SplicedBody(Buffer.from('p'), short, 0).readInto(Buffer.alloc(11), 0),
    /ended 7 bytes early/,
  )
})

/** A MessageBody with only the required methods (no readInto). */
function plainBody(text: string) {
  const inner = messageBodyFrom(text)
  return {
    size: inner.size,
    stream: (r?: { start?: number; end?: number }) => inner.stream(r),
    read: () => inner.read(),
    dispose: () => inner.dispose(),
  }
}

t.test('a prefix given as a function is made once, when the body is first used', async t => {
  let made = 0
  const body = new SplicedBody(
    () => {
      made++
      return Buffer.from('NEW:')
    },
    messageBodyFrom('0123456789'),
    3,
  )
  t.equal(made, 0, 'not made while nobody reads the body')
  t.equal(body.size, 11)
  t.equal((await body.read()).toString(), 'NEW:3456789')
  const streamed: Buffer[] = []
  for await (const c of body.stream({ start: 2 }) as AsyncIterable<Buffer>) streamed.push(c)
  t.equal(Buffer.concat(streamed).toString(), 'W:3456789')
  t.equal(made, 1)
})

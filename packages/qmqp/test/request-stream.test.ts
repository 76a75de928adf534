import t from 'tap'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { RequestStream } from '../src/request-stream.js'
import { encodeRequest } from '../src/request.js'
import { loadQmqpFixtures, sha256 } from '../../../test/lib/qmqp-fixtures.js'

const collect = async (r: Readable) => {
  const parts: Buffer[] = []
  for await (const c of r) parts.push(c as Buffer)
  return Buffer.concat(parts)
}

t.test('the fixtures through the stream parser, one byte at a time', async t => {
  for (const fx of loadQmqpFixtures()) {
    const rs = new RequestStream()
    const source = Readable.from([...fx.bytes].map(b => Buffer.from([b])))
    const piped = pipeline(source, rs).then(
      () => null,
      (err: Error) => err,
    )
    const message = collect(rs.message).catch(() => null)
    const err = await piped
    if (fx.expect === 'drop') {
      t.ok(err, `${fx.name}: an error`)
      await t.rejects(rs.envelope, `${fx.name}: envelope rejected`)
      continue
    }
    t.equal(err, null, `${fx.name}: no error`)
    const env = await rs.envelope
    t.equal(env.badAddress, fx.expect === 'D', `${fx.name}: address verdict`)
    t.equal(sha256((await message)!), fx.message!.sha256, `${fx.name}: message`)
    if (fx.expect === 'K')
      t.same([env.sender, env.recipients], [fx.envelope!.sender, fx.envelope!.recipients])
  }
})

t.test('backpressure: the source is not read while the message is not consumed', async t => {
  const size = 4 * 1024 * 1024
  const wire = encodeRequest({ message: Buffer.alloc(size, 0x61), sender: 's', recipients: ['r'] })
  let offered = 0
  const source = new Readable({
    read() {
      const c = wire.subarray(offered, offered + 16 * 1024)
      offered += c.length
      this.push(c.length ? c : null)
    },
  })
  const rs = new RequestStream({ highWaterMark: 16 * 1024 })
  const done = pipeline(source, rs)
  await new Promise(r => setTimeout(r, 50))
  t.ok(offered < 256 * 1024, `only ${offered} bytes read while nobody consumed`)
  const body = await collect(rs.message)
  await done
  t.equal(body.length, size)
  t.same((await rs.envelope).recipients, [Buffer.from('r')])
})

t.test('bytes after the final comma are handed back, not parsed', async t => {
  const rs = new RequestStream()
  const wire = Buffer.concat([
    encodeRequest({ message: 'm', sender: 's', recipients: [] }),
    Buffer.from('garbage'),
  ])
  rs.message.resume()
  rs.end(wire)
  t.same((await rs.envelope).sender, Buffer.from('s'))
  t.equal(rs.rest.toString(), 'garbage')
})

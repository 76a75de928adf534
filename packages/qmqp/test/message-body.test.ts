import t, { type Test } from 'tap'
import { existsSync, writeFileSync } from 'node:fs'
import { readdir } from 'node:fs/promises'
import { Readable } from 'node:stream'
import {
  BodySpool,
  bodyBytes,
  isMessageBody,
  messageBodyFrom,
  messageBodyFromFile,
  readBodyInto,
  spoolStream,
  type MessageBody,
} from '../src/message-body.js'

const text = async (s: Readable) => {
  const parts: Buffer[] = []
  for await (const c of s) parts.push(c as Buffer)
  return Buffer.concat(parts).toString('latin1')
}

async function checkRanges(t: Test, body: MessageBody, want: string) {
  t.equal(body.size, want.length)
  t.equal((await body.read()).toString('latin1'), want)
  t.equal(await text(body.stream()), want, 'whole')
  t.equal(await text(body.stream()), want, 'readable again')
  t.equal(await text(body.stream({ start: 3 })), want.slice(3))
  t.equal(await text(body.stream({ end: 5 })), want.slice(0, 5))
  t.equal(await text(body.stream({ start: 2, end: 9 })), want.slice(2, 9), 'end is exclusive')
  t.equal(await text(body.stream({ start: 4, end: 4 })), '')
  t.equal(await text(body.stream({ start: -5, end: want.length + 10 })), want, 'clamped')
  await checkReadInto(t, body, want)
}

/** readInto fills the target from a position, short only at the end, for every position and a few sizes. */
async function checkReadInto(t: Test, body: MessageBody, want: string) {
  t.ok(body.readInto, 'the body reads into buffers')
  for (const size of [1, 3, 7, want.length + 4]) {
    const target = Buffer.alloc(size, 0x2e)
    for (let position = 0; position <= want.length + 1; position++) {
      target.fill(0x2e)
      const n = await body.readInto!(target, position)
      const expected = want.slice(position, position + size)
      t.equal(n, expected.length, `${size} from ${position}: count`)
      t.equal(target.toString('latin1', 0, n), expected, `${size} from ${position}: bytes`)
      t.ok(
        target.subarray(n).every(b => b === 0x2e),
        `${size} from ${position}: nothing past them`,
      )
    }
  }
  t.equal(await body.readInto!(Buffer.alloc(0), 0), 0, 'an empty target')
}

t.test('a body from a Buffer or a string', async t => {
  await checkRanges(t, messageBodyFrom('Subject: x\n\nhello world\n'), 'Subject: x\n\nhello world\n')
  const b = messageBodyFrom(Buffer.from([0xff, 0x00, 0x41]))
  t.same(await b.read(), Buffer.from([0xff, 0x00, 0x41]))
  t.equal(await text(messageBodyFrom('').stream()), '')
  await b.dispose()
  t.ok(isMessageBody(b))
  t.notOk(isMessageBody(Buffer.from('x')))
})

t.test('the spool stays in memory up to the threshold, then moves to a file', async t => {
  const dir = t.testdir()
  const small = new BodySpool({ spoolThresholdBytes: 10, spoolDir: dir })
  t.ok(small.write(Buffer.from('0123456789')))
  const mem = await small.finish()
  t.equal(small.path, undefined)
  await checkRanges(t, mem, '0123456789')

  const big = new BodySpool({ spoolThresholdBytes: 10, spoolDir: dir })
  big.write(Buffer.from('01234'))
  big.write(Buffer.from('56789'))
  big.write(Buffer.from('abcdef'))
  t.ok(big.path?.startsWith(dir))
  t.equal(big.size, 16)
  await big.onDrain()
  const file = await big.finish()
  await checkRanges(t, file, '0123456789abcdef')
  t.ok(existsSync(big.path!))
  await file.dispose()
  await file.dispose()
  t.notOk(existsSync(big.path!), 'dispose removes the file')
  t.throws(() => file.stream(), { code: 'QMQP_ERR_SPOOL' })
  await t.rejects(file.read(), { code: 'QMQP_ERR_SPOOL' })
})

t.test('abort removes a half-written spool file', async t => {
  const dir = t.testdir()
  const s = new BodySpool({ spoolThresholdBytes: 4, spoolDir: dir })
  s.write(Buffer.from('0123456789'))
  await s.abort()
  await s.abort()
  t.same(await readdir(dir), [])
  const m = new BodySpool({ spoolDir: dir })
  m.write(Buffer.from('x'))
  await m.abort()
})

t.test('a spool file that cannot be created is a QmqpSpoolError', async t => {
  const s = new BodySpool({ spoolThresholdBytes: 1, spoolDir: '/nonexistent/qmqp-spool' })
  s.write(Buffer.from('abc'))
  await t.rejects(s.finish(), { code: 'QMQP_ERR_SPOOL' })
  await s.abort()
})

t.test('spoolStream copies a pipe into a body and counts it', async t => {
  const dir = t.testdir()
  const body = await spoolStream(Readable.from([Buffer.from('abc'), 'def', Buffer.alloc(100, 0x78)]), {
    spoolThresholdBytes: 50,
    spoolDir: dir,
  })
  t.equal(body.size, 106)
  t.equal((await body.read()).toString(), 'abcdef' + 'x'.repeat(100))
  await body.dispose()
  const failing = new Readable({
    read() {
      this.destroy(new Error('read failed'))
    },
  })
  await t.rejects(spoolStream(failing, { spoolDir: dir }), /read failed/)
  t.same(await readdir(dir), [])
})

t.test('messageBodyFromFile reads a file in place and leaves it on dispose', async t => {
  const dir = t.testdir()
  writeFileSync(`${dir}/m`, 'Subject: file\n\nbody\n')
  const body = await messageBodyFromFile(`${dir}/m`)
  await checkRanges(t, body, 'Subject: file\n\nbody\n')
  await body.dispose()
  t.ok(existsSync(`${dir}/m`))
})

t.test('a multi-megabyte body through a slow file spool: the writer is held back', async t => {
  const dir = t.testdir()
  const spool = new BodySpool({ spoolThresholdBytes: 64 * 1024, spoolDir: dir })
  const chunk = Buffer.alloc(64 * 1024, 0x61)
  let waits = 0
  for (let i = 0; i < 64; i++) {
    if (!spool.write(chunk)) {
      waits++
      await spool.onDrain()
    }
  }
  const body = await spool.finish()
  t.equal(body.size, 64 * 64 * 1024)
  t.ok(waits > 0, `backpressure was applied (${waits} waits)`)
  await body.dispose()
})

t.test('bodyBytes: the bytes of a body in memory, nothing for a spool file', async t => {
  t.same(bodyBytes(messageBodyFrom('abc')), Buffer.from('abc'))
  const spool = new BodySpool({ spoolThresholdBytes: 4 })
  spool.write(Buffer.from('ab'))
  spool.write(Buffer.from('cd'))
  const inMemory = await spool.finish()
  t.same(bodyBytes(inMemory), Buffer.from('abcd'), 'parts joined')
  t.equal(bodyBytes(inMemory), bodyBytes(inMemory), 'joined once')
  const dir = t.testdir()
  const onFile = new BodySpool({ spoolThresholdBytes: 4, spoolDir: dir })
  onFile.write(Buffer.from('abcdef'))
  const file = await onFile.finish()
  t.equal(bodyBytes(file), undefined)
  await file.dispose()
})

t.test('readInto: a spool in memory is read across its parts without joining them', async t => {
  const spool = new BodySpool({ spoolThresholdBytes: 100 })
  for (const part of ['abc', '', 'defgh', 'i', 'jklmnop']) spool.write(Buffer.from(part))
  const body = spool.finishInMemory()!
  await checkReadInto(t, body, 'abcdefghijklmnop')
})

t.test('readInto: a body read into one buffer reused is the body', async t => {
  const dir = t.testdir()
  const bytes = Buffer.alloc(300_000)
  for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 31 + (i >> 9)) & 0xff
  const body = await spoolStream(Readable.from([bytes.subarray(0, 70_000), bytes.subarray(70_000)]), {
    spoolThresholdBytes: 1000,
    spoolDir: dir,
  })
  const piece = Buffer.alloc(65_536)
  const copy: Buffer[] = []
  for (let at = 0, n; (n = await body.readInto!(piece, at)) > 0; at += n)
    copy.push(Buffer.from(piece.subarray(0, n)))
  t.same(Buffer.concat(copy), bytes)
  await body.dispose()
  await t.rejects(body.readInto!(piece, 0), { code: 'QMQP_ERR_SPOOL' }, 'not after dispose')
})

t.test('readBodyInto works with a MessageBody that has no readInto, through its stream', async t => {
  const inner = messageBodyFrom('0123456789')
  let streams = 0
  const plain: MessageBody = {
    size: inner.size,
    stream: range => {
      streams++
      return inner.stream(range)
    },
    read: () => inner.read(),
    dispose: () => inner.dispose(),
  }
  const target = Buffer.alloc(4)
  t.equal(await readBodyInto(plain, target, 3), 4)
  t.equal(target.toString(), '3456')
  t.equal(await readBodyInto(plain, target, 8), 2)
  t.equal(target.toString('latin1', 0, 2), '89')
  t.equal(await readBodyInto(plain, target, 10), 0, 'nothing at the end')
  t.equal(streams, 2, 'no stream opened at the end')
  const body = messageBodyFrom('abc')
  t.equal(await readBodyInto(body, target, 1), 2, 'a body with readInto uses it')
  t.equal(target.toString('latin1', 0, 2), 'bc')
})

t.test('releaseWritten: chunks that are whole buffers are freed once in the file, nothing else', async t => {
  const dir = t.testdir()
  const own = (n: number, fill: number) => Buffer.from(new ArrayBuffer(n)).fill(fill)
  const spool = new BodySpool({ spoolThresholdBytes: 1000, spoolDir: dir, releaseWritten: true })
  const early = own(600, 0x61) // held in memory first, written when the spool moves to the file
  const whole = own(70_000, 0x62)
  const backing = own(100, 0x63)
  const view = backing.subarray(10, 90) // part of a buffer someone else may still use
  const pooled = Buffer.from('pooled') // Node's pool: not transferable
  const later = own(50_000, 0x64)
  for (const c of [early, whole, view, pooled, later]) if (!spool.write(c)) await spool.onDrain()
  const body = await spool.finish()
  t.equal(
    (await body.read()).toString('latin1'),
    'a'.repeat(600) + 'b'.repeat(70_000) + 'c'.repeat(80) + 'pooled' + 'd'.repeat(50_000),
    'the file has every byte',
  )
  t.same([early.length, whole.length, later.length], [0, 0, 0], 'whole buffers released')
  t.equal(backing.length, 100, 'a view of part of a buffer is left alone')
  t.equal(view.toString('latin1'), 'c'.repeat(80))
  t.equal(pooled.toString(), 'pooled', 'a pooled buffer is left alone')
  await body.dispose()

  const keep = new BodySpool({ spoolThresholdBytes: 10, spoolDir: dir })
  const mine = own(5000, 0x65)
  keep.write(mine)
  const kept = await keep.finish()
  t.equal(mine.length, 5000, 'without the option nothing is released')
  await kept.dispose()

  const inMemory = new BodySpool({ spoolThresholdBytes: 1000, releaseWritten: true })
  const small = own(100, 0x66)
  inMemory.write(small)
  t.same(await inMemory.finish().then(b => b.read()), Buffer.alloc(100, 0x66))
  t.equal(small.length, 100, 'a body kept in memory keeps its chunks')
})

import t from 'tap'
import { readFileSync } from 'node:fs'
import { buildCdb } from '../src/build.js'
import { DumpFormatError, DumpParser, dumpRecord } from '../src/dump-format.js'
import { CdbWriter } from '../src/writer.js'

t.test('parses every split of an input to the same database', async t => {
  const input = Buffer.from('+1,1:a->b\n+0,0:->\n+3,2:a\nb->\n\x00\n\ntrailing ignored', 'latin1')
  const expected = buildCdb([
    ['a', 'b'],
    ['', ''],
    ['a\nb', '\n\x00'],
  ])
  const dir = t.testdir({})
  for (let cut = 0; cut <= input.length; cut++) {
    const w = CdbWriter.create(`${dir}/d.cdb`)
    const p = new DumpParser(w)
    p.push(input.subarray(0, cut))
    p.push(input.subarray(cut))
    p.end()
    await w.finish()
    t.same(readFileSync(`${dir}/d.cdb`), expected, `cut ${cut}`)
  }
})

t.test('freecdb texts for bad input', async t => {
  const dir = t.testdir({})
  const cases: Array<[string, string]> = [
    ['', 'entry 1: unexpected end if input'],
    ['+1,1:a->b\n', 'entry 2: unexpected end if input'],
    ['x', 'entry 1: entry must start with +'],
    ['+a,1:a->b\n\n', 'entry 1: bad keylen format'],
    ['+1:a->b\n\n', 'entry 1: bad keylen format'],
    ['+1,1a->b\n\n', 'entry 1: bad datalen format'],
    ['+1,1:a-b\n\n', 'entry 1: key must be followed by ->'],
    ['+1,1:ab>b\n\n', 'entry 1: key must be followed by ->'],
    ['+1,1:a->bc\n\n', 'entry 1: newline expected'],
    ['+1,1:a->b\r\n\n', 'entry 1: newline expected'],
  ]
  for (const [input, message] of cases) {
    const w = CdbWriter.create(`${dir}/e.cdb`)
    const p = new DumpParser(w)
    const err = t.throws(() => {
      p.push(Buffer.from(input))
      p.end()
    }) as DumpFormatError
    t.equal(err.message, message, JSON.stringify(input))
    w.abort()
  }
  const w = CdbWriter.create(`${dir}/o.cdb`)
  t.throws(() => new DumpParser(w).push(Buffer.from('+99999999999,1:')), { code: 'ENOMEM' })
  w.abort()
})

t.test('dumpRecord', async t => {
  t.same(dumpRecord(Buffer.from('k'), Buffer.from('vv')), Buffer.from('+1,2:k->vv\n'))
})

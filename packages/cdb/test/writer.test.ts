import t from 'tap'
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { buildCdb } from '../src/build.js'
import { CdbWriter } from '../src/writer.js'
import { CdbUsageError } from '../src/errors.js'

t.test('writer output equals buildCdb and replaces the target atomically', async t => {
  const dir = t.testdir({ 'x.cdb': 'old' })
  const w = CdbWriter.create(`${dir}/x.cdb`)
  const recs: Array<[Buffer, Buffer]> = [
    [Buffer.from('k1'), Buffer.from('v1')],
    [Buffer.from(''), Buffer.from('')],
    [Buffer.from('k1'), Buffer.alloc(200_000, 7)],
  ]
  for (const [k, d] of recs) w.add(k, d)
  t.equal(w.count, 3)
  t.equal(readFileSync(`${dir}/x.cdb`, 'utf8'), 'old', 'target untouched until finish')
  await w.finish()
  t.same(readFileSync(`${dir}/x.cdb`), buildCdb(recs))
  t.notOk(existsSync(`${dir}/x.cdb.tmp`))
  t.equal(statSync(`${dir}/x.cdb`).mode & 0o777, 0o644 & ~process.umask())
})

t.test('records written in pieces', async t => {
  const dir = t.testdir({})
  const w = CdbWriter.create(`${dir}/p.cdb`, { tmpPath: `${dir}/p.tmp` })
  w.begin(3, 5)
  w.write(Buffer.from('ke'))
  w.write(Buffer.from('yva'))
  w.write(Buffer.from('lue'))
  t.throws(() => w.write(Buffer.from('x')), CdbUsageError)
  w.begin(1, 1)
  t.throws(() => w.begin(1, 1), CdbUsageError)
  w.write(Buffer.from('ab'))
  await w.finish()
  t.same(
    readFileSync(`${dir}/p.cdb`),
    buildCdb([
      ['key', 'value'],
      ['a', 'b'],
    ]),
  )
  t.throws(() => w.add('a', 'b'), CdbUsageError)
})

t.test('errors leave the target untouched; the library removes its temporary file', async t => {
  const dir = t.testdir({ 'x.cdb': 'old', sub: {} })
  const w = CdbWriter.create(`${dir}/sub`, { tmpPath: `${dir}/t.tmp` })
  w.add('a', 'b')
  await t.rejects(w.finish(), { code: 'EISDIR' })
  t.notOk(existsSync(`${dir}/t.tmp`))
  t.throws(() => CdbWriter.create(`${dir}/x.cdb`, { tmpPath: `${dir}/nodir/t.tmp` }), { code: 'ENOENT' })
  const w2 = CdbWriter.create(`${dir}/x.cdb`, { tmpPath: `${dir}/keep.tmp`, removeTmpOnError: false })
  w2.begin(1, 1)
  await t.rejects(w2.finish(), CdbUsageError)
  t.ok(existsSync(`${dir}/keep.tmp`), 'kept as cdbmake keeps it')
  t.equal(readFileSync(`${dir}/x.cdb`, 'utf8'), 'old')
  writeFileSync(`${dir}/x.cdb`, 'still old')
  const w3 = CdbWriter.create(`${dir}/x.cdb`)
  w3.abort()
  w3.abort()
  t.notOk(existsSync(`${dir}/x.cdb.tmp`))
})

t.test('refuses databases past 4 GiB before writing them', async t => {
  const dir = t.testdir({})
  const w = CdbWriter.create(`${dir}/big.cdb`)
  t.throws(() => w.begin(10, 0xffffffff - 100), { code: 'CDB_ERR_TOO_BIG' })
  w.abort()
})

t.test('addRange writes the same bytes as add, for small and large records', async t => {
  const dir = t.testdir({})
  const src = Buffer.from('..key1..value1..')
  const big = Buffer.alloc(100_000, 9)
  const w = CdbWriter.create(`${dir}/r.cdb`)
  w.addRange(src, 2, 6, src, 8, 14)
  w.addRange(src, 0, 0, src, 0, 0)
  w.addRange(src, 2, 6, big, 0, big.length)
  await w.finish()
  t.same(
    readFileSync(`${dir}/r.cdb`),
    buildCdb([
      ['key1', 'value1'],
      ['', ''],
      ['key1', big],
    ]),
  )
})

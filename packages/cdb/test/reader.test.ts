import t from 'tap'
import { writeFileSync } from 'node:fs'
import { buildCdb } from '../src/build.js'
import { CdbReader } from '../src/reader.js'
import { CdbFormatError, CdbUsageError } from '../src/errors.js'

const records: Array<[string, string]> = [
  ['a', '1'],
  ['b', '2'],
  ['a', '3'],
  ['', 'empty key'],
  ['c', ''],
]

for (const wholeFile of [true, false]) {
  t.test(`lookups and iteration (wholeFile ${wholeFile})`, async t => {
    const dir = t.testdir({})
    writeFileSync(`${dir}/x.cdb`, buildCdb(records))
    const db = CdbReader.open(`${dir}/x.cdb`, { wholeFile })
    t.equal(db.get('a')?.toString(), '1')
    t.same(db.getAll('a').map(String), ['1', '3'])
    t.equal(db.get('')?.toString(), 'empty key')
    t.equal(db.get('c')?.length, 0)
    t.equal(db.get('zz'), undefined)
    t.same(
      [...db.entries()].map(([k, d]) => [k.toString(), d.toString()]),
      records,
    )
    db.close()
    t.throws(() => db.get('a'), CdbUsageError)
  })
}

t.test('corrupt and truncated files raise CdbFormatError with an offset', async t => {
  const good = buildCdb(records)
  t.throws(() => CdbReader.fromBuffer(good.subarray(0, 100)), CdbFormatError)
  // Tables cut off: lookups fail, iteration (which needs only the records) still works.
  const cut = CdbReader.fromBuffer(good.subarray(0, good.readUInt32LE(0) + 4))
  for (const key of ['a', 'b', '', 'c']) t.throws(() => cut.getAll(key), CdbFormatError, key)
  t.equal([...cut.entries()].length, records.length)
  // A slot pointing past the end.
  const bad = Buffer.from(good)
  const h = bad.readUInt32LE(0) // table 0 position: end of records
  bad.writeUInt32LE(0xffff0000, 0)
  t.throws(() => [...CdbReader.fromBuffer(bad).entries()], CdbFormatError)
  bad.writeUInt32LE(h, 0)
  // Every byte flipped in turn: reading either answers or throws CdbFormatError, never anything else.
  for (let i = 0; i < good.length; i += 7) {
    const mutated = Buffer.from(good)
    mutated[i] = mutated[i]! ^ 0xa5
    try {
      const db = CdbReader.fromBuffer(mutated)
      for (const k of ['a', 'b', '', 'c', 'zz']) db.getAll(k)
      for (const _ of db.entries());
    } catch (err) {
      if (!(err instanceof CdbFormatError)) t.fail(`byte ${i}: ${String(err)}`)
    }
  }
  const e = t.throws(() => CdbReader.fromBuffer(Buffer.alloc(10))) as CdbFormatError
  t.equal(e.code, 'CDB_ERR_FORMAT')
  t.equal(e.truncated, true)
})

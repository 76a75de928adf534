import t from 'tap'
import { buildCdb } from '../src/build.js'

t.test('empty database is the 2048-byte header of (2048, 0) entries', async t => {
  const db = buildCdb([])
  t.equal(db.length, 2048)
  for (let i = 0; i < 256; i++)
    t.same([db.readUInt32LE(i * 8), db.readUInt32LE(i * 8 + 4)], [2048, 0], `entry ${i}`)
})

t.test('worked example from the reference: 1.2.3.4 allow', async t => {
  const db = buildCdb([['1.2.3.4', '']])
  t.equal(db.length, 2079)
  t.same([db.readUInt32LE(206 * 8), db.readUInt32LE(206 * 8 + 4)], [0x80f, 0])
  t.same([db.readUInt32LE(207 * 8), db.readUInt32LE(207 * 8 + 4)], [0x80f, 2])
  t.same([db.readUInt32LE(208 * 8), db.readUInt32LE(208 * 8 + 4)], [0x81f, 0])
  t.same(
    db.subarray(0x800, 0x80f),
    Buffer.concat([Buffer.from([7, 0, 0, 0, 0, 0, 0, 0]), Buffer.from('1.2.3.4')]),
  )
  t.same(db.subarray(0x80f, 0x81f), Buffer.from([0xcf, 0xfa, 0x4c, 0x3c, 0, 8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]))
})

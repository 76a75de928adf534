import t from 'tap'
import { cdbHash, cdbHashUpdate, CDB_HASH_START } from '../src/hash.js'

t.test('hash vectors from the reference', async t => {
  const vectors: Array<[Buffer, number]> = [
    [Buffer.from(''), 0x00001505],
    [Buffer.from('a'), 0x0002b5c4],
    [Buffer.from('1.2.3.4'), 0x3c4cfacf],
    [Buffer.from('127.0.0.1'), 0x5478120e],
    [Buffer.from([0xff]), 0x0002b55a],
    [Buffer.from('=mail.example.com'), 0x72aaed18],
  ]
  for (const [key, h] of vectors) t.equal(cdbHash(key), h, key.toString('latin1'))
})

t.test('incremental hashing equals one-shot hashing', async t => {
  const key = Buffer.from('info@=host.example.com\xff\x00', 'latin1')
  for (let cut = 0; cut <= key.length; cut++) {
    const h = cdbHashUpdate(cdbHashUpdate(CDB_HASH_START, key.subarray(0, cut)), key.subarray(cut))
    t.equal(h, cdbHash(key), `cut ${cut}`)
  }
  t.equal(cdbHash(key, 2, 5), cdbHash(key.subarray(2, 5)))
})

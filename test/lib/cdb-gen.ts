import { Prng } from './prng.js'
import { cdbHash } from '../../packages/cdb/src/hash.js'

export type Records = Array<[Buffer, Buffer]>

/** cdbmake input for a record list. */
export function dumpOf(records: Records): Buffer {
  const parts: Buffer[] = []
  for (const [k, d] of records)
    parts.push(Buffer.from(`+${k.length},${d.length}:`), k, Buffer.from('->'), d, Buffer.from('\n'))
  parts.push(Buffer.from('\n'))
  return Buffer.concat(parts)
}

/** Record sets covering the edge cases: empty keys/values, binary bytes, duplicates, collisions. */
export function generateRecordSets(rng: Prng): Array<{ name: string; records: Records }> {
  const sets: Array<{ name: string; records: Records }> = []
  sets.push({ name: 'zero records', records: [] })
  sets.push({ name: 'one record', records: [[Buffer.from('k'), Buffer.from('v')]] })
  sets.push({ name: 'empty key and value', records: [[Buffer.alloc(0), Buffer.alloc(0)]] })
  for (let n = 0; n < 25; n++) {
    const records: Records = []
    const count = rng.int(300)
    for (let i = 0; i < count; i++) {
      const key = rng.chance(0.05)
        ? Buffer.alloc(0)
        : rng.bytes(rng.int(20) + 1, rng.chance(0.5) ? undefined : Buffer.from('abc.-\n\0\xff', 'latin1'))
      const data = rng.chance(0.1) ? Buffer.alloc(0) : rng.bytes(rng.int(rng.chance(0.05) ? 5000 : 40))
      records.push([key, data])
      if (rng.chance(0.1)) records.push([key, rng.bytes(rng.int(5))]) // duplicate key
      if (rng.chance(0.05) && records.length > 2)
        records.push([records[rng.int(records.length)]![0], rng.bytes(3)])
    }
    sets.push({ name: `random set ${n}`, records })
  }
  // Many records in one table (same low hash byte), so probes wrap and collide.
  const crowded: Records = []
  for (let i = 0; crowded.length < 3000; i++) {
    const key = Buffer.from(`c${i}`)
    if ((cdbHash(key) & 255) === 42) crowded.push([key, Buffer.from(String(i))])
  }
  for (let i = 0; i < 200; i++) crowded.push([crowded[rng.int(crowded.length)]![0], Buffer.from(`dup${i}`)])
  sets.push({ name: 'collisions in one table', records: crowded })
  const big: Records = []
  for (let i = 0; i < 100_000; i++)
    big.push([Buffer.from(`10.${i >> 16}.${(i >> 8) & 255}.${i & 255}`), rng.bytes(rng.int(12))])
  sets.push({ name: '100000 records', records: big })
  return sets
}

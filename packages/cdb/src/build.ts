import { CdbTooBigError } from './errors.js'
import { cdbHash } from './hash.js'
import { layoutTables, RecordIndex } from './table-layout.js'

/**
 * Builds a whole cdb in memory (for small databases such as rules compiled on the fly);
 * the bytes are the same as CdbWriter and cdbmake produce for the same records.
 */
export function buildCdb(records: Iterable<readonly [Buffer | string, Buffer | string]>): Buffer {
  const parts: Buffer[] = []
  const index = new RecordIndex()
  let pos = 2048
  for (const [key, data] of records) {
    const k = typeof key === 'string' ? Buffer.from(key) : key
    const d = typeof data === 'string' ? Buffer.from(data) : data
    if (pos + 8 + k.length + d.length > 0xffffffff) throw new CdbTooBigError()
    const head = Buffer.allocUnsafe(8)
    head.writeUInt32LE(k.length, 0)
    head.writeUInt32LE(d.length, 4)
    parts.push(head, k, d)
    index.push(cdbHash(k), pos)
    pos += 8 + k.length + d.length
  }
  const { header, tables } = layoutTables(index.hashes, index.positions, index.count, pos)
  return Buffer.concat([header, ...parts, tables])
}

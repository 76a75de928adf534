import { CdbTooBigError } from './errors.js'

const MAX = 0xffffffff

/**
 * The hash tables and header for a list of (hash, record position) pairs in arrival order,
 * laid out exactly as djb's cdb_make does: table i holds the records whose hash has low byte i,
 * with 2n slots; each record goes to its first free slot from (hash >> 8) % slots onwards.
 * `tablesStart` is where the first table will be written (the end of the records).
 */
export function layoutTables(
  hashes: Uint32Array,
  positions: Uint32Array,
  count: number,
  tablesStart: number,
): { header: Buffer; tables: Buffer } {
  const counts = new Uint32Array(256)
  for (let i = 0; i < count; i++) counts[hashes[i]! & 255]!++
  if (tablesStart + count * 16 > MAX) throw new CdbTooBigError()

  // Where each table starts (in slots), and the header entries.
  const header = Buffer.alloc(2048)
  const base = new Uint32Array(256)
  let pos = tablesStart
  let slotIndex = 0
  for (let t = 0; t < 256; t++) {
    header.writeUInt32LE(pos, t * 8)
    header.writeUInt32LE(counts[t]! * 2, t * 8 + 4)
    base[t] = slotIndex
    slotIndex += counts[t]! * 2
    pos += counts[t]! * 16
  }
  // Records grouped by table, each group in arrival order (which is the order cdb_make places
  // a table's records in), so that each table is then filled while it is in cache.
  const next = new Uint32Array(256)
  for (let t = 0; t < 256; t++) next[t] = base[t]! >>> 1
  const byTable = new Uint32Array(count)
  for (let r = 0; r < count; r++) byTable[next[hashes[r]! & 255]!++] = r
  // A slot whose position is 0 is free. Probing (which can be long when keys cluster) scans a
  // position-only array, 4 bytes per slot; the (hash, position) words of the tables are written
  // as each record finds its slot.
  const slotPos = new Uint32Array(count * 2)
  const words = new Uint32Array(count * 4)
  for (let k = 0; k < count; k++) {
    const r = byTable[k]!
    const h = hashes[r]!
    const t = h & 255
    const slots = counts[t]! * 2
    const b0 = base[t]!
    const end = b0 + slots
    let idx = b0 + ((h >>> 8) % slots)
    while (slotPos[idx] !== 0) if (++idx === end) idx = b0
    const p = positions[r]!
    slotPos[idx] = p
    words[idx * 2] = h
    words[idx * 2 + 1] = p
  }
  return { header, tables: littleEndian(words) }
}

function littleEndian(words: Uint32Array): Buffer {
  if (LITTLE_ENDIAN) return Buffer.from(words.buffer, words.byteOffset, words.byteLength)
  /* c8 ignore next 4 */
  const b = Buffer.allocUnsafe(words.length * 4)
  for (let i = 0; i < words.length; i++) b.writeUInt32LE(words[i]!, i * 4)
  return b
}

const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1

/** A growable pair of u32 arrays: memory stays O(number of records), never the data. */
export class RecordIndex {
  hashes = new Uint32Array(1024)
  positions = new Uint32Array(1024)
  count = 0

  push(hash: number, position: number): void {
    if (this.count === this.hashes.length) {
      const grow = (a: Uint32Array) => {
        const b = new Uint32Array(a.length * 2)
        b.set(a)
        return b
      }
      this.hashes = grow(this.hashes)
      this.positions = grow(this.positions)
    }
    this.hashes[this.count] = hash
    this.positions[this.count++] = position
  }
}

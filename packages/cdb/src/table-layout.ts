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
  // Records grouped by table, keeping arrival order inside each group.
  const starts = new Uint32Array(257)
  for (let i = 0; i < 256; i++) starts[i + 1] = starts[i]! + counts[i]!
  const fill = starts.slice(0, 256)
  const order = new Uint32Array(count)
  for (let i = 0; i < count; i++) order[fill[hashes[i]! & 255]!++] = i
  if (tablesStart + count * 16 > MAX) throw new CdbTooBigError()

  const header = Buffer.alloc(2048)
  // Slots as u32 pairs; written out little-endian at the end.
  const slotsArr = new Uint32Array(count * 4)
  let pos = tablesStart
  let out = 0 // index into slotsArr, in u32 units
  for (let t = 0; t < 256; t++) {
    const n = counts[t]!
    const slots = n * 2
    header.writeUInt32LE(pos, t * 8)
    header.writeUInt32LE(slots, t * 8 + 4)
    if (n === 0) continue
    for (let k = starts[t]!; k < starts[t + 1]!; k++) {
      const r = order[k]!
      const h = hashes[r]!
      let s = (h >>> 8) % slots
      // (hash, pos) with pos == 0 marks a free slot; a record is never at offset 0.
      while (slotsArr[out + s * 2 + 1] !== 0) s = s + 1 === slots ? 0 : s + 1
      slotsArr[out + s * 2] = h
      slotsArr[out + s * 2 + 1] = positions[r]!
    }
    out += slots * 2
    pos += slots * 8
  }
  return { header, tables: littleEndian(slotsArr) }
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

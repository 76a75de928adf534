import { closeSync, fstatSync, openSync, readSync } from 'node:fs'
import { CdbFormatError, CdbUsageError } from './errors.js'
import { cdbHash } from './hash.js'

/** Files up to this size are read whole by default; larger ones are read by position. */
const WHOLE_FILE_DEFAULT_MAX = 16 * 1024 * 1024

export interface CdbOpenOptions {
  /** true: read the whole file once; false: positional reads; default: whole file up to 16 MiB. */
  wholeFile?: boolean
}

/** Where the bytes come from: a Buffer, or a file descriptor read by position. */
interface Source {
  size: number
  /** The whole file, when it is in memory (enables the fast lookup path). */
  buffer?: Buffer
  read(offset: number, length: number): Buffer
  close(): void
}

/**
 * Reads a cdb file or Buffer. Lookups follow djb's probe sequence, so the first value found
 * for a key is the first record added with it. Every offset is checked against the size: a
 * corrupt or truncated file raises CdbFormatError naming the offset, never a wrong answer.
 *
 * ```ts
 * const db = CdbReader.open('rules.cdb')
 * db.get('1.2.3.4')      // Buffer | undefined
 * db.getAll('1.2.3.4')   // every value, in insertion order
 * for (const [key, data] of db.entries()) …
 * db.close()
 * ```
 */
export class CdbReader {
  #src: Source | null
  readonly size: number

  private constructor(src: Source) {
    this.#src = src
    this.size = src.size
    if (src.size < 2048) throw new CdbFormatError('file shorter than the 2048-byte header', src.size, true)
  }

  /** Opens a file. Throws the filesystem's error (ENOENT, EACCES…) or CdbFormatError. */
  static open(path: string, options: CdbOpenOptions = {}): CdbReader {
    const fd = openSync(path, 'r')
    try {
      const size = fstatSync(fd).size
      const whole = options.wholeFile ?? size <= WHOLE_FILE_DEFAULT_MAX
      if (whole) {
        const buf = Buffer.allocUnsafe(size)
        let off = 0
        while (off < size) {
          const n = readSync(fd, buf, off, size - off, off)
          if (n === 0) break
          off += n
        }
        closeSync(fd)
        return new CdbReader(bufferSource(buf.subarray(0, off)))
      }
      return new CdbReader(fdSource(fd, size))
    } catch (err) {
      try {
        closeSync(fd)
      } catch {
        /* already closed */
      }
      throw err
    }
  }

  /** A reader over bytes already in memory. */
  static fromBuffer(buf: Buffer): CdbReader {
    return new CdbReader(bufferSource(buf))
  }

  /** The first value stored for `key`, or undefined. */
  get(key: Buffer | string): Buffer | undefined {
    const k = typeof key === 'string' ? Buffer.from(key) : key
    const src = this.#source()
    if (src.buffer) return getFromBuffer(src.buffer, k)
    for (const value of this.find(k)) return value
    return undefined
  }

  /** Every value stored for `key`, in the order the records were added. */
  getAll(key: Buffer | string): Buffer[] {
    return [...this.find(key)]
  }

  /** The values for `key` one by one (djb's cdb_findnext). */
  *find(key: Buffer | string): Generator<Buffer> {
    const k = typeof key === 'string' ? Buffer.from(key) : key
    const src = this.#source()
    const h = cdbHash(k)
    const entry = this.#read(((h & 255) * 8) >>> 0, 8)
    const tablePos = entry.readUInt32LE(0)
    const slots = entry.readUInt32LE(4)
    if (slots === 0) return
    if (tablePos + slots * 8 > src.size)
      throw new CdbFormatError('hash table past the end of the file', tablePos, true)
    let s = (h >>> 8) % slots
    for (let probes = 0; probes < slots; probes++) {
      const slot = this.#read(tablePos + s * 8, 8)
      const rp = slot.readUInt32LE(4)
      if (rp === 0) return
      if (slot.readUInt32LE(0) === h) {
        const head = this.#read(rp, 8)
        const klen = head.readUInt32LE(0)
        const dlen = head.readUInt32LE(4)
        if (klen === k.length) {
          if (rp + 8 + klen + dlen > src.size)
            throw new CdbFormatError('record past the end of the file', rp, true)
          if (klen === 0 || this.#read(rp + 8, klen).equals(k)) yield this.#read(rp + 8 + klen, dlen)
        }
      }
      s = s + 1 === slots ? 0 : s + 1
    }
  }

  /** Every record in file order (what cdbdump prints). */
  *entries(): Generator<[key: Buffer, data: Buffer]> {
    const end = this.recordsEnd()
    let pos = 2048
    while (pos < end) {
      if (pos + 8 > end) throw new CdbFormatError('record header past the end of the records', pos, true)
      const head = this.#read(pos, 8)
      const klen = head.readUInt32LE(0)
      const dlen = head.readUInt32LE(4)
      if (pos + 8 + klen + dlen > end)
        throw new CdbFormatError('record past the end of the records', pos, true)
      yield [this.#read(pos + 8, klen), this.#read(pos + 8 + klen, dlen)]
      pos += 8 + klen + dlen
    }
  }

  /** Where the records end: the position of table 0, as cdbdump reads it. */
  recordsEnd(): number {
    const end = this.#read(0, 4).readUInt32LE(0)
    if (end < 2048 || end > this.size)
      throw new CdbFormatError('table 0 position outside the file', 0, end > this.size)
    return end
  }

  close(): void {
    this.#src?.close()
    this.#src = null
  }

  #source(): Source {
    if (!this.#src) throw new CdbUsageError('reader is closed')
    return this.#src
  }

  #read(offset: number, length: number): Buffer {
    const src = this.#source()
    if (offset + length > src.size) throw new CdbFormatError('read past the end of the file', offset, true)
    return src.read(offset, length)
  }
}

function bufferSource(buf: Buffer): Source {
  return { size: buf.length, buffer: buf, read: (o, n) => buf.subarray(o, o + n), close: () => {} }
}

function fdSource(fd: number, size: number): Source {
  return {
    size,
    read(offset, length) {
      const out = Buffer.allocUnsafe(length)
      let got = 0
      while (got < length) {
        const n = readSync(fd, out, got, length - got, offset + got)
        if (n === 0) throw new CdbFormatError('file ended early (changed while open?)', offset + got, true)
        got += n
      }
      return out
    },
    close: () => closeSync(fd),
  }
}

/**
 * get() on a database held in memory: the same probe sequence as find(), reading the buffer
 * in place (no views, no generator) because the server does this once per connection and
 * tcprulescheck-style tools many times per run.
 */
function getFromBuffer(buf: Buffer, k: Buffer): Buffer | undefined {
  const size = buf.length
  let h = 5381
  for (let i = 0; i < k.length; i++) h = (Math.imul(h, 33) ^ k[i]!) >>> 0
  const e = (h & 255) * 8
  const tablePos = buf.readUInt32LE(e)
  const slots = buf.readUInt32LE(e + 4)
  if (slots === 0) return undefined
  if (tablePos + slots * 8 > size)
    throw new CdbFormatError('hash table past the end of the file', tablePos, true)
  let s = (h >>> 8) % slots
  for (let probes = 0; probes < slots; probes++) {
    const at = tablePos + s * 8
    const rp = buf.readUInt32LE(at + 4)
    if (rp === 0) return undefined
    if (buf.readUInt32LE(at) === h) {
      if (rp + 8 > size) throw new CdbFormatError('read past the end of the file', rp, true)
      const klen = buf.readUInt32LE(rp)
      if (klen === k.length) {
        const dlen = buf.readUInt32LE(rp + 4)
        const kStart = rp + 8
        if (kStart + klen + dlen > size) throw new CdbFormatError('record past the end of the file', rp, true)
        if (buf.compare(k, 0, klen, kStart, kStart + klen) === 0)
          return buf.subarray(kStart + klen, kStart + klen + dlen)
      }
    }
    s = s + 1 === slots ? 0 : s + 1
  }
  return undefined
}

import { closeSync, fsyncSync, openSync, renameSync, unlinkSync, writeSync, constants } from 'node:fs'
import { dirname } from 'node:path'
import { CdbTooBigError, CdbUsageError } from './errors.js'
import { CDB_HASH_START } from './hash.js'
import { layoutTables, RecordIndex } from './table-layout.js'

const MAX = 0xffffffff
const BUFFER_BYTES = 1 << 16

export interface CdbWriterOptions {
  /** The temporary file; default `<path>.tmp`. It must be on the same filesystem as `path`. */
  tmpPath?: string
  /** Mode of a newly created temporary file, before the umask; default 0o644, as cdbmake. */
  mode?: number
  /** Remove the temporary file when writing fails or is aborted (default true; `cdbmake` keeps it). */
  removeTmpOnError?: boolean
}

/**
 * Streaming cdb writer. Records go to the temporary file as they are added; only a (hash,
 * position) pair per record stays in memory. `finish()` writes the hash tables and the header,
 * fsyncs, renames the temporary file over the target and fsyncs the directory, so readers see
 * the old database or the new one, never a mix. The bytes are exactly cdbmake's for the same
 * records in the same order.
 *
 * ```ts
 * const w = CdbWriter.create('rules.cdb')
 * w.add('1.2.3.4', '')
 * await w.finish()
 * ```
 */
export class CdbWriter {
  readonly path: string
  readonly tmpPath: string
  #fd: number | null
  #buf = Buffer.allocUnsafe(BUFFER_BYTES)
  #used = 0
  #pos = 0
  #index = new RecordIndex()
  #removeTmp: boolean
  // The record being added in pieces: bytes of key and data still to come, its hash so far.
  #inRecord = false
  #keyLeft = 0
  #dataLeft = 0
  #hash = 0
  #start = 0

  private constructor(path: string, tmpPath: string, fd: number, removeTmp: boolean) {
    this.path = path
    this.tmpPath = tmpPath
    this.#fd = fd
    this.#removeTmp = removeTmp
  }

  /** Creates (or truncates) the temporary file. Throws the filesystem's error (code ENOENT, EACCES…). */
  static create(path: string, options: CdbWriterOptions = {}): CdbWriter {
    const tmpPath = options.tmpPath ?? `${path}.tmp`
    const fd = openSync(
      tmpPath,
      constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC,
      options.mode ?? 0o644,
    )
    const w = new CdbWriter(path, tmpPath, fd, options.removeTmpOnError ?? true)
    w.#raw(Buffer.alloc(2048), 0, 2048) // header placeholder, written for real at the end
    return w
  }

  /** Number of records added so far. */
  get count(): number {
    return this.#index.count
  }

  /** Adds one record. Keys may repeat: every record is kept, in order. */
  add(key: Buffer | string, data: Buffer | string): void {
    const k = typeof key === 'string' ? Buffer.from(key) : key
    const d = typeof data === 'string' ? Buffer.from(data) : data
    this.begin(k.length, d.length)
    if (k.length) this.writeRange(k, 0, k.length)
    if (d.length) this.writeRange(d, 0, d.length)
  }

  /**
   * Adds one record whose key is `keySrc[keyStart, keyEnd)` and data `dataSrc[dataStart, dataEnd)`,
   * without making views of them: the bulk path for compilers that hold their input in memory.
   */
  addRange(
    keySrc: Buffer,
    keyStart: number,
    keyEnd: number,
    dataSrc: Buffer,
    dataStart: number,
    dataEnd: number,
  ): void {
    const klen = keyEnd - keyStart
    const dlen = dataEnd - dataStart
    const total = 8 + klen + dlen
    if (this.#inRecord || total >= BUFFER_BYTES) {
      this.begin(klen, dlen)
      if (klen) this.writeRange(keySrc, keyStart, keyEnd)
      if (dlen) this.writeRange(dataSrc, dataStart, dataEnd)
      return
    }
    this.#open()
    if (this.#pos + total > MAX) throw new CdbTooBigError()
    if (this.#used + total > BUFFER_BYTES) this.#flush()
    const buf = this.#buf
    let u = this.#used
    buf[u] = klen & 255
    buf[u + 1] = (klen >>> 8) & 255
    buf[u + 2] = (klen >>> 16) & 255
    buf[u + 3] = klen >>> 24
    buf[u + 4] = dlen & 255
    buf[u + 5] = (dlen >>> 8) & 255
    buf[u + 6] = (dlen >>> 16) & 255
    buf[u + 7] = dlen >>> 24
    u += 8
    let h = CDB_HASH_START
    for (let i = keyStart; i < keyEnd; i++) {
      const c = keySrc[i]!
      h = (Math.imul(h, 33) ^ c) >>> 0
      buf[u++] = c
    }
    if (dlen < 32) for (let i = dataStart; i < dataEnd; i++) buf[u++] = dataSrc[i]!
    else u += dataSrc.copy(buf, u, dataStart, dataEnd)
    this.#index.push(h, this.#pos)
    this.#used = u
    this.#pos += total
  }

  /** Starts a record whose key and data will follow through write() (for data too large to hold). */
  begin(keyLength: number, dataLength: number): void {
    this.#open()
    if (this.#inRecord) throw new CdbUsageError('previous record is incomplete')
    if (this.#pos + 8 + keyLength + dataLength > MAX) throw new CdbTooBigError()
    this.#inRecord = true
    this.#keyLeft = keyLength
    this.#dataLeft = dataLength
    this.#hash = CDB_HASH_START
    this.#start = this.#pos
    if (this.#used + 8 > BUFFER_BYTES) this.#flush()
    this.#buf.writeUInt32LE(keyLength, this.#used)
    this.#buf.writeUInt32LE(dataLength, this.#used + 4)
    this.#used += 8
    this.#pos += 8
    if (keyLength + dataLength === 0) this.#endRecord()
  }

  /** Writes the next bytes of the current record: key bytes first, then data bytes. */
  write(piece: Buffer): void {
    this.writeRange(piece, 0, piece.length)
  }

  /** write() of `bytes[start, end)`, without making a view of it. */
  writeRange(bytes: Buffer, start: number, end: number): void {
    if (!this.#inRecord) throw new CdbUsageError('write() without begin()')
    const n = end - start
    if (n > this.#keyLeft + this.#dataLeft) throw new CdbUsageError('more bytes than the record declared')
    if (this.#keyLeft > 0) {
      const k = Math.min(this.#keyLeft, n)
      let h = this.#hash
      for (let i = start; i < start + k; i++) h = (Math.imul(h, 33) ^ bytes[i]!) >>> 0
      this.#hash = h
      this.#keyLeft -= k
      this.#dataLeft -= n - k
    } else {
      this.#dataLeft -= n
    }
    this.#raw(bytes, start, end)
    if (this.#keyLeft === 0 && this.#dataLeft === 0) this.#endRecord()
  }

  /** Writes tables and header, fsyncs, renames over the target, fsyncs the directory. */
  async finish(): Promise<void> {
    const fd = this.#open()
    try {
      if (this.#inRecord) throw new CdbUsageError('last record is incomplete')
      const { header, tables } = layoutTables(
        this.#index.hashes,
        this.#index.positions,
        this.#index.count,
        this.#pos,
      )
      this.#raw(tables, 0, tables.length)
      this.#flush()
      writeSync(fd, header, 0, header.length, 0)
      fsyncSync(fd)
    } catch (err) {
      this.abort()
      throw err
    }
    closeSync(fd)
    this.#fd = null
    try {
      renameSync(this.tmpPath, this.path)
    } catch (err) {
      if (this.#removeTmp) removeQuietly(this.tmpPath)
      throw err
    }
    syncDirectory(dirname(this.path))
  }

  /** Gives up: closes and (unless told otherwise) removes the temporary file. The target is untouched. */
  abort(): void {
    if (this.#fd === null) return
    try {
      closeSync(this.#fd)
    } catch {
      /* already failing */
    }
    this.#fd = null
    if (this.#removeTmp) removeQuietly(this.tmpPath)
  }

  #endRecord(): void {
    this.#index.push(this.#hash, this.#start)
    this.#inRecord = false
  }

  #open(): number {
    if (this.#fd === null) throw new CdbUsageError('writer is closed')
    return this.#fd
  }

  #raw(bytes: Buffer, start: number, end: number): void {
    const n = end - start
    this.#pos += n
    if (n >= BUFFER_BYTES) {
      this.#flush()
      this.#writeAll(bytes.subarray(start, end))
      return
    }
    if (this.#used + n > BUFFER_BYTES) this.#flush()
    if (n < 32) {
      // Short pieces (keys, small values) are copied by hand: cheaper than a native copy call.
      const buf = this.#buf
      let u = this.#used
      for (let i = start; i < end; i++) buf[u++] = bytes[i]!
    } else bytes.copy(this.#buf, this.#used, start, end)
    this.#used += n
  }

  #flush(): void {
    if (this.#used === 0) return
    this.#writeAll(this.#buf.subarray(0, this.#used))
    this.#used = 0
  }

  #writeAll(bytes: Buffer): void {
    try {
      let off = 0
      while (off < bytes.length) off += writeSync(this.#fd!, bytes, off, bytes.length - off)
    } catch (err) {
      this.abort()
      throw err
    }
  }
}

function removeQuietly(path: string): void {
  try {
    unlinkSync(path)
  } catch {
    /* nothing to remove */
  }
}

/** fsync of a directory, so a rename into it survives a crash. */
export function syncDirectory(dir: string): void {
  let fd: number
  try {
    fd = openSync(dir, constants.O_RDONLY)
  } catch {
    return
  }
  try {
    fsyncSync(fd)
  } catch {
    /* some filesystems refuse fsync on directories; the rename itself has happened */
  } finally {
    closeSync(fd)
  }
}

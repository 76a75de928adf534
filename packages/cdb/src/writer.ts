import { closeSync, fsyncSync, openSync, renameSync, unlinkSync, writeSync, constants } from 'node:fs'
import { dirname } from 'node:path'
import { CdbTooBigError, CdbUsageError } from './errors.js'
import { CDB_HASH_START, cdbHashUpdate } from './hash.js'
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
  // A record being added in pieces.
  #pending: { keyLeft: number; dataLeft: number; hash: number; start: number } | null = null

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
    w.#raw(Buffer.alloc(2048)) // header placeholder, written for real at the end
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
    if (k.length) this.write(k)
    if (d.length) this.write(d)
  }

  /** Starts a record whose key and data will follow through write() (for data too large to hold). */
  begin(keyLength: number, dataLength: number): void {
    this.#open()
    if (this.#pending) throw new CdbUsageError('previous record is incomplete')
    if (this.#pos + 8 + keyLength + dataLength > MAX) throw new CdbTooBigError()
    const head = Buffer.allocUnsafe(8)
    head.writeUInt32LE(keyLength, 0)
    head.writeUInt32LE(dataLength, 4)
    this.#pending = { keyLeft: keyLength, dataLeft: dataLength, hash: CDB_HASH_START, start: this.#pos }
    this.#raw(head)
    if (keyLength + dataLength === 0) this.#endRecord()
  }

  /** Writes the next bytes of the current record: key bytes first, then data bytes. */
  write(piece: Buffer): void {
    const p = this.#pending
    if (!p) throw new CdbUsageError('write() without begin()')
    if (piece.length > p.keyLeft + p.dataLeft) throw new CdbUsageError('more bytes than the record declared')
    if (p.keyLeft > 0) {
      const n = Math.min(p.keyLeft, piece.length)
      p.hash = cdbHashUpdate(p.hash, n === piece.length ? piece : piece.subarray(0, n))
      p.keyLeft -= n
      p.dataLeft -= piece.length - n
    } else {
      p.dataLeft -= piece.length
    }
    this.#raw(piece)
    if (p.keyLeft === 0 && p.dataLeft === 0) this.#endRecord()
  }

  /** Writes tables and header, fsyncs, renames over the target, fsyncs the directory. */
  async finish(): Promise<void> {
    const fd = this.#open()
    try {
      if (this.#pending) throw new CdbUsageError('last record is incomplete')
      const { header, tables } = layoutTables(
        this.#index.hashes,
        this.#index.positions,
        this.#index.count,
        this.#pos,
      )
      this.#raw(tables)
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
    const p = this.#pending!
    this.#index.push(p.hash, p.start)
    this.#pending = null
  }

  #open(): number {
    if (this.#fd === null) throw new CdbUsageError('writer is closed')
    return this.#fd
  }

  #raw(bytes: Buffer): void {
    this.#pos += bytes.length
    if (bytes.length >= BUFFER_BYTES) {
      this.#flush()
      this.#writeAll(bytes)
      return
    }
    if (this.#used + bytes.length > BUFFER_BYTES) this.#flush()
    bytes.copy(this.#buf, this.#used)
    this.#used += bytes.length
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

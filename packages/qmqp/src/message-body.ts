import { createReadStream, createWriteStream, type WriteStream } from 'node:fs'
import { open, readFile, stat, unlink } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { Readable } from 'node:stream'
import { MessageChannel, type MessagePort } from 'node:worker_threads'
import { QmqpSpoolError } from './errors.js'

/**
 * A message's bytes with their size, readable any number of times: held in memory when small,
 * in a temporary file otherwise. Whoever holds it calls `dispose()` when done (removes the file).
 */
export interface MessageBody {
  readonly size: number
  /** The bytes from `start` (default 0) up to but not including `end` (default size), as in `Buffer.subarray`. */
  stream(range?: { start?: number; end?: number }): Readable
  /** All bytes in one Buffer. */
  read(): Promise<Buffer>
  /**
   * Copies the bytes from `position` on into `target`, as many as fit, and resolves to how many
   * it copied: fewer than `target.length` only when the body ends first (0 at or past the end).
   * Nothing is allocated for the bytes, so a large body can be gone through with one buffer,
   * reused. Optional for other implementations: `readBodyInto` works with any MessageBody.
   */
  readInto?(target: Uint8Array, position: number): Promise<number>
  /** Releases the storage. Idempotent; reading afterwards is an error for spooled bodies. */
  dispose(): Promise<void>
}

function clampRange(size: number, range?: { start?: number; end?: number }): [number, number] {
  const start = Math.max(0, Math.min(size, range?.start ?? 0))
  const end = Math.max(start, Math.min(size, range?.end ?? size))
  return [start, end]
}

function bufferStream(buf: Buffer): Readable {
  let sent = false
  return new Readable({
    read() {
      if (!sent && buf.length > 0) this.push(buf)
      sent = true
      this.push(null)
    },
  })
}

class MemoryBody implements MessageBody {
  #parts: Buffer[]
  readonly size: number
  /** `parts` are kept as given (no copy); read() joins them once. */
  constructor(parts: Buffer[], size?: number) {
    this.#parts = parts
    this.size = size ?? parts.reduce((n, p) => n + p.length, 0)
  }
  #joined(): Buffer {
    if (this.#parts.length !== 1)
      this.#parts = [this.#parts.length === 0 ? Buffer.alloc(0) : Buffer.concat(this.#parts, this.size)]
    return this.#parts[0]!
  }
  stream(range?: { start?: number; end?: number }): Readable {
    const [s, e] = clampRange(this.size, range)
    if (s === 0 && e === this.size && this.#parts.length > 1) {
      const parts = this.#parts
      let i = 0
      return new Readable({
        read() {
          this.push(i < parts.length ? parts[i++] : null)
        },
      })
    }
    return bufferStream(this.#joined().subarray(s, e))
  }
  async read(): Promise<Buffer> {
    return this.#joined()
  }
  async readInto(target: Uint8Array, position: number): Promise<number> {
    let copied = 0
    let skip = Math.max(0, position)
    for (const part of this.#parts) {
      if (copied === target.length) break
      if (skip >= part.length) {
        skip -= part.length
        continue
      }
      const n = Math.min(part.length - skip, target.length - copied)
      target.set(part.subarray(skip, skip + n), copied)
      copied += n
      skip = 0
    }
    return copied
  }
  bytes(): Buffer {
    return this.#joined()
  }
  async dispose(): Promise<void> {}
}

class FileBody implements MessageBody {
  #disposed = false
  constructor(
    readonly path: string,
    readonly size: number,
    readonly owned: boolean,
  ) {}
  stream(range?: { start?: number; end?: number }): Readable {
    if (this.#disposed) throw new QmqpSpoolError('message body already disposed')
    const [s, e] = clampRange(this.size, range)
    if (e === s) return bufferStream(Buffer.alloc(0))
    // createReadStream's end is inclusive.
    return createReadStream(this.path, { start: s, end: e - 1, highWaterMark: 256 * 1024 })
  }
  async read(): Promise<Buffer> {
    if (this.#disposed) throw new QmqpSpoolError('message body already disposed')
    return readFile(this.path)
  }
  async readInto(target: Uint8Array, position: number): Promise<number> {
    if (this.#disposed) throw new QmqpSpoolError('message body already disposed')
    const want = Math.max(0, Math.min(target.length, this.size - position))
    if (want === 0) return 0
    const file = await open(this.path, 'r')
    try {
      let copied = 0
      while (copied < want) {
        const { bytesRead } = await file.read(target, copied, want - copied, position + copied)
        if (bytesRead === 0) break
        copied += bytesRead
      }
      return copied
    } finally {
      await file.close()
    }
  }
  async dispose(): Promise<void> {
    if (this.#disposed) return
    this.#disposed = true
    if (this.owned) await unlink(this.path).catch(() => undefined)
  }
}

/**
 * The bytes of a body held in memory, in one Buffer (joined once; not a copy after that), or
 * undefined for any other body (a spool file, a body of another kind): a way to skip the stream
 * for small messages without ever reading a large one whole.
 */
export function bodyBytes(body: MessageBody): Buffer | undefined {
  return body instanceof MemoryBody ? body.bytes() : undefined
}

/**
 * `body.readInto(target, position)`, or for a body without it the same bytes taken from its
 * stream (which allocates what the stream does).
 */
export async function readBodyInto(body: MessageBody, target: Uint8Array, position: number): Promise<number> {
  if (body.readInto) return body.readInto(target, position)
  const start = Math.max(0, position)
  if (start >= body.size || target.length === 0) return 0
  // Only the start is given: any MessageBody honours it, whatever it makes of a range's end.
  const stream = body.stream({ start })
  let copied = 0
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      const n = Math.min(chunk.length, target.length - copied)
      target.set(chunk.subarray(0, n), copied)
      copied += n
      if (copied === target.length) break
    }
  } finally {
    stream.destroy()
  }
  return copied
}

/** A MessageBody over bytes in memory (a string is taken as UTF-8). */
export function messageBodyFrom(buf: Buffer | string): MessageBody {
  return new MemoryBody([typeof buf === 'string' ? Buffer.from(buf, 'utf8') : buf])
}

/** A MessageBody over an existing file, read in place; `dispose()` leaves the file alone. */
export async function messageBodyFromFile(path: string): Promise<MessageBody> {
  const st = await stat(path)
  return new FileBody(path, st.size, false)
}

/** True for a value shaped like a MessageBody. */
export function isMessageBody(v: unknown): v is MessageBody {
  const o = v as Partial<MessageBody> | null
  return (
    typeof o === 'object' &&
    o !== null &&
    typeof o.size === 'number' &&
    typeof o.stream === 'function' &&
    typeof o.dispose === 'function'
  )
}

/** Where and when a spool moves from memory to a file. */
export interface SpoolOptions {
  /** Bytes kept in memory before moving to a temporary file. Default 1 MiB. */
  spoolThresholdBytes?: number
  /** Directory for temporary files. Default os.tmpdir(). */
  spoolDir?: string
  /**
   * The chunks written are handed over: once one is in the file, its memory is freed at once
   * when it is the whole of its ArrayBuffer (as socket reads are), and every view of that
   * memory is left empty, as after a transfer. Without this, each chunk waits for the garbage
   * collector, which lets tens of MiB of them pile up while a large message arrives. Only for
   * a caller that keeps no view of the chunks it writes. Default false.
   */
  releaseWritten?: boolean
}

let releasePort: MessagePort | undefined

/**
 * Frees an ArrayBuffer's memory now rather than at the next garbage collection: it is
 * transferred into a closed port, which detaches it and drops the message (a message is
 * serialised even when its port is closed). Buffers that cannot be transferred are left alone.
 */
function release(buffer: ArrayBuffer): void {
  if (!releasePort) {
    releasePort = new MessageChannel().port1
    releasePort.close()
  }
  try {
    releasePort.postMessage(null, [buffer])
  } catch {
    // Marked untransferable (Node's Buffer pool): the collector frees it.
  }
}

/** True when `chunk` is the whole of an ordinary ArrayBuffer, so that freeing it frees nothing else. */
function wholeBuffer(chunk: Buffer): boolean {
  return (
    chunk.byteOffset === 0 &&
    chunk.byteLength > 0 &&
    chunk.byteLength === chunk.buffer.byteLength &&
    chunk.buffer instanceof ArrayBuffer
  )
}

/**
 * Collects a message as it arrives: in memory up to the threshold, then in a temporary file.
 * `write()` returns false when the file is behind; wait for `onDrain` before writing more.
 */
export class BodySpool {
  readonly threshold: number
  readonly dir: string
  #parts: Buffer[] = []
  #size = 0
  #file: WriteStream | undefined
  #path: string | undefined
  #error: Error | undefined
  #finished = false
  readonly #release: boolean

  constructor(opts: SpoolOptions = {}) {
    this.threshold = opts.spoolThresholdBytes ?? 1024 * 1024
    this.dir = opts.spoolDir ?? tmpdir()
    this.#release = opts.releaseWritten ?? false
  }

  get size(): number {
    return this.#size
  }

  /** Path of the temporary file, once the spool moved to disk. */
  get path(): string | undefined {
    return this.#path
  }

  /**
   * Appends bytes. The chunk is kept, not copied: pass chunks nobody will overwrite, as stream
   * 'data' chunks are. Returns false when the caller should wait for `onDrain()`.
   */
  write(chunk: Buffer): boolean {
    if (this.#error) throw this.#error
    this.#size += chunk.length
    if (!this.#file) {
      if (this.#size <= this.threshold) {
        this.#parts.push(chunk)
        return true
      }
      this.#path = join(this.dir, `qmqp-${process.pid}-${randomBytes(8).toString('hex')}.msg`)
      this.#file = createWriteStream(this.#path, { flags: 'wx', mode: 0o600, highWaterMark: 256 * 1024 })
      this.#file.on('error', err => {
        this.#error ??= new QmqpSpoolError(`spool file ${this.#path}: ${err.message}`, { cause: err })
      })
      for (const p of this.#parts) this.#toFile(p)
      this.#parts = []
    }
    return this.#toFile(chunk)
  }

  #toFile(chunk: Buffer): boolean {
    if (!this.#release || !wholeBuffer(chunk)) return this.#file!.write(chunk)
    const memory = chunk.buffer as ArrayBuffer
    return this.#file!.write(chunk, err => {
      if (!err) release(memory)
    })
  }

  /** Resolves when the file can take more (at once when in memory). */
  onDrain(): Promise<void> {
    const f = this.#file
    if (!f || !f.writableNeedDrain) return Promise.resolve()
    return new Promise((resolve, reject) => {
      const done = () => {
        f.off('drain', done)
        f.off('close', done)
        f.off('error', fail)
        resolve()
      }
      const fail = (err: Error) => {
        f.off('drain', done)
        f.off('close', done)
        reject(new QmqpSpoolError(`spool file ${this.#path}: ${err.message}`, { cause: err }))
      }
      f.once('drain', done)
      f.once('close', done)
      f.once('error', fail)
    })
  }

  /** Completes a spool still in memory and hands over its body at once; undefined once on file (use `finish()`). */
  finishInMemory(): MessageBody | undefined {
    if (this.#file) return undefined
    this.#finished = true
    const parts = this.#parts
    this.#parts = []
    return new MemoryBody(parts, this.#size)
  }

  /** Completes the spool and hands over the body (whose `dispose()` removes the file). */
  async finish(): Promise<MessageBody> {
    const inMemory = this.finishInMemory()
    if (inMemory) return inMemory
    this.#finished = true
    const f = this.#file!
    await new Promise<void>((resolve, reject) => {
      if (this.#error) return reject(this.#error)
      f.once('error', err =>
        reject(new QmqpSpoolError(`spool file ${this.#path}: ${err.message}`, { cause: err })),
      )
      f.end(() => resolve())
    })
    if (this.#error) throw this.#error
    return new FileBody(this.#path!, this.#size, true)
  }

  /** Throws the body away (a half-received message is never delivered). */
  async abort(): Promise<void> {
    this.#parts = []
    const f = this.#file
    if (!f || this.#finished) return
    this.#finished = true
    await new Promise<void>(resolve => {
      if (f.closed) return resolve()
      f.once('close', () => resolve())
      f.destroy()
    })
    await unlink(this.#path!).catch(() => undefined)
  }
}

/** Spools a whole stream (a pipe, stdin) and returns it as a MessageBody with its size. */
export async function spoolStream(source: Readable, opts: SpoolOptions = {}): Promise<MessageBody> {
  const spool = new BodySpool(opts)
  try {
    for await (const c of source) {
      if (!spool.write(typeof c === 'string' ? Buffer.from(c) : (c as Buffer))) await spool.onDrain()
    }
    return await spool.finish()
  } catch (err) {
    await spool.abort()
    throw err
  }
}

import { mkdir, open, readdir, rename, stat, unlink, type FileHandle } from 'node:fs/promises'
import { hostname } from 'node:os'
import { join } from 'node:path'
import { bodyBytes, readBodyInto, type MessageBody, type Verdict } from '@qmqpkit/qmqp'
import type { Backend, BackendContext, BackendFactory } from '../backend.js'
import type { InjectedMessage } from '../injected-message.js'
import { BackendOpenError, BackendSpecError, failureText } from './errors.js'
import { acceptedText } from './inspectable.js'

/** tmp/ files older than this are leftovers of interrupted deliveries (the maildir convention). */
const staleTmpMs = 36 * 3600 * 1000

/**
 * fsyncs a directory on behalf of many callers: one that asks while a sync is running gets the
 * next one (which starts after its own rename), and one sync serves everyone who asked before it.
 */
class DirectorySync {
  #asked = 0
  #synced = 0
  #running = false
  #waiters: Array<{ ticket: number; resolve(): void; reject(err: unknown): void }> = []

  constructor(readonly dir: FileHandle) {}

  sync(): Promise<void> {
    const ticket = ++this.#asked
    const done = new Promise<void>((resolve, reject) => this.#waiters.push({ ticket, resolve, reject }))
    if (!this.#running) void this.#run()
    return done
  }

  async #run(): Promise<void> {
    this.#running = true
    while (this.#synced < this.#asked) {
      const upTo = this.#asked
      let failure: unknown = null
      try {
        await this.dir.sync()
      } catch (err) {
        failure = err ?? new Error('fsync failed')
      }
      this.#synced = upTo
      const served = this.#waiters.filter(w => w.ticket <= upTo)
      this.#waiters = this.#waiters.filter(w => w.ticket > upTo)
      for (const w of served) {
        if (failure === null) w.resolve()
        else w.reject(failure)
      }
    }
    this.#running = false
  }
}

/** Header lines as qmail-local adds them: a newline in an address would end the line, so it becomes `_`. */
function headerLine(name: string, value: Buffer): Buffer {
  const cleaned = Buffer.from(value)
  for (let i = 0; i < cleaned.length; i++) if (cleaned[i] === 0x0a || cleaned[i] === 0x0d) cleaned[i] = 0x5f
  return Buffer.concat([Buffer.from(`${name}: `, 'latin1'), cleaned, Buffer.from('\n')])
}

/** What this backend puts before the delivered message: Return-Path, then a Delivered-To per recipient. */
export function deliveryHeaders(sender: Buffer, recipients: Buffer[]): Buffer {
  return Buffer.concat([
    headerLine('Return-Path', Buffer.concat([Buffer.from('<'), sender, Buffer.from('>')])),
    ...recipients.map(r => headerLine('Delivered-To', r)),
  ])
}

/** Bodies up to this size are written with the header lines in one write; larger ones a piece at a time. */
const pieceBytes = 256 * 1024

async function writeAll(file: FileHandle, bytes: Buffer): Promise<void> {
  for (let at = 0; at < bytes.length;) at += (await file.write(bytes, at, bytes.length - at)).bytesWritten
}

/**
 * Writes the header lines, then the body. A large body goes through one buffer, read into and
 * written out again piece by piece, so that no memory is allocated for each piece.
 */
async function writeBody(file: FileHandle, head: Buffer, body: MessageBody): Promise<void> {
  const whole = body.size <= pieceBytes ? (bodyBytes(body) ?? (await body.read())) : undefined
  if (whole) {
    if (whole.length !== body.size) throw new Error(`body has ${whole.length} bytes, not ${body.size}`)
    const { bytesWritten } = await file.writev([head, whole])
    if (bytesWritten < head.length) await writeAll(file, head.subarray(bytesWritten))
    await writeAll(file, whole.subarray(Math.max(0, bytesWritten - head.length)))
    return
  }
  await writeAll(file, head)
  const piece = Buffer.allocUnsafeSlow(pieceBytes)
  let bytes = 0
  while (bytes < body.size) {
    const n = await readBodyInto(body, piece, bytes)
    if (n === 0) break
    await writeAll(file, piece.subarray(0, n))
    bytes += n
  }
  if (bytes !== body.size) throw new Error(`body has ${bytes} bytes, not ${body.size}`)
}

/**
 * Delivers each message as one file of a maildir, the way qmail-local does: write tmp/NAME, fsync,
 * rename to new/NAME, fsync new/. K is answered after the directory fsync, so the name survives a crash.
 */
export class MaildirBackend implements Backend {
  readonly name: string
  readonly #host: string
  #count = 0
  #closed = false
  readonly #inFlight = new Set<Promise<Verdict>>()

  private constructor(
    readonly dir: string,
    readonly newDir: FileHandle,
    readonly newSync: DirectorySync,
  ) {
    this.name = `maildir:${dir}`
    // The maildir name rules: `/` and `:` in the host name are written in octal.
    this.#host = hostname().replaceAll('/', '\\057').replaceAll(':', '\\072')
  }

  /** Creates DIR/tmp, DIR/new and DIR/cur as needed, and removes stale files from tmp/. */
  static async open(dir: string): Promise<MaildirBackend> {
    try {
      for (const sub of ['tmp', 'new', 'cur']) await mkdir(join(dir, sub), { recursive: true, mode: 0o700 })
      const now = Date.now()
      for (const name of await readdir(join(dir, 'tmp'))) {
        const path = join(dir, 'tmp', name)
        const info = await stat(path).catch(() => null)
        if (info?.isFile() && now - info.mtimeMs > staleTmpMs) await unlink(path).catch(() => {})
      }
      const newDir = await open(join(dir, 'new'), 'r')
      return new MaildirBackend(dir, newDir, new DirectorySync(newDir))
    } catch (err) {
      throw new BackendOpenError(`maildir:${dir}`, err instanceof Error ? err.message : String(err), {
        cause: err,
      })
    }
  }

  /** A unique file name: `SECONDS.MmicrosPpidQn.HOST,S=SIZE` (the size suffix is Courier's and Dovecot's). */
  #uniqueName(size: number): string {
    const now = performance.timeOrigin + performance.now()
    const seconds = Math.floor(now / 1000)
    const micros = Math.floor((now * 1000) % 1_000_000)
    return `${seconds}.M${micros}P${process.pid}Q${++this.#count}.${this.#host},S=${size}`
  }

  deliver(msg: InjectedMessage): Promise<Verdict> {
    if (this.#closed) return Promise.resolve({ code: 'Z', text: 'qq temporary problem (#4.3.0)' })
    const p = this.#deliver(msg)
    this.#inFlight.add(p)
    void p.finally(() => this.#inFlight.delete(p))
    return p
  }

  async #deliver(msg: InjectedMessage): Promise<Verdict> {
    const head = deliveryHeaders(msg.sender, msg.recipients)
    const size = head.length + msg.delivered.size
    const name = this.#uniqueName(size)
    const tmpPath = join(this.dir, 'tmp', name)
    const newPath = join(this.dir, 'new', name)
    let file: FileHandle | undefined
    let stage: 'tmp' | 'new' | 'done' = 'tmp'
    try {
      file = await open(tmpPath, 'wx', 0o600)
      await writeBody(file, head, msg.delivered)
      await file.sync()
      await file.close()
      file = undefined
      await rename(tmpPath, newPath)
      stage = 'new'
      await this.newSync.sync()
      stage = 'done'
      return { code: 'K', text: acceptedText(msg) }
    } catch (err) {
      await file?.close().catch(() => {})
      // Not acknowledged, so not kept: a Z'd message must not be found in new/ after a retry either.
      await unlink(stage === 'tmp' ? tmpPath : newPath).catch(() => {})
      return { code: 'Z', text: failureText(err) }
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    await Promise.allSettled([...this.#inFlight])
    await this.newDir.close()
  }
}

/** `maildir:DIR` */
export const maildirBackendFactory: BackendFactory = {
  scheme: 'maildir',
  description: 'maildir:DIR  deliver each message into a maildir (tmp, fsync, rename into new, fsync new)',
  async create(spec: string, _context: BackendContext): Promise<Backend> {
    const dir = spec.slice('maildir:'.length)
    if (dir === '') throw new BackendSpecError(spec, 'no maildir directory')
    return MaildirBackend.open(dir)
  },
}

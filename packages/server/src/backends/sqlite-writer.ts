// The sqlite backend's writer: a worker thread that owns the only writing connection, so that
// COMMIT's fsync never blocks the event loop that reads the sockets. Each batch it is handed
// runs in one transaction (one fsync for every message in it); while it commits, the next batch
// gathers in the main thread.
import { parentPort, workerData } from 'node:worker_threads'
import Database from 'better-sqlite3'
import { netstringSize, putNetstringPrefix } from '@qmqpkit/qmqp'

/** The database layout. `PRAGMA user_version` holds sqliteSchemaVersion. */
export const sqliteSchemaVersion = 1

export const sqliteSchema = `
CREATE TABLE IF NOT EXISTS messages (
  seq INTEGER PRIMARY KEY,
  id TEXT NOT NULL,
  namespace TEXT,
  received_at INTEGER NOT NULL,
  stored_at INTEGER NOT NULL,
  sender BLOB NOT NULL,
  recipient_count INTEGER NOT NULL,
  recipients BLOB NOT NULL,
  remote_ip TEXT NOT NULL,
  rule_key TEXT,
  connection TEXT NOT NULL,
  mail_class TEXT,
  virtual_mta TEXT,
  send_id TEXT,
  list_id TEXT,
  instance_id TEXT,
  metadata TEXT NOT NULL,
  size INTEGER NOT NULL,
  delivered_size INTEGER NOT NULL,
  delivered_same INTEGER NOT NULL,
  verdict_code TEXT NOT NULL,
  verdict_text TEXT NOT NULL,
  transcript TEXT NOT NULL,
  faults TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS messages_id ON messages (id);
CREATE INDEX IF NOT EXISTS messages_received_at ON messages (received_at);
CREATE TABLE IF NOT EXISTS bodies (
  seq INTEGER NOT NULL,
  part INTEGER NOT NULL,
  chunk INTEGER NOT NULL,
  data BLOB NOT NULL,
  PRIMARY KEY (seq, part, chunk)
);
`

/**
 * The recipients of a message in one BLOB column: each address as a netstring (`len:bytes,`),
 * in order. One column rather than a row per address: a message to 100 recipients is one
 * insert, not 100.
 */
export function encodeAddressList(addresses: readonly Uint8Array[]): Buffer {
  const out = Buffer.allocUnsafe(addressListBytes(addresses))
  writeAddressList(out, 0, addresses)
  return out
}

/** How many bytes `encodeAddressList` makes of these addresses. */
function addressListBytes(addresses: readonly Uint8Array[]): number {
  let n = 0
  for (const a of addresses) n += netstringSize(a.byteLength)
  return n
}

function writeAddressList(out: Buffer, at: number, addresses: readonly Uint8Array[]): number {
  for (const a of addresses) {
    const length = a.byteLength
    at = putNetstringPrefix(out, at, length)
    // Addresses are short: a loop costs less than a call into native code.
    if (length < 64) for (let i = 0; i < length; i++) out[at + i] = a[i]!
    else out.set(a, at)
    at += length
    out[at++] = 0x2c
  }
  return at
}

export function decodeAddressList(list: Uint8Array): Buffer[] {
  const blob = Buffer.from(list.buffer, list.byteOffset, list.byteLength)
  const out: Buffer[] = []
  for (let i = 0; i < blob.length;) {
    const colon = blob.indexOf(0x3a, i)
    const length = Number(blob.toString('latin1', i, colon))
    if (colon < 0 || !Number.isSafeInteger(length) || blob[colon + 1 + length] !== 0x2c)
      throw new Error('malformed recipient list')
    out.push(blob.subarray(colon + 1, colon + 1 + length))
    i = colon + 2 + length
  }
  return out
}

/**
 * The messages columns a packed message record holds, in its order. `stored_at` is not among
 * them: the writer sets it when it inserts the row.
 */
export const messageColumns = [
  'seq',
  'id',
  'namespace',
  'received_at',
  'sender',
  'recipient_count',
  'recipients',
  'remote_ip',
  'rule_key',
  'connection',
  'mail_class',
  'virtual_mta',
  'send_id',
  'list_id',
  'instance_id',
  'metadata',
  'size',
  'delivered_size',
  'delivered_same',
  'verdict_code',
  'verdict_text',
  'transcript',
  'faults',
] as const

/** A column's value in a packed record. An array of addresses is stored as `encodeAddressList` makes it. */
export type PackedValue = string | number | null | Uint8Array | readonly Uint8Array[]

/** A body chunk of a message stored whole: which body, its position, its bytes. */
export type PackedChunk = readonly [part: number, chunk: number, data: Uint8Array]

const enum Tag {
  Null = 0,
  Number = 1,
  Text = 2,
  Bytes = 3,
}

/**
 * Message rows packed one after the other into one buffer, which goes to the writer thread as
 * a whole (transferred, not copied) with the batch that holds them. Posting each row as an
 * object costs the structured clone of every field, and each transferred buffer has its own
 * cost; one buffer per batch is a single copy of bytes.
 *
 * Record layout: per column of `messageColumns` a tag byte (null, number as float64, UTF-8 text
 * or bytes, these two with a uint32 length), then a uint32 count of body chunks, each as uint32
 * part, uint32 position and a uint32 length with the bytes. Little-endian throughout.
 */
export class BatchArena {
  #buf: Buffer
  #at = 0

  constructor(readonly initialBytes = 64 * 1024) {
    this.#buf = Buffer.allocUnsafeSlow(initialBytes)
  }

  /** Bytes appended since the last `take()`. */
  get length(): number {
    return this.#at
  }

  /** Appends one message record: `values` in `messageColumns` order. Returns the record's length. */
  appendMessage(values: readonly PackedValue[], chunks: readonly PackedChunk[]): number {
    if (values.length !== messageColumns.length)
      throw new RangeError(`${values.length} values for ${messageColumns.length} columns`)
    const start = this.#at
    try {
      for (const v of values) this.#value(v)
      this.#u32(chunks.length)
      for (const [part, n, data] of chunks) {
        this.#u32(part)
        this.#u32(n)
        this.#room(4 + data.byteLength)
        this.#u32(data.byteLength)
        this.#buf.set(data, this.#at)
        this.#at += data.byteLength
      }
    } catch (err) {
      this.#at = start
      throw err
    }
    return this.#at - start
  }

  /**
   * The bytes appended so far, in an ArrayBuffer of their own (to be transferred; it may be
   * longer than they are), or undefined when there are none. The arena starts again empty.
   */
  take(): ArrayBuffer | undefined {
    if (this.#at === 0) return undefined
    const taken = this.#buf.buffer as ArrayBuffer
    this.#buf = Buffer.allocUnsafeSlow(Math.max(this.initialBytes, this.#at))
    this.#at = 0
    return taken
  }

  #room(n: number): void {
    if (this.#at + n <= this.#buf.length) return
    const bigger = Buffer.allocUnsafeSlow(Math.max(this.#buf.length * 2, this.#at + n))
    this.#buf.copy(bigger, 0, 0, this.#at)
    this.#buf = bigger
  }

  #u32(n: number): void {
    this.#room(4)
    this.#buf.writeUInt32LE(n, this.#at)
    this.#at += 4
  }

  #value(v: PackedValue): void {
    const buf = () => this.#buf
    if (v === null) {
      this.#room(1)
      buf()[this.#at++] = Tag.Null
    } else if (typeof v === 'number') {
      this.#room(9)
      buf()[this.#at] = Tag.Number
      buf().writeDoubleLE(v, this.#at + 1)
      this.#at += 9
    } else if (typeof v === 'string') {
      this.#room(5 + v.length * 3)
      buf()[this.#at] = Tag.Text
      const n = buf().write(v, this.#at + 5, 'utf8')
      buf().writeUInt32LE(n, this.#at + 1)
      this.#at += 5 + n
    } else if (v instanceof Uint8Array) {
      this.#room(5 + v.byteLength)
      buf()[this.#at] = Tag.Bytes
      buf().writeUInt32LE(v.byteLength, this.#at + 1)
      buf().set(v, this.#at + 5)
      this.#at += 5 + v.byteLength
    } else {
      const n = addressListBytes(v)
      this.#room(5 + n)
      buf()[this.#at] = Tag.Bytes
      buf().writeUInt32LE(n, this.#at + 1)
      writeAddressList(buf(), this.#at + 5, v)
      this.#at += 5 + n
    }
  }
}

/** Reads the records of a BatchArena's buffer in order; byte values are views of it, not copies. */
export class BatchReader {
  #at = 0
  constructor(readonly buf: Buffer) {}

  /** The next record, `length` bytes long as `appendMessage` returned. */
  message(length: number): {
    values: Array<string | number | null | Buffer>
    chunks: Array<[number, number, Buffer]>
  } {
    const end = this.#at + length
    try {
      const values: Array<string | number | null | Buffer> = []
      for (let i = 0; i < messageColumns.length; i++) values.push(this.#value())
      const chunks: Array<[number, number, Buffer]> = []
      for (let n = this.#u32(); n > 0; n--) {
        const part = this.#u32()
        const chunk = this.#u32()
        chunks.push([part, chunk, this.#bytes(this.#u32())])
      }
      if (this.#at !== end) throw new Error(`packed record of ${length} bytes is ${this.#at - end + length}`)
      return { values, chunks }
    } finally {
      // The next record starts there, whatever became of this one.
      this.#at = end
    }
  }

  #u32(): number {
    const n = this.buf.readUInt32LE(this.#at)
    this.#at += 4
    return n
  }

  #bytes(n: number): Buffer {
    const out = this.buf.subarray(this.#at, this.#at + n)
    if (out.length !== n) throw new Error('packed record ends early')
    this.#at += n
    return out
  }

  #value(): string | number | null | Buffer {
    const tag = this.buf[this.#at++]
    switch (tag) {
      case Tag.Null:
        return null
      case Tag.Number: {
        const v = this.buf.readDoubleLE(this.#at)
        this.#at += 8
        return v
      }
      case Tag.Text: {
        const n = this.#u32()
        const v = this.buf.toString('utf8', this.#at, this.#at + n)
        this.#at += n
        return v
      }
      case Tag.Bytes:
        return this.#bytes(this.#u32())
      default:
        throw new Error(`packed record: unknown tag ${tag}`)
    }
  }
}

/**
 * A job of a batch: a number is the next message record of the batch's packed buffer (that
 * many bytes); the other jobs travel as they are.
 */
export type WriteJob =
  | number
  | { kind: 'slot-chunk'; seq: number; part: number; chunk: number; slot: number; length: number }
  | { kind: 'drop'; seq: number }
  | { kind: 'remove'; where: string; params: Array<string | number | null | Uint8Array> }

/** Main thread to writer. */
export type WriterRequest =
  { type: 'batch'; id: number; jobs: WriteJob[]; packed?: ArrayBuffer } | { type: 'close' }

export interface WriterFailure {
  code?: string
  message: string
}

/** Writer to main thread. `results[i]` is null for a job that succeeded (or how many rows a remove took). */
export type WriterReply =
  | { type: 'ready'; nextSeq: number; synchronous: number; journalMode: string }
  | { type: 'open-failed'; error: WriterFailure }
  | { type: 'batch'; id: number; results: Array<WriterFailure | number | null>; error?: WriterFailure }

const asBuffer = (u: Uint8Array) => Buffer.from(u.buffer, u.byteOffset, u.byteLength)

function failure(err: unknown): WriterFailure {
  const e = err as { code?: unknown; message?: unknown }
  return { ...(typeof e?.code === 'string' && { code: e.code }), message: String(e?.message ?? err) }
}

/** Opens the database for writing: WAL, synchronous FULL, the schema, orphan chunks removed. */
export function openForWriting(path: string): Database.Database {
  const db = new Database(path)
  try {
    const mode = db.pragma('journal_mode = WAL', { simple: true })
    if (mode !== 'wal') throw new Error(`journal mode ${String(mode)}, not wal`)
    // FULL: with NORMAL a committed transaction can vanish on power loss, and K promised it would not.
    db.pragma('synchronous = FULL')
    // SQLite's own default page cache (2 MB): this connection only appends, and better-sqlite3's
    // 16 MB default would fill with the pages of every large body written through it.
    db.pragma('cache_size = -2000')
    db.pragma('busy_timeout = 5000')
    const version = db.pragma('user_version', { simple: true }) as number
    if (version !== 0 && version !== sqliteSchemaVersion)
      throw new Error(`schema version ${version}, this qmqpd knows ${sqliteSchemaVersion}`)
    db.exec(sqliteSchema)
    db.pragma(`user_version = ${sqliteSchemaVersion}`)
    // Chunks of a large message whose row never committed (a crash or failure mid-delivery).
    db.exec('DELETE FROM bodies WHERE seq NOT IN (SELECT seq FROM messages)')
    return db
  } catch (err) {
    db.close()
    throw err
  }
}

function serve(path: string, slots: SharedArrayBuffer, slotBytes: number): void {
  const port = parentPort!
  let db: Database.Database
  try {
    db = openForWriting(path)
  } catch (err) {
    port.postMessage({ type: 'open-failed', error: failure(err) } satisfies WriterReply)
    return
  }
  const insertMessage = db.prepare(
    `INSERT INTO messages (${messageColumns.join(', ')}, stored_at)
     VALUES (${messageColumns.map(() => '?').join(', ')}, ?)`,
  )
  const insertChunk = db.prepare('INSERT INTO bodies (seq, part, chunk, data) VALUES (?, ?, ?, ?)')
  const drops = ['bodies', 'messages'].map(t => db.prepare(`DELETE FROM ${t} WHERE seq = ?`))
  const max = db
    .prepare(
      'SELECT max(coalesce((SELECT max(seq) FROM messages), 0), coalesce((SELECT max(seq) FROM bodies), 0))',
    )
    .pluck()
    .get() as number

  const run = (job: WriteJob, packed: BatchReader | undefined): number | null => {
    if (typeof job === 'number') {
      if (!packed) throw new Error('a packed message without its buffer')
      const { values, chunks } = packed.message(job)
      const seq = values[0] as number
      for (const [part, n, data] of chunks) insertChunk.run(seq, part, n, data)
      insertMessage.run(...values, Date.now())
      return null
    }
    switch (job.kind) {
      case 'slot-chunk':
        // SQLite copies the bound BLOB, so the slot is free for reuse once this returns.
        insertChunk.run(job.seq, job.part, job.chunk, Buffer.from(slots, job.slot * slotBytes, job.length))
        return null
      case 'drop':
        drops[0]!.run(job.seq)
        return null
      case 'remove': {
        const params = job.params.map(p => (p instanceof Uint8Array ? asBuffer(p) : p))
        const seqs = db
          .prepare(`SELECT seq FROM messages ${job.where}`)
          .pluck()
          .all(...params) as number[]
        for (const seq of seqs) for (const stmt of drops) stmt.run(seq)
        return seqs.length
      }
    }
  }

  // Prepared once: db.exec would parse these again for every batch and every message.
  const [begin, commit, savepoint, release, rollbackTo] = [
    'BEGIN IMMEDIATE',
    'COMMIT',
    'SAVEPOINT job',
    'RELEASE job',
    'ROLLBACK TO job',
  ].map(sql => db.prepare(sql))

  port.on('message', (request: WriterRequest) => {
    if (request.type === 'close') {
      db.close()
      port.close()
      return
    }
    const results: Array<WriterFailure | number | null> = []
    const packed = request.packed && new BatchReader(Buffer.from(request.packed))
    try {
      begin!.run()
      for (const job of request.jobs) {
        // A savepoint per job: one that fails is undone alone, the others still commit.
        savepoint!.run()
        try {
          results.push(run(job, packed))
          release!.run()
        } catch (err) {
          rollbackTo!.run()
          release!.run()
          results.push(failure(err))
        }
      }
      commit!.run()
    } catch (err) {
      // The transaction did not commit: nothing of this batch is stored.
      if (db.inTransaction) {
        try {
          db.exec('ROLLBACK')
        } catch {
          // SQLite rolls back on the next open.
        }
      }
      port.postMessage({ type: 'batch', id: request.id, results, error: failure(err) } satisfies WriterReply)
      return
    }
    port.postMessage({ type: 'batch', id: request.id, results } satisfies WriterReply)
  })
  port.postMessage({
    type: 'ready',
    nextSeq: max + 1,
    synchronous: db.pragma('synchronous', { simple: true }) as number,
    journalMode: db.pragma('journal_mode', { simple: true }) as string,
  } satisfies WriterReply)
}

const data = workerData as {
  qmqpkitSqliteWriter?: string
  slots: SharedArrayBuffer
  slotBytes: number
} | null
if (parentPort && typeof data?.qmqpkitSqliteWriter === 'string')
  serve(data.qmqpkitSqliteWriter, data.slots, data.slotBytes)

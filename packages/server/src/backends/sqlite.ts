import { existsSync } from 'node:fs'
import { Readable } from 'node:stream'
import { Worker } from 'node:worker_threads'
import Database from 'better-sqlite3'
import {
  bodyBytes,
  readBodyInto,
  type MessageBody,
  type RequestTranscript,
  type Verdict,
} from '@qmqpkit/qmqp'
import type { Backend, BackendContext, BackendFactory } from '../backend.js'
import type { GreenArrowMetadata, InjectedMessage } from '../injected-message.js'
import { BackendOpenError, BackendSpecError, failureText } from './errors.js'
import {
  acceptedText,
  connectionFromJson,
  connectionToJson,
  filterBytes,
  listLimit,
  type BodyPart,
  type Inspectable,
  type ListOptions,
  type MessageFilter,
  type MessagePage,
  type StoredMessage,
} from './inspectable.js'
import {
  BatchArena,
  decodeAddressList,
  type PackedChunk,
  type PackedValue,
  type WriteJob,
  type WriterFailure,
  type WriterReply,
  type WriterRequest,
} from './sqlite-writer.js'

export interface SqliteBackendOptions {
  /** Bodies are stored in rows of this many bytes (the last row of a body may be shorter). */
  chunkBytes?: number
  /**
   * Messages whose bodies together fit in this many bytes are read whole and written in one
   * transaction; larger ones are streamed into the store a chunk at a time first.
   */
  inlineBytes?: number
  /**
   * How many chunk buffers (shared with the writer thread, reused) large messages stream through:
   * the most body bytes this backend holds at once is chunksInFlight × chunkBytes.
   */
  chunksInFlight?: number
}

const defaults: Required<SqliteBackendOptions> = {
  chunkBytes: 256 * 1024,
  inlineBytes: 1024 * 1024,
  chunksInFlight: 16,
}

/** Body parts as stored: 0 is the message as received, 1 as delivered (absent when the same bytes). */
const partNumber: Record<BodyPart, number> = { received: 0, delivered: 1 }

/**
 * The writer thread's module. Compiled, it is sqlite-writer.js beside this file. Run from the
 * TypeScript source (tests), the built one is used when present, else the source beside this.
 */
function writerUrl(): URL {
  if (!import.meta.url.endsWith('.ts')) return new URL('./sqlite-writer.js', import.meta.url)
  const built = new URL('../../dist/backends/sqlite-writer.js', import.meta.url)
  return existsSync(built) ? built : new URL('./sqlite-writer.ts', import.meta.url)
}

interface Queued {
  job: WriteJob
  resolve(result: number | null): void
  reject(err: unknown): void
}

/** A failure reported by the writer thread, with SQLite's code kept for failureText. */
class WriterError extends Error {
  override name = 'WriterError'
  readonly code: string | undefined
  constructor(failure: WriterFailure) {
    super(failure.message)
    this.code = failure.code
  }
}

/**
 * The main thread's side of the writer thread: jobs wait here while the writer commits the
 * previous batch, then go together as the next batch. A job's promise settles only after the
 * COMMIT that holds it has returned, that is (synchronous FULL) after the WAL was fsynced.
 */
class GroupCommitter {
  #queue: Queued[] = []
  /** The message rows of the jobs in #queue, packed. */
  #arena = new BatchArena()
  #inBatch = new Map<number, Queued[]>()
  #nextBatch = 1
  #scheduled = false
  #dead: Error | null = null
  #idle: Array<() => void> = []
  /** Transactions committed so far. */
  commits = 0

  private constructor(readonly worker: Worker) {
    worker.on('message', (reply: WriterReply) => this.#onReply(reply))
    const die = (err: Error) => {
      this.#dead = err
      for (const q of [...[...this.#inBatch.values()].flat(), ...this.#queue.splice(0)]) q.reject(err)
      this.#inBatch.clear()
      this.#settleIdle()
    }
    worker.on('error', die)
    worker.on('exit', code => die(new Error(`sqlite writer exited (${code})`)))
  }

  static async start(
    path: string,
    slots: ChunkSlots,
  ): Promise<{ committer: GroupCommitter; ready: WriterReply & { type: 'ready' } }> {
    const worker = new Worker(writerUrl(), {
      workerData: { qmqpkitSqliteWriter: path, slots: slots.memory, slotBytes: slots.bytes },
      // The compiled writer needs no loader hooks; without them the thread starts in milliseconds.
      ...(writerUrl().pathname.endsWith('.js') && { execArgv: [] }),
    })
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    const listeners: Array<[string, (arg: any) => void]> = []
    const first = await new Promise<WriterReply>((resolve, reject) => {
      const onExit = (code: number) => reject(new Error(`sqlite writer exited (${code})`))
      listeners.push(['message', resolve], ['error', reject], ['exit', onExit])
      for (const [event, listener] of listeners) worker.once(event, listener)
    })
    // Only ours: the Worker's own listeners (which start its message port) must stay.
    for (const [event, listener] of listeners) worker.off(event, listener)
    if (first.type !== 'ready') {
      await worker.terminate()
      throw new WriterError(first.type === 'open-failed' ? first.error : { message: 'unexpected reply' })
    }
    return { committer: new GroupCommitter(worker), ready: first }
  }

  submit(job: Exclude<WriteJob, number>): Promise<number | null> {
    return this.#enqueue(job)
  }

  /** Queues a message row (values in `messageColumns` order) with the body chunks stored in the same insert. */
  submitMessage(values: readonly PackedValue[], chunks: readonly PackedChunk[]): Promise<number | null> {
    if (this.#dead) return Promise.reject(this.#dead)
    return this.#enqueue(this.#arena.appendMessage(values, chunks))
  }

  #enqueue(job: WriteJob): Promise<number | null> {
    if (this.#dead) return Promise.reject(this.#dead)
    return new Promise((resolve, reject) => {
      this.#queue.push({ job, resolve, reject })
      // While a batch commits, jobs wait for its reply; when idle, for the end of this turn.
      if (this.#inBatch.size === 0 && !this.#scheduled) {
        this.#scheduled = true
        setImmediate(() => {
          this.#scheduled = false
          this.#send()
        })
      }
    })
  }

  #send(): void {
    if (this.#dead || this.#inBatch.size > 0 || this.#queue.length === 0) return
    const id = this.#nextBatch++
    const batch = this.#queue.splice(0)
    this.#inBatch.set(id, batch)
    const packed = this.#arena.take()
    const jobs = batch.map(q => q.job)
    this.worker.postMessage(
      { type: 'batch', id, jobs, ...(packed && { packed }) } satisfies WriterRequest,
      packed ? [packed] : [],
    )
  }

  #onReply(reply: WriterReply): void {
    if (reply.type !== 'batch') return
    const batch = this.#inBatch.get(reply.id) ?? []
    this.#inBatch.delete(reply.id)
    if (reply.error) {
      const err = new WriterError(reply.error)
      for (const q of batch) q.reject(err)
    } else {
      this.commits++
      batch.forEach((q, i) => {
        const r = reply.results[i]
        if (r !== null && typeof r === 'object') q.reject(new WriterError(r))
        else q.resolve(r ?? null)
      })
    }
    this.#send()
    this.#settleIdle()
  }

  /** Resolves once no job is queued or committing. */
  drained(): Promise<void> {
    if (this.#dead || (this.#queue.length === 0 && this.#inBatch.size === 0)) return Promise.resolve()
    return new Promise(resolve => this.#idle.push(resolve))
  }

  #settleIdle(): void {
    if (!this.#dead && (this.#queue.length > 0 || this.#inBatch.size > 0)) return
    for (const resolve of this.#idle.splice(0)) resolve()
  }

  async stop(): Promise<void> {
    if (this.#dead) return
    const exited = new Promise(resolve => this.worker.once('exit', resolve))
    this.worker.postMessage({ type: 'close' } satisfies WriterRequest)
    await exited
  }
}

/**
 * Fixed buffers in one SharedArrayBuffer, seen by both threads: a large body is copied into a
 * free slot, the writer binds the slot as the chunk row's BLOB, and the slot is free again once
 * that batch committed. No chunk is copied between threads or left for the garbage collector.
 */
class ChunkSlots {
  readonly memory: SharedArrayBuffer
  #free: number[]
  #waiting: Array<(slot: number) => void> = []

  constructor(
    readonly count: number,
    readonly bytes: number,
  ) {
    this.memory = new SharedArrayBuffer(count * bytes)
    this.#free = Array.from({ length: count }, (_, i) => i)
  }

  view(slot: number): Buffer {
    return Buffer.from(this.memory, slot * this.bytes, this.bytes)
  }

  acquire(): Promise<number> {
    const slot = this.#free.pop()
    return slot !== undefined ? Promise.resolve(slot) : new Promise(resolve => this.#waiting.push(resolve))
  }

  release(slot: number): void {
    const next = this.#waiting.shift()
    if (next) next(slot)
    else this.#free.push(slot)
  }
}

interface MessageRow {
  seq: number
  id: string
  namespace: string | null
  received_at: number
  stored_at: number
  sender: Buffer
  recipients: Buffer
  connection: string
  metadata: string
  size: number
  delivered_size: number
  delivered_same: number
  verdict_code: 'K' | 'Z' | 'D'
  verdict_text: string
  transcript: string
  faults: string
}

/**
 * The embedded default store: one SQLite database in WAL mode with `synchronous = FULL`.
 * `deliver` answers K only after the transaction holding the whole message has committed.
 */
export class SqliteBackend implements Backend, Inspectable {
  readonly name: string
  /** A connection of this thread, for queries; writes go through the writer thread. */
  readonly db: Database.Database
  /** What the writer's connection reports: journal mode `wal`, synchronous 2 (FULL). */
  readonly settings: { journalMode: string; synchronous: number }
  readonly #options: Required<SqliteBackendOptions>
  readonly #committer: GroupCommitter
  readonly #slots: ChunkSlots
  readonly #inFlight = new Set<Promise<Verdict>>()
  #nextSeq: number
  #closed = false
  readonly #stmt: {
    readChunk: Database.Statement
    byId: Database.Statement
  }

  private constructor(
    path: string,
    db: Database.Database,
    committer: GroupCommitter,
    ready: { nextSeq: number; journalMode: string; synchronous: number },
    slots: ChunkSlots,
    options: Required<SqliteBackendOptions>,
  ) {
    this.name = `sqlite:${path}`
    this.db = db
    this.#options = options
    this.#committer = committer
    this.#slots = slots
    this.settings = { journalMode: ready.journalMode, synchronous: ready.synchronous }
    // Messages are numbered here rather than by SQLite so that the chunks of a large body can be
    // written before the message row that makes them part of a message.
    this.#nextSeq = ready.nextSeq
    this.#stmt = {
      readChunk: db.prepare('SELECT data FROM bodies WHERE seq = ? AND part = ? AND chunk = ?').pluck(),
      byId: db.prepare('SELECT * FROM messages WHERE id = ? ORDER BY seq DESC LIMIT 1'),
    }
  }

  /** How many transactions this backend has committed: fewer than the messages when commits are shared. */
  get commits(): number {
    return this.#committer.commits
  }

  /** Opens (creating if needed) the database at `path`; its directory must exist. */
  static async open(path: string, options: SqliteBackendOptions = {}): Promise<SqliteBackend> {
    let started: Awaited<ReturnType<typeof GroupCommitter.start>> | undefined
    try {
      const full = { ...defaults, ...options }
      const slots = new ChunkSlots(full.chunksInFlight, full.chunkBytes)
      started = await GroupCommitter.start(path, slots)
      const db = new Database(path)
      db.pragma('busy_timeout = 5000')
      db.function('qmqpkit_has_recipient', { deterministic: true }, (list: unknown, address: unknown) =>
        decodeAddressList(list as Buffer).some(a => a.equals(address as Buffer)) ? 1 : 0,
      )
      return new SqliteBackend(path, db, started.committer, started.ready, slots, full)
    } catch (err) {
      await started?.committer.stop()
      throw new BackendOpenError(`sqlite:${path}`, err instanceof Error ? err.message : String(err), {
        cause: err,
      })
    }
  }

  deliver(msg: InjectedMessage): Promise<Verdict> {
    if (this.#closed) return Promise.resolve({ code: 'Z', text: 'qq temporary problem (#4.3.0)' })
    const p = this.#deliver(msg)
    this.#inFlight.add(p)
    void p.finally(() => this.#inFlight.delete(p))
    return p
  }

  async #deliver(msg: InjectedMessage): Promise<Verdict> {
    const seq = this.#nextSeq++
    const same = msg.delivered === msg.received
    const parts: Array<[number, MessageBody]> = same
      ? [[0, msg.received]]
      : [
          [0, msg.received],
          [1, msg.delivered],
        ]
    const total = parts.reduce((n, [, body]) => n + body.size, 0)
    let staged = false
    try {
      const chunks: PackedChunk[] = []
      if (total <= this.#options.inlineBytes) {
        for (const [part, body] of parts) {
          const data = bodyBytes(body) ?? (await body.read())
          if (data.length !== body.size) throw new Error(`body has ${data.length} bytes, not ${body.size}`)
          for (let i = 0, n = 0; i < data.length; i += this.#options.chunkBytes, n++)
            chunks.push([part, n, data.subarray(i, i + this.#options.chunkBytes)])
        }
      } else {
        staged = true
        for (const [part, body] of parts) await this.#stageBody(seq, part, body)
      }
      const verdict: Verdict = { code: 'K', text: acceptedText(msg) }
      await this.#committer.submitMessage(this.#row(seq, msg, same, verdict), chunks)
      return verdict
    } catch (err) {
      if (staged) this.#committer.submit({ kind: 'drop', seq }).catch(() => {})
      return { code: 'Z', text: failureText(err) }
    }
  }

  /** Streams one body into chunk rows through the shared slots, a few chunks ahead of the commits at most. */
  async #stageBody(seq: number, part: number, body: MessageBody): Promise<void> {
    const slots = this.#slots
    const waiting: Array<Promise<unknown>> = []
    let failure = null as { err: unknown } | null
    let chunk = 0
    let bytes = 0
    let slot: number | null = null
    let filled = 0
    const flush = () => {
      const used = slot!
      const submitted = this.#committer.submit({
        kind: 'slot-chunk',
        seq,
        part,
        chunk: chunk++,
        slot: used,
        length: filled,
      })
      waiting.push(
        submitted.then(
          () => slots.release(used),
          err => {
            slots.release(used)
            failure ??= { err }
          },
        ),
      )
      slot = null
      filled = 0
    }
    try {
      // Read straight into the shared slots: no buffer is allocated for the body's bytes.
      while (bytes < body.size) {
        if (failure) throw failure.err
        slot = await slots.acquire()
        const view = slots.view(slot)
        filled = await readBodyInto(body, view.subarray(0, Math.min(view.length, body.size - bytes)), bytes)
        if (filled === 0) break
        bytes += filled
        flush()
      }
      if (bytes !== body.size) throw new Error(`body has ${bytes} bytes, not ${body.size}`)
    } finally {
      if (slot !== null) slots.release(slot)
      await Promise.all(waiting)
    }
    if (failure) throw failure.err
  }

  /** The messages row, in `messageColumns` order. */
  #row(seq: number, msg: InjectedMessage, same: boolean, verdict: Verdict): PackedValue[] {
    const m = msg.metadata
    return [
      seq,
      msg.id,
      msg.namespace,
      msg.receivedAt,
      msg.sender,
      msg.recipients.length,
      msg.recipients,
      msg.connection.remoteIp,
      msg.connection.ruleKey,
      connectionToJson(msg.connection),
      m.mailClass,
      m.virtualMta,
      m.sendId,
      m.listId,
      m.instanceId,
      JSON.stringify(m),
      msg.received.size,
      msg.delivered.size,
      same ? 1 : 0,
      verdict.code,
      verdict.text,
      JSON.stringify(msg.transcript),
      JSON.stringify(msg.faults),
    ]
  }

  #where(filter: MessageFilter): { sql: string; params: unknown[] } {
    const clauses: string[] = []
    const params: unknown[] = []
    const add = (sql: string, value: unknown) => {
      clauses.push(sql)
      params.push(value)
    }
    if (filter.namespace !== undefined) add('namespace IS ?', filter.namespace)
    if (filter.sender !== undefined) add('sender = ?', filterBytes(filter.sender))
    if (filter.recipient !== undefined)
      add('qmqpkit_has_recipient(recipients, ?)', filterBytes(filter.recipient))
    if (filter.mailClass !== undefined) add('mail_class = ?', filter.mailClass)
    if (filter.virtualMta !== undefined) add('virtual_mta = ?', filter.virtualMta)
    if (filter.sendId !== undefined) add('send_id = ?', filter.sendId)
    if (filter.listId !== undefined) add('list_id = ?', filter.listId)
    if (filter.ruleKey !== undefined) add('rule_key = ?', filter.ruleKey)
    if (filter.since !== undefined) add('received_at >= ?', filter.since)
    if (filter.until !== undefined) add('received_at < ?', filter.until)
    return { sql: clauses.length ? `WHERE ${clauses.join(' AND ')}` : '', params }
  }

  #fromRow(row: MessageRow): StoredMessage {
    return {
      seq: row.seq,
      id: row.id,
      namespace: row.namespace,
      receivedAt: row.received_at,
      storedAt: row.stored_at,
      sender: row.sender,
      recipients: decodeAddressList(row.recipients),
      connection: connectionFromJson(row.connection),
      metadata: JSON.parse(row.metadata) as GreenArrowMetadata,
      size: row.size,
      deliveredSize: row.delivered_size,
      verdict: { code: row.verdict_code, text: row.verdict_text },
      transcript: JSON.parse(row.transcript) as RequestTranscript,
      faults: JSON.parse(row.faults) as string[],
    }
  }

  async list(options: ListOptions = {}): Promise<MessagePage> {
    const limit = listLimit(options.limit)
    const desc = options.order === 'desc'
    const { sql, params } = this.#where(options)
    const cursor = options.cursor === undefined ? '' : `${sql ? ' AND' : 'WHERE'} seq ${desc ? '<' : '>'} ?`
    if (options.cursor !== undefined) params.push(options.cursor)
    const rows = this.db
      .prepare(`SELECT * FROM messages ${sql}${cursor} ORDER BY seq ${desc ? 'DESC' : 'ASC'} LIMIT ?`)
      .all(...params, limit + 1) as MessageRow[]
    const more = rows.length > limit
    const messages = rows.slice(0, limit).map(row => this.#fromRow(row))
    return { messages, nextCursor: more ? messages[messages.length - 1]!.seq : null }
  }

  async get(id: string): Promise<StoredMessage | undefined> {
    const row = this.#stmt.byId.get(id) as MessageRow | undefined
    return row && this.#fromRow(row)
  }

  async count(filter: MessageFilter = {}): Promise<number> {
    const { sql, params } = this.#where(filter)
    return (
      (this.db
        .prepare(`SELECT count(*) FROM messages ${sql}`)
        .pluck()
        .get(...params) as number) ?? 0
    )
  }

  async openBody(id: string, part: BodyPart): Promise<Readable | undefined> {
    const row = this.#stmt.byId.get(id) as MessageRow | undefined
    if (!row) return undefined
    const stored = part === 'delivered' && row.delivered_same ? 0 : partNumber[part]
    const readChunk = this.#stmt.readChunk
    // One row per read: the connection stays free for writers between chunks.
    return Readable.from(
      (function* () {
        for (let n = 0; ; n++) {
          const data = readChunk.get(row.seq, stored, n) as Buffer | undefined
          if (data === undefined) return
          yield data
        }
      })(),
    )
  }

  async remove(filter: MessageFilter = {}): Promise<number> {
    const { sql, params } = this.#where(filter)
    return (await this.#committer.submit({ kind: 'remove', where: sql, params: params as never })) ?? 0
  }

  /** Waits for deliveries in progress, then closes the database. */
  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    await Promise.allSettled([...this.#inFlight])
    await this.#committer.drained()
    await this.#committer.stop()
    this.db.close()
  }
}

/** `sqlite:PATH` */
export const sqliteBackendFactory: BackendFactory = {
  scheme: 'sqlite',
  description: 'sqlite:PATH  store messages in a SQLite database (WAL, synchronous FULL); queryable',
  async create(spec: string, _context: BackendContext): Promise<Backend> {
    const path = spec.slice('sqlite:'.length)
    if (path === '') throw new BackendSpecError(spec, 'no database path')
    return SqliteBackend.open(path)
  },
}

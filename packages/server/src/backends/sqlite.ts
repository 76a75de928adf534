import { Readable } from 'node:stream'
import Database from 'better-sqlite3'
import type { MessageBody, RequestTranscript, Verdict } from '@qmqpkit/qmqp'
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

export interface SqliteBackendOptions {
  /** Bodies are stored in rows of this many bytes (the last row of a body may be shorter). */
  chunkBytes?: number
  /**
   * Messages whose bodies together fit in this many bytes are read whole and written in one
   * transaction; larger ones are streamed into the store a chunk at a time first.
   */
  inlineBytes?: number
  /** How many chunk rows of one large message may wait for a commit at once. */
  chunksInFlight?: number
}

const defaults: Required<SqliteBackendOptions> = {
  chunkBytes: 256 * 1024,
  inlineBytes: 1024 * 1024,
  chunksInFlight: 4,
}

/** The schema's version, kept in `PRAGMA user_version`; a database of another version is refused. */
export const sqliteSchemaVersion = 1

const schema = `
CREATE TABLE IF NOT EXISTS messages (
  seq INTEGER PRIMARY KEY,
  id TEXT NOT NULL,
  namespace TEXT,
  received_at INTEGER NOT NULL,
  stored_at INTEGER NOT NULL,
  sender BLOB NOT NULL,
  recipient_count INTEGER NOT NULL,
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
CREATE TABLE IF NOT EXISTS recipients (
  seq INTEGER NOT NULL,
  position INTEGER NOT NULL,
  address BLOB NOT NULL,
  PRIMARY KEY (seq, position)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS recipients_address ON recipients (address);
CREATE TABLE IF NOT EXISTS bodies (
  seq INTEGER NOT NULL,
  part INTEGER NOT NULL,
  chunk INTEGER NOT NULL,
  data BLOB NOT NULL,
  PRIMARY KEY (seq, part, chunk)
);
`

/** Body parts as stored: 0 is the message as received, 1 as delivered (absent when the same bytes). */
const partNumber: Record<BodyPart, number> = { received: 0, delivered: 1 }

interface Job {
  run(): void
  resolve(): void
  reject(err: unknown): void
}

/**
 * Runs write jobs in shared transactions: every job submitted during one turn of the event loop
 * goes into the same BEGIN … COMMIT, each inside its own savepoint so a failing job is rolled back
 * alone. A job's promise settles only after the COMMIT returned, that is (with synchronous FULL)
 * after the WAL was fsynced. One fsync then serves every message that arrived meanwhile.
 */
class GroupCommitter {
  #queue: Job[] = []
  #scheduled = false
  #idle: Array<() => void> = []
  /** Transactions committed so far. */
  commits = 0

  constructor(readonly db: Database.Database) {}

  submit(run: () => void): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#queue.push({ run, resolve, reject })
      if (!this.#scheduled) {
        this.#scheduled = true
        setImmediate(() => this.#flush())
      }
    })
  }

  /** Resolves once no job is waiting. */
  drained(): Promise<void> {
    return this.#scheduled ? new Promise(resolve => this.#idle.push(resolve)) : Promise.resolve()
  }

  #flush(): void {
    const jobs = this.#queue
    this.#queue = []
    this.#scheduled = false
    const failed = new Map<Job, unknown>()
    try {
      this.db.exec('BEGIN IMMEDIATE')
      for (const job of jobs) {
        this.db.exec('SAVEPOINT job')
        try {
          job.run()
          this.db.exec('RELEASE job')
        } catch (err) {
          this.db.exec('ROLLBACK TO job')
          this.db.exec('RELEASE job')
          failed.set(job, err)
        }
      }
      this.db.exec('COMMIT')
      this.commits++
    } catch (err) {
      // The commit (or BEGIN) failed: nothing of this batch is stored.
      if (this.db.inTransaction) {
        try {
          this.db.exec('ROLLBACK')
        } catch {
          // A failed ROLLBACK leaves SQLite to roll back on the next open.
        }
      }
      for (const job of jobs) job.reject(err)
      this.#settleIdle()
      return
    }
    for (const job of jobs) {
      if (failed.has(job)) job.reject(failed.get(job))
      else job.resolve()
    }
    this.#settleIdle()
  }

  #settleIdle(): void {
    if (this.#scheduled) return
    for (const resolve of this.#idle.splice(0)) resolve()
  }
}

/** Cuts a stream into pieces of exactly `size` bytes (the last one shorter), copying as little as it can. */
async function* rechunk(source: AsyncIterable<Buffer>, size: number): AsyncGenerator<Buffer> {
  let pending: Buffer[] = []
  let pendingBytes = 0
  for await (const piece of source) {
    let rest = piece
    while (pendingBytes + rest.length >= size) {
      const take = size - pendingBytes
      pending.push(rest.subarray(0, take))
      yield pending.length === 1 ? Buffer.from(pending[0]!) : Buffer.concat(pending, size)
      rest = rest.subarray(take)
      pending = []
      pendingBytes = 0
    }
    if (rest.length > 0) {
      pending.push(rest)
      pendingBytes += rest.length
    }
  }
  if (pendingBytes > 0) yield Buffer.concat(pending, pendingBytes)
}

interface MessageRow {
  seq: number
  id: string
  namespace: string | null
  received_at: number
  stored_at: number
  sender: Buffer
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
  readonly db: Database.Database
  readonly #options: Required<SqliteBackendOptions>
  readonly #committer: GroupCommitter
  readonly #inFlight = new Set<Promise<Verdict>>()
  #nextSeq: number
  #closed = false
  readonly #stmt: {
    message: Database.Statement
    recipient: Database.Statement
    chunk: Database.Statement
    dropChunks: Database.Statement
    readChunk: Database.Statement
    recipientsOf: Database.Statement
    byId: Database.Statement
  }

  private constructor(path: string, db: Database.Database, options: SqliteBackendOptions) {
    this.name = `sqlite:${path}`
    this.db = db
    this.#options = { ...defaults, ...options }
    this.#committer = new GroupCommitter(db)
    // Messages are numbered here rather than by SQLite so that the chunks of a large body can be
    // written before the message row that makes them part of a message.
    const max = db
      .prepare(
        'SELECT max(coalesce((SELECT max(seq) FROM messages), 0), coalesce((SELECT max(seq) FROM bodies), 0)) AS m',
      )
      .get() as { m: number }
    this.#nextSeq = max.m + 1
    this.#stmt = {
      message: db.prepare(
        `INSERT INTO messages (seq, id, namespace, received_at, stored_at, sender, recipient_count, remote_ip, rule_key,
           connection, mail_class, virtual_mta, send_id, list_id, instance_id, metadata, size, delivered_size,
           delivered_same, verdict_code, verdict_text, transcript, faults)
         VALUES (@seq, @id, @namespace, @receivedAt, @storedAt, @sender, @recipientCount, @remoteIp, @ruleKey,
           @connection, @mailClass, @virtualMta, @sendId, @listId, @instanceId, @metadata, @size, @deliveredSize,
           @deliveredSame, @verdictCode, @verdictText, @transcript, @faults)`,
      ),
      recipient: db.prepare('INSERT INTO recipients (seq, position, address) VALUES (?, ?, ?)'),
      chunk: db.prepare('INSERT INTO bodies (seq, part, chunk, data) VALUES (?, ?, ?, ?)'),
      dropChunks: db.prepare('DELETE FROM bodies WHERE seq = ?'),
      readChunk: db.prepare('SELECT data FROM bodies WHERE seq = ? AND part = ? AND chunk = ?').pluck(),
      recipientsOf: db.prepare('SELECT address FROM recipients WHERE seq = ? ORDER BY position').pluck(),
      byId: db.prepare('SELECT * FROM messages WHERE id = ? ORDER BY seq DESC LIMIT 1'),
    }
  }

  /** How many transactions this backend has committed: fewer than the messages when commits are shared. */
  get commits(): number {
    return this.#committer.commits
  }

  /** Opens (creating if needed) the database at `path`; its directory must exist. */
  static async open(path: string, options: SqliteBackendOptions = {}): Promise<SqliteBackend> {
    let db: Database.Database | undefined
    try {
      db = new Database(path)
      const mode = db.pragma('journal_mode = WAL', { simple: true })
      if (mode !== 'wal') throw new Error(`journal mode ${String(mode)}, not wal`)
      // FULL: with NORMAL a committed transaction can vanish on power loss, and K promised it would not.
      db.pragma('synchronous = FULL')
      db.pragma('busy_timeout = 5000')
      const version = db.pragma('user_version', { simple: true }) as number
      if (version !== 0 && version !== sqliteSchemaVersion)
        throw new Error(`schema version ${version}, this qmqpd knows ${sqliteSchemaVersion}`)
      db.exec(schema)
      db.pragma(`user_version = ${sqliteSchemaVersion}`)
      // Chunks of a large message whose row was never committed (a crash or failure mid-delivery).
      db.exec('DELETE FROM bodies WHERE seq NOT IN (SELECT seq FROM messages)')
      return new SqliteBackend(path, db, options)
    } catch (err) {
      db?.close()
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
      const rows: Array<[number, number, Buffer]> = []
      if (total <= this.#options.inlineBytes) {
        for (const [part, body] of parts) {
          const data = await body.read()
          if (data.length !== body.size) throw new Error(`body has ${data.length} bytes, not ${body.size}`)
          for (let i = 0, n = 0; i < data.length; i += this.#options.chunkBytes, n++)
            rows.push([part, n, data.subarray(i, i + this.#options.chunkBytes)])
        }
      } else {
        staged = true
        for (const [part, body] of parts) await this.#stageBody(seq, part, body)
      }
      const verdict: Verdict = { code: 'K', text: acceptedText(msg) }
      await this.#committer.submit(() => {
        for (const [part, n, data] of rows) this.#stmt.chunk.run(seq, part, n, data)
        this.#insertMessage(seq, msg, same, verdict)
      })
      return verdict
    } catch (err) {
      if (staged) this.#committer.submit(() => this.#stmt.dropChunks.run(seq)).catch(() => {})
      return { code: 'Z', text: failureText(err) }
    }
  }

  /** Streams one body into chunk rows, a few chunks ahead of the commits at most. */
  async #stageBody(seq: number, part: number, body: MessageBody): Promise<void> {
    const waiting: Array<Promise<void>> = []
    let n = 0
    let bytes = 0
    try {
      for await (const data of rechunk(body.stream(), this.#options.chunkBytes)) {
        const chunk = n++
        bytes += data.length
        waiting.push(this.#committer.submit(() => this.#stmt.chunk.run(seq, part, chunk, data)))
        if (waiting.length >= this.#options.chunksInFlight) await waiting.shift()
      }
      if (bytes !== body.size) throw new Error(`body has ${bytes} bytes, not ${body.size}`)
    } finally {
      // Settle every submitted write before deciding; the first failure is thrown by this await.
      const results = await Promise.allSettled(waiting)
      const failure = results.find(r => r.status === 'rejected')
      // eslint-disable-next-line no-unsafe-finally
      if (failure) throw failure.reason
    }
  }

  #insertMessage(seq: number, msg: InjectedMessage, same: boolean, verdict: Verdict): void {
    const m = msg.metadata
    this.#stmt.message.run({
      seq,
      id: msg.id,
      namespace: msg.namespace,
      receivedAt: msg.receivedAt,
      storedAt: Date.now(),
      sender: msg.sender,
      recipientCount: msg.recipients.length,
      remoteIp: msg.connection.remoteIp,
      ruleKey: msg.connection.ruleKey,
      connection: connectionToJson(msg.connection),
      mailClass: m.mailClass,
      virtualMta: m.virtualMta,
      sendId: m.sendId,
      listId: m.listId,
      instanceId: m.instanceId,
      metadata: JSON.stringify(m),
      size: msg.received.size,
      deliveredSize: msg.delivered.size,
      deliveredSame: same ? 1 : 0,
      verdictCode: verdict.code,
      verdictText: verdict.text,
      transcript: JSON.stringify(msg.transcript),
      faults: JSON.stringify(msg.faults),
    })
    msg.recipients.forEach((address, position) => this.#stmt.recipient.run(seq, position, address))
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
      add('seq IN (SELECT seq FROM recipients WHERE address = ?)', filterBytes(filter.recipient))
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
      recipients: this.#stmt.recipientsOf.all(row.seq) as Buffer[],
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
    let removed = 0
    await this.#committer.submit(() => {
      const seqs = this.db
        .prepare(`SELECT seq FROM messages ${sql}`)
        .pluck()
        .all(...params) as number[]
      const drop = [
        this.db.prepare('DELETE FROM bodies WHERE seq = ?'),
        this.db.prepare('DELETE FROM recipients WHERE seq = ?'),
        this.db.prepare('DELETE FROM messages WHERE seq = ?'),
      ]
      for (const seq of seqs) for (const stmt of drop) stmt.run(seq)
      removed = seqs.length
    })
    return removed
  }

  /** Waits for deliveries in progress, then closes the database. */
  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    await Promise.allSettled([...this.#inFlight])
    await this.#committer.drained()
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

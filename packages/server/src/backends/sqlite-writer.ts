// The sqlite backend's writer: a worker thread that owns the only writing connection, so that
// COMMIT's fsync never blocks the event loop that reads the sockets. Each batch it is handed
// runs in one transaction (one fsync for every message in it); while it commits, the next batch
// gathers in the main thread.
import { parentPort, workerData } from 'node:worker_threads'
import Database from 'better-sqlite3'

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
  const parts: Buffer[] = []
  for (const a of addresses)
    parts.push(
      Buffer.from(`${a.length}:`),
      Buffer.from(a.buffer, a.byteOffset, a.byteLength),
      Buffer.from(','),
    )
  return Buffer.concat(parts)
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

/** A messages row, named as the INSERT's parameters. */
export type MessageRowInput = Record<string, string | number | null | Uint8Array>

export type WriteJob =
  | { kind: 'slot-chunk'; seq: number; part: number; chunk: number; slot: number; length: number }
  | {
      kind: 'message'
      row: MessageRowInput
      chunks: Array<[part: number, chunk: number, data: Uint8Array]>
    }
  | { kind: 'drop'; seq: number }
  | { kind: 'remove'; where: string; params: Array<string | number | null | Uint8Array> }

/** Main thread to writer. */
export type WriterRequest = { type: 'batch'; id: number; jobs: WriteJob[] } | { type: 'close' }

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
    `INSERT INTO messages (seq, id, namespace, received_at, stored_at, sender, recipient_count, recipients, remote_ip, rule_key,
       connection, mail_class, virtual_mta, send_id, list_id, instance_id, metadata, size, delivered_size,
       delivered_same, verdict_code, verdict_text, transcript, faults)
     VALUES (@seq, @id, @namespace, @receivedAt, @storedAt, @sender, @recipientCount, @recipients, @remoteIp, @ruleKey,
       @connection, @mailClass, @virtualMta, @sendId, @listId, @instanceId, @metadata, @size, @deliveredSize,
       @deliveredSame, @verdictCode, @verdictText, @transcript, @faults)`,
  )
  const insertChunk = db.prepare('INSERT INTO bodies (seq, part, chunk, data) VALUES (?, ?, ?, ?)')
  const drops = ['bodies', 'messages'].map(t => db.prepare(`DELETE FROM ${t} WHERE seq = ?`))
  const max = db
    .prepare(
      'SELECT max(coalesce((SELECT max(seq) FROM messages), 0), coalesce((SELECT max(seq) FROM bodies), 0))',
    )
    .pluck()
    .get() as number

  const run = (job: WriteJob): number | null => {
    switch (job.kind) {
      case 'slot-chunk':
        // SQLite copies the bound BLOB, so the slot is free for reuse once this returns.
        insertChunk.run(job.seq, job.part, job.chunk, Buffer.from(slots, job.slot * slotBytes, job.length))
        return null
      case 'message': {
        const seq = job.row.seq as number
        for (const [part, n, data] of job.chunks) insertChunk.run(seq, part, n, asBuffer(data))
        const row: MessageRowInput = { ...job.row, storedAt: Date.now() }
        row.sender = asBuffer(row.sender as Uint8Array)
        row.recipients = asBuffer(row.recipients as Uint8Array)
        insertMessage.run(row)
        return null
      }
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

  port.on('message', (request: WriterRequest) => {
    if (request.type === 'close') {
      db.close()
      port.close()
      return
    }
    const results: Array<WriterFailure | number | null> = []
    try {
      db.exec('BEGIN IMMEDIATE')
      for (const job of request.jobs) {
        // A savepoint per job: one that fails is undone alone, the others still commit.
        db.exec('SAVEPOINT job')
        try {
          results.push(run(job))
          db.exec('RELEASE job')
        } catch (err) {
          db.exec('ROLLBACK TO job')
          db.exec('RELEASE job')
          results.push(failure(err))
        }
      }
      db.exec('COMMIT')
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

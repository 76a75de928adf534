import { matchesQuery, type MessageQuery, type MessageRecord } from '../query.js'

/** Limits on what is kept; the oldest messages go first. Null or absent: no limit. */
export interface RetentionLimits {
  maxMessages?: number | null
  maxAgeMs?: number | null
  /** Sum of the message sizes as received. */
  maxBytes?: number | null
}

export interface CatalogPage {
  records: MessageRecord[]
  /** Pass back as `cursor` for the next page; null when this page was the last. */
  nextCursor: number | null
}

export interface WaitResult {
  records: MessageRecord[]
  /** The seq of the last record returned (or the `after` given): wait again from here. */
  cursor: number
  timedOut: boolean
}

interface Waiter {
  query: MessageQuery
  after: number
  count: number
  found: MessageRecord[]
  done(timedOut: boolean): void
}

/**
 * The index of messages qmqpd has answered, in the order they were committed. It is what lists,
 * waits and resets work on: a message is added before its reply is sent, so a client that got
 * its answer always finds the message here, and a waiter is woken in the same turn it is added.
 */
export class MessageCatalog {
  #records: MessageRecord[] = []
  readonly #byId = new Map<string, MessageRecord>()
  readonly #waiters = new Set<Waiter>()
  #seq = 0
  #bytes = 0
  readonly #retention: RetentionLimits
  readonly #onEvict: (records: MessageRecord[]) => void

  constructor(retention: RetentionLimits = {}, onEvict: (records: MessageRecord[]) => void = () => {}) {
    this.#retention = retention
    this.#onEvict = onEvict
  }

  /** The seq of the latest record: a cursor after which only new messages come. */
  get cursor(): number {
    return this.#seq
  }

  get size(): number {
    return this.#records.length
  }

  get bytes(): number {
    return this.#bytes
  }

  /** Numbers the record, keeps it, wakes the waiters it completes, then applies the retention limits. */
  add(record: MessageRecord): MessageRecord {
    record.seq = ++this.#seq
    this.#records.push(record)
    this.#byId.set(record.id, record)
    this.#bytes += record.size
    for (const w of [...this.#waiters]) {
      if (record.seq <= w.after || !matchesQuery(record, w.query)) continue
      w.found.push(record)
      if (w.found.length >= w.count) w.done(false)
    }
    this.enforceRetention()
    return record
  }

  get(id: string): MessageRecord | undefined {
    return this.#byId.get(id)
  }

  /** Matching records after (ascending) or before (descending) `cursor`, at most `limit`. */
  list(
    query: MessageQuery,
    options: { cursor?: number; limit?: number; order?: 'asc' | 'desc' } = {},
  ): CatalogPage {
    this.enforceRetention()
    const limit = Math.max(1, Math.min(1000, Math.floor(options.limit ?? 100)))
    const desc = options.order === 'desc'
    const records: MessageRecord[] = []
    const n = this.#records.length
    for (let k = 0; k < n; k++) {
      const r = this.#records[desc ? n - 1 - k : k]!
      if (options.cursor !== undefined && (desc ? r.seq >= options.cursor : r.seq <= options.cursor)) continue
      if (!matchesQuery(r, query)) continue
      if (records.length === limit) return { records, nextCursor: records[records.length - 1]!.seq }
      records.push(r)
    }
    return { records, nextCursor: null }
  }

  count(query: MessageQuery): number {
    return this.#records.reduce((n, r) => n + (matchesQuery(r, query) ? 1 : 0), 0)
  }

  /**
   * Resolves once `count` records matching `query` exist after `after` (0: every stored record
   * counts, so "send, then wait" never races), or at the timeout with what was found.
   */
  wait(
    query: MessageQuery,
    options: { after?: number; count?: number; timeoutMs: number; signal?: AbortSignal },
  ): Promise<WaitResult> {
    const after = options.after ?? 0
    const count = Math.max(1, Math.floor(options.count ?? 1))
    const found = this.#records.filter(r => r.seq > after && matchesQuery(r, query))
    const result = (records: MessageRecord[], timedOut: boolean): WaitResult => {
      const some = records.slice(0, count)
      return { records: some, cursor: some.length ? some[some.length - 1]!.seq : after, timedOut }
    }
    if (found.length >= count) return Promise.resolve(result(found, false))
    return new Promise(resolve => {
      let finished = false
      const waiter: Waiter = {
        query,
        after,
        count,
        found,
        done: timedOut => {
          if (finished) return
          finished = true
          clearTimeout(timer)
          options.signal?.removeEventListener('abort', onAbort)
          this.#waiters.delete(waiter)
          resolve(result(waiter.found, timedOut))
        },
      }
      const onAbort = () => waiter.done(true)
      this.#waiters.add(waiter)
      const timer = setTimeout(() => waiter.done(true), Math.max(0, options.timeoutMs))
      options.signal?.addEventListener('abort', onAbort)
      if (options.signal?.aborted) waiter.done(true)
    })
  }

  /** Ends every pending wait now, as timed out (shutting down). */
  cancelWaits(): void {
    for (const w of [...this.#waiters]) w.done(true)
  }

  /** How many waits are pending. */
  get waiting(): number {
    return this.#waiters.size
  }

  /** Removes the matching records at once; the cursor it returns is fresh (nothing after it yet). */
  remove(query: MessageQuery): { removed: MessageRecord[]; cursor: number } {
    const removed: MessageRecord[] = []
    this.#records = this.#records.filter(r => {
      if (!matchesQuery(r, query)) return true
      removed.push(r)
      return false
    })
    this.#forget(removed)
    return { removed, cursor: this.#seq }
  }

  #forget(removed: MessageRecord[]): void {
    if (removed.length === 0) return
    const gone = new Set(removed)
    for (const r of removed) {
      this.#bytes -= r.size
      if (this.#byId.get(r.id) === r) this.#byId.delete(r.id)
    }
    for (const w of this.#waiters) w.found = w.found.filter(r => !gone.has(r))
  }

  /** Drops the oldest records while a retention limit is exceeded. */
  enforceRetention(now = Date.now()): MessageRecord[] {
    const { maxMessages, maxAgeMs, maxBytes } = this.#retention
    let drop = 0
    const n = this.#records.length
    let bytes = this.#bytes
    while (drop < n) {
      const r = this.#records[drop]!
      const over =
        (maxMessages != null && n - drop > maxMessages) ||
        (maxBytes != null && bytes > maxBytes) ||
        (maxAgeMs != null && r.receivedAt < now - maxAgeMs)
      if (!over) break
      bytes -= r.size
      drop++
    }
    if (drop === 0) return []
    const evicted = this.#records.splice(0, drop)
    this.#forget(evicted)
    this.#onEvict(evicted)
    return evicted
  }
}

import type { Readable } from 'node:stream'
import type { ReplyPlan, ServerEvent, Verdict } from '@qmqpkit/qmqp'
import type { Backend } from '../backend.js'
import {
  isInspectable,
  type BodyPart,
  type Inspectable,
  type StoredMessage,
} from '../backends/inspectable.js'
import { EventHub } from '../events.js'
import { faultPlan } from '../faults/plan.js'
import { FaultBook, type FaultRule } from '../faults/rules.js'
import { noMetadata, type ConnectionInfo, type InjectedMessage } from '../injected-message.js'
import { Metrics } from '../metrics.js'
import {
  decodeWords,
  parseHeaders,
  readHeaderBlock,
  recordOf,
  verdictWord,
  type MessageQuery,
  type MessageRecord,
} from '../query.js'
import { MessageCatalog, type RetentionLimits } from './catalog.js'
import { QueryError } from './errors.js'
import { summaryJson } from './serialize.js'

/**
 * What the daemon calls while serving, so tests can see and steer it. All optional for the
 * daemon: without hooks it delivers and replies as usual.
 */
export interface DaemonHooks {
  /** An allowed connection, before any byte is read: may slow the reading (a slow-read fault). */
  connection(info: ConnectionInfo): { readBytesPerSecond?: number }
  /**
   * One message that passed GreenArrow processing: sets its namespace, applies a fault rule,
   * calls `deliver` (the backends) unless the fault forbids it, records it, and says what the
   * server core is to answer.
   */
  request(msg: InjectedMessage, deliver: () => Promise<Verdict>): Promise<Verdict | ReplyPlan>
  /** A message GreenArrow processing refused (unknown mail class, …): recorded, not delivered. */
  refused(msg: InjectedMessage, verdict: Verdict): Promise<void>
  /** Every event of the server core (metrics, live connection events). */
  event(event: ServerEvent): void
}

/** Where a message's namespace comes from besides the rule variable QMQPD_NAMESPACE. */
export type NamespaceSource = { kind: 'recipient-tag'; separator: string } | { kind: 'header'; name: string }

/** Parses `--namespace-from`: `rule` (the default: QMQPD_NAMESPACE only), `recipient-tag[:SEP]`, `header:NAME`. */
export function parseNamespaceFrom(text: string): NamespaceSource | null {
  if (text === 'rule' || text === '') return null
  const m = /^recipient-tag(?::(.+))?$/.exec(text)
  if (m) return { kind: 'recipient-tag', separator: m[1] ?? '+' }
  const h = /^header:([!-9;-~]+)$/.exec(text)
  if (h) return { kind: 'header', name: h[1]! }
  throw new QueryError('namespace-from', 'must be rule, recipient-tag[:SEPARATOR] or header:NAME')
}

export interface InspectionOptions {
  namespaceFrom?: NamespaceSource | null
  retention?: RetentionLimits
  /** Fault rules in force from the start (a faults file). */
  faults?: unknown[]
}

/**
 * The test-server side of qmqpd: the message catalog, fault rules, events and metrics, fed by
 * the daemon through DaemonHooks and read by the inspection API, the fixture and the CLI.
 */
export class Inspection implements DaemonHooks {
  readonly catalog: MessageCatalog
  readonly faults = new FaultBook()
  readonly events = new EventHub()
  readonly metrics = new Metrics()
  readonly #namespaceFrom: NamespaceSource | null
  #backends: readonly Backend[] = []
  #listening = false
  #attached = false
  /** Slow-read rules taken when their connection opened; their other actions apply to its request. */
  readonly #connectionRules = new Map<string, FaultRule>()
  /** Connections whose request went through `request` (counted there, not from server events). */
  readonly #hooked = new Set<string>()
  readonly #requestBytes = new Map<string, number>()
  readonly #decisions = new Map<string, ConnectionInfo>()

  readonly #sweeper: NodeJS.Timeout | null

  constructor(options: InspectionOptions = {}) {
    this.#namespaceFrom = options.namespaceFrom ?? null
    this.catalog = new MessageCatalog(options.retention ?? {}, evicted => this.#evict(evicted))
    for (const rule of options.faults ?? []) this.faults.add(rule)
    // An age limit is also applied while no mail arrives and nobody asks.
    const maxAgeMs = options.retention?.maxAgeMs
    this.#sweeper =
      maxAgeMs != null
        ? setInterval(() => this.catalog.enforceRetention(), Math.max(100, Math.min(maxAgeMs, 60_000)))
        : null
    this.#sweeper?.unref()
  }

  /** The daemon's backends, once open; messages already in a queryable one are catalogued. */
  async attach(backends: readonly Backend[]): Promise<void> {
    this.#backends = backends
    const store = this.store
    if (store) {
      let cursor: number | undefined
      do {
        const page = await store.list(cursor === undefined ? { limit: 1000 } : { cursor, limit: 1000 })
        for (const m of page.messages) this.catalog.add(await this.#recordFromStore(store, m))
        cursor = page.nextCursor ?? undefined
      } while (cursor !== undefined)
    }
    this.#attached = true
  }

  /** The QMQP port is bound. */
  setListening(listening = true): void {
    this.#listening = listening
  }

  /** Shutting down: not ready any more, and pending waits end now (as timed out). */
  close(): void {
    if (this.#sweeper) clearInterval(this.#sweeper)
    this.#listening = false
    this.catalog.cancelWaits()
  }

  /** Ready: the QMQP port is bound and the backends are open. */
  get ready(): boolean {
    return this.#listening && this.#attached
  }

  /** The first backend that answers queries (bodies come from it), if any. */
  get store(): Inspectable | undefined {
    return this.#backends.find(b => isInspectable(b)) as (Backend & Inspectable) | undefined
  }

  async #recordFromStore(store: Inspectable, m: StoredMessage): Promise<MessageRecord> {
    const body = await store.openBody(m.id, 'received')
    const headers = body ? parseHeaders(await readHeaderBlock(body)) : []
    const subject = headers.find(([n]) => n.toLowerCase() === 'subject')
    return {
      seq: 0,
      id: m.id,
      namespace: m.namespace,
      receivedAt: m.receivedAt,
      storedAt: m.storedAt,
      stored: true,
      sender: m.sender.toString('utf8'),
      recipients: m.recipients.map(r => r.toString('utf8')),
      subject: subject ? decodeWords(subject[1]) : null,
      headers,
      size: m.size,
      deliveredSize: m.deliveredSize,
      verdict: m.verdict,
      connection: m.connection,
      metadata: m.metadata,
      transcript: m.transcript,
      faults: m.faults,
    }
  }

  /** A message's namespace: the rule's QMQPD_NAMESPACE, else the configured recipient tag or header. */
  namespaceOf(
    connection: ConnectionInfo,
    recipients: Buffer[],
    headers: Array<[string, string]>,
  ): string | null {
    const fromRule = connection.env.find(([name]) => name === 'QMQPD_NAMESPACE')
    if (fromRule) return fromRule[1].toString('utf8')
    const from = this.#namespaceFrom
    if (from?.kind === 'recipient-tag') {
      for (const r of recipients) {
        const local = r.toString('utf8').split('@')[0]!
        const at = local.indexOf(from.separator)
        if (at >= 0) return local.slice(at + from.separator.length)
      }
    } else if (from?.kind === 'header') {
      const name = from.name.toLowerCase()
      const h = headers.find(([n]) => n.toLowerCase() === name)
      if (h) return h[1]
    }
    return null
  }

  connection(info: ConnectionInfo): { readBytesPerSecond?: number } {
    this.#decisions.set(info.id, info)
    this.metrics.connections.inc({ decision: info.decision })
    const probe = {
      ...recordOfConnection(info),
      namespace: this.namespaceOf(info, [], []),
    }
    const rule = this.faults.take(probe, 'connection')
    if (!rule) return {}
    this.#connectionRules.set(info.id, rule)
    return { readBytesPerSecond: rule.action.slowReadBps! }
  }

  async request(msg: InjectedMessage, deliver: () => Promise<Verdict>): Promise<Verdict | ReplyPlan> {
    this.#hooked.add(msg.connection.id)
    const headers = parseHeaders(await readHeaderBlock(msg.received.stream()))
    msg.namespace = this.namespaceOf(msg.connection, msg.recipients, headers)
    const record = recordOf(msg, headers)
    const rule = this.#connectionRules.get(msg.connection.id) ?? this.faults.take(record, 'message')
    this.#connectionRules.delete(msg.connection.id)
    const plan = faultPlan(rule?.action)
    msg.faults.push(...plan.names)
    for (const name of plan.names) this.metrics.faults.inc({ kind: name.split(':')[0]! })
    let verdict: Verdict
    if (plan.deliver) {
      const started = performance.now()
      verdict = await deliver()
      this.metrics.commit.observe((performance.now() - started) / 1000)
      record.stored = verdict.code === 'K' && this.store !== undefined
      if (verdict.code === 'K') record.storedAt = Date.now()
    } else verdict = plan.preset ?? { code: 'Z', text: 'closed before the reply' }
    record.verdict = plan.seen(verdict)
    this.#record(record)
    return plan.reply(verdict)
  }

  async refused(msg: InjectedMessage, verdict: Verdict): Promise<void> {
    this.#hooked.add(msg.connection.id)
    const headers = parseHeaders(await readHeaderBlock(msg.received.stream()))
    msg.namespace = this.namespaceOf(msg.connection, msg.recipients, headers)
    const record = recordOf(msg, headers)
    record.verdict = verdict
    this.#record(record)
  }

  #record(record: MessageRecord): void {
    this.catalog.add(record)
    const word = verdictWord(record)
    this.metrics.messages.inc({ verdict: word })
    this.metrics.bytes.inc({ verdict: word }, record.size)
    if (record.connection.ruleKey !== null) this.metrics.byRule.inc({ rule: record.connection.ruleKey })
    if (record.metadata.mailClass !== null)
      this.metrics.byMailClass.inc({ mailclass: record.metadata.mailClass })
    this.events.emit({
      type: 'message',
      namespace: record.namespace,
      cursor: String(record.seq),
      message: summaryJson(record),
    })
  }

  event(e: ServerEvent): void {
    switch (e.type) {
      case 'connection-refused':
        this.metrics.connections.inc({ decision: 'deny' })
        break
      case 'request-parsed':
        this.#requestBytes.set(e.id, e.messageBytes)
        break
      case 'reply-sent':
        // Replies given before the message stage (GreenArrow refusals, limits, protocol errors).
        if (!this.#hooked.has(e.id)) {
          const word = e.verdict?.code ?? 'drop'
          this.metrics.messages.inc({ verdict: word })
          this.metrics.bytes.inc({ verdict: word }, this.#requestBytes.get(e.id) ?? 0)
        }
        break
      case 'connection-close': {
        const info = this.#decisions.get(e.id)
        this.#hooked.delete(e.id)
        this.#requestBytes.delete(e.id)
        this.#decisions.delete(e.id)
        this.#connectionRules.delete(e.id)
        this.events.emit({
          type: 'connection',
          namespace: info ? this.namespaceOf(info, [], []) : null,
          id: e.id,
          client: info?.remoteIp ?? e.facts.remoteAddress,
          decision: info?.decision ?? 'deny',
          outcome: e.outcome,
        })
        break
      }
    }
  }

  /**
   * Removes the messages (of one namespace, or all) and that namespace's fault rules; the
   * cursor returned is taken in the same turn as the catalog is emptied, so a wait after it
   * sees only messages that arrive later.
   */
  async reset(
    namespace?: string | null,
  ): Promise<{ cursor: string; removed: number; faultsRemoved: number }> {
    const store = this.store
    if (store) await store.remove(namespace === undefined ? {} : { namespace })
    const query: MessageQuery = namespace === undefined ? {} : { namespace }
    const { removed, cursor } = this.catalog.remove(query)
    const faultsRemoved = this.faults.clear(namespace)
    this.events.emit({ type: 'reset', namespace, cursor: String(cursor), removed: removed.length })
    return { cursor: String(cursor), removed: removed.length, faultsRemoved }
  }

  /** A stored body as a stream, or undefined when the message or its bodies are not kept. */
  async body(id: string, part: BodyPart): Promise<Readable | undefined> {
    const record = this.catalog.get(id)
    if (!record?.stored) return undefined
    return this.store?.openBody(id, part)
  }

  /** The delivered copy's header block, parsed (null when no body is kept). */
  async deliveredHeaders(id: string): Promise<Array<[string, string]> | null> {
    const body = await this.body(id, 'delivered')
    return body ? parseHeaders(await readHeaderBlock(body)) : null
  }

  #evict(records: MessageRecord[]): void {
    const store = this.store
    if (!store || records.length === 0) return
    // Stores remove by filter: what was received up to the newest record evicted, and before the
    // oldest kept (a message still on its way to the catalog is newer than both).
    const oldestKept = this.catalog.list({}, { limit: 1 }).records[0]
    const newestEvicted = Math.max(...records.map(r => r.receivedAt))
    const until = Math.min(newestEvicted + 1, oldestKept ? oldestKept.receivedAt : Infinity)
    void store.remove({ until }).catch(() => undefined)
  }
}

/** A record holding only what is known when a connection opens. */
function recordOfConnection(info: ConnectionInfo): MessageRecord {
  return {
    seq: 0,
    id: '',
    namespace: null,
    receivedAt: Date.now(),
    storedAt: null,
    stored: false,
    sender: '',
    recipients: [],
    subject: null,
    headers: [],
    size: 0,
    deliveredSize: 0,
    verdict: null,
    connection: info,
    metadata: noMetadata(),
    transcript: {
      outerLength: 0,
      messageLength: 0,
      senderLength: 0,
      recipientLengths: [],
      startedAt: Date.now(),
    },
    faults: [],
  }
}

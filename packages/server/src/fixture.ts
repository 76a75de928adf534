import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { Writable } from 'node:stream'
import { accessControlFor } from './access.js'
import { buildApi } from './api/app.js'
import type { RetentionLimits } from './api/catalog.js'
import { WaitTimeoutError } from './api/errors.js'
import { Inspection, parseNamespaceFrom } from './api/inspection.js'
import { detailJson, summaryJson, type MessageDetail, type MessageSummary } from './api/serialize.js'
import type { Backend } from './backend.js'
import { createBackend } from './backends/registry.js'
import { loadConfig } from './config.js'
import { Qmqpd } from './daemon.js'
import type { FaultRule } from './faults/rules.js'
import { QmqpdLog } from './log.js'
import { parseQuery } from './query.js'

/** A query as the fixture takes it: the API's parameter names, values as strings. */
export type QueryInput = Partial<
  Record<
    | 'to'
    | 'from'
    | 'subject'
    | 'mailclass'
    | 'vmta'
    | 'sendid'
    | 'listid'
    | 'client'
    | 'rule'
    | 'verdict'
    | 'since'
    | 'until',
    string
  >
> & { header?: string | string[]; namespace?: string | null }

export interface StartQmqpdOptions {
  /** Access rules in qmqp.tcp syntax (`127.0.0.5:allow,QMQPD_NAMESPACE="blue"`); default: loopback only. */
  rules?: string
  /** Backend spec(s); default `memory:`. */
  backend?: string | string[]
  /** Address to listen on (port 0 always); default 127.0.0.1. */
  host?: string
  /** `recipient-tag[:SEP]` or `header:NAME`: where a namespace comes from besides QMQPD_NAMESPACE. */
  namespaceFrom?: string
  /** Fault rules in force from the start. */
  faults?: unknown[]
  retention?: RetentionLimits
  /** Serve the HTTP API on 127.0.0.1, port 0 (default true). */
  api?: boolean
  apiToken?: string
  /** Further qmqpd flags, e.g. `['--mail-classes', 'news']`. */
  args?: string[]
}

export interface WaitOptions {
  /** How many matching messages (default 1). */
  count?: number
  /** Milliseconds (default 10,000). */
  timeoutMs?: number
  /** Only messages after this cursor (from `cursor()` or `reset()`); default: all stored count. */
  after?: string
}

export interface QmqpdFixture {
  host: string
  port: number
  /** `host:port`, for a client's server list. */
  server: string
  /** `http://127.0.0.1:PORT` of the API and web UI, or null with `api: false`. */
  apiUrl: string | null
  /** Matching messages, oldest first. */
  messages(query?: QueryInput): Promise<MessageSummary[]>
  /** One message in full. Rejects when there is none with that id. */
  message(id: string): Promise<MessageDetail>
  /** The message bytes as received (or as delivered). */
  raw(id: string, part?: 'received' | 'delivered'): Promise<Buffer>
  /** Resolves with `count` matching messages, as soon as they are committed; rejects with WaitTimeoutError. */
  waitFor(query?: QueryInput, options?: WaitOptions): Promise<MessageSummary[]>
  /** The latest cursor: wait `after` it for new messages only. */
  cursor(): string
  faults: {
    add(rule: unknown): FaultRule
    list(namespace?: string | null): FaultRule[]
    remove(id: string): boolean
    clear(namespace?: string | null): number
  }
  /** Removes all messages (or one namespace's) and the fault rules; resolves to a fresh cursor. */
  reset(namespace?: string | null): Promise<{ cursor: string; removed: number }>
  /** The inspection state itself (catalog, fault book, events, metrics). */
  inspection: Inspection
  close(): Promise<void>
}

const quiet = () =>
  new Writable({
    write(_chunk, _enc, done) {
      done()
    },
  })

/**
 * Starts qmqpd in this process for a test suite: QMQP on `host` port 0, the inspection API on
 * 127.0.0.1 port 0, `memory:` by default. Works from tap, node:test, vitest or jest.
 */
export async function startQmqpd(options: StartQmqpdOptions = {}): Promise<QmqpdFixture> {
  const host = options.host ?? '127.0.0.1'
  const dir = mkdtempSync(path.join(os.tmpdir(), 'qmqpd-fixture-'))
  const argv = ['--listen', host.includes(':') ? `[${host}]:0` : `${host}:0`, '--log-level', 'silent']
  if (options.rules !== undefined) {
    const file = path.join(dir, 'qmqp.tcp')
    writeFileSync(file, options.rules.endsWith('\n') ? options.rules : `${options.rules}\n`)
    argv.push('--rules-source', file)
  }
  const specs = options.backend === undefined ? ['memory:'] : [options.backend].flat()
  for (const b of specs) argv.push('--backend', b)
  argv.push(...(options.args ?? []))
  const config = loadConfig(argv, {}, null)
  const log = new QmqpdLog(config.log, quiet())
  const inspection = new Inspection({
    namespaceFrom: options.namespaceFrom ? parseNamespaceFrom(options.namespaceFrom) : null,
    retention: options.retention ?? {},
    faults: options.faults ?? [],
  })
  const backends: Backend[] = []
  const daemon = new Qmqpd({
    config,
    log,
    access: accessControlFor(config.rules, config.rulesDialect),
    backends,
    hooks: inspection,
  })
  const api = options.api === false ? null : buildApi(inspection, { token: options.apiToken ?? null })
  let apiUrl: string | null = null
  try {
    if (api) {
      await api.listen({ host: '127.0.0.1', port: 0 })
      const a = api.server.address() as { port: number }
      apiUrl = `http://127.0.0.1:${a.port}`
    }
    for (const spec of config.backends) backends.push(await createBackend(spec, { log }))
    await inspection.attach(backends)
    const bound = (await daemon.listen())[0]!
    inspection.setListening()
    const port = bound.port
    const query = (q: QueryInput | undefined) => parseQuery((q ?? {}) as Record<string, string>, true)
    let closed: Promise<void> | null = null
    return {
      host,
      port,
      server: host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`,
      apiUrl,
      inspection,
      async messages(q) {
        const out: MessageSummary[] = []
        let cursor: number | undefined
        do {
          const page = inspection.catalog.list(
            query(q),
            cursor === undefined ? { limit: 1000 } : { cursor, limit: 1000 },
          )
          out.push(...page.records.map(summaryJson))
          cursor = page.nextCursor ?? undefined
        } while (cursor !== undefined)
        return out
      },
      async message(id) {
        const record = inspection.catalog.get(id)
        if (!record) throw new Error(`no message ${id}`)
        return detailJson(record, await inspection.deliveredHeaders(id))
      },
      async raw(id, part = 'received') {
        const body = await inspection.body(id, part)
        if (!body) throw new Error(`the body of ${id} is not kept`)
        const chunks: Buffer[] = []
        for await (const c of body) chunks.push(c as Buffer)
        return Buffer.concat(chunks)
      },
      async waitFor(q, w = {}) {
        const count = w.count ?? 1
        const timeoutMs = w.timeoutMs ?? 10_000
        const result = await inspection.catalog.wait(query(q), {
          count,
          timeoutMs,
          ...(w.after !== undefined ? { after: Number(w.after) } : {}),
        })
        const messages = result.records.map(summaryJson)
        if (result.timedOut) throw new WaitTimeoutError(count, messages, timeoutMs)
        return messages
      },
      cursor: () => String(inspection.catalog.cursor),
      faults: {
        add: rule => inspection.faults.add(rule),
        list: ns => inspection.faults.list(ns),
        remove: id => inspection.faults.remove(id),
        clear: ns => inspection.faults.clear(ns),
      },
      async reset(namespace) {
        const r = await inspection.reset(namespace)
        return { cursor: r.cursor, removed: r.removed }
      },
      close() {
        closed ??= (async () => {
          inspection.close()
          await daemon.close(0)
          await api?.close()
          rmSync(dir, { recursive: true, force: true })
        })()
        return closed
      },
    }
  } catch (err) {
    await daemon.close(0).catch(() => undefined)
    await api?.close().catch(() => undefined)
    rmSync(dir, { recursive: true, force: true })
    throw err
  }
}

import { readFile } from 'node:fs/promises'
import { timingSafeEqual } from 'node:crypto'
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify'
import { eventInNamespace, sseFrame } from '../events.js'
import { parseQuery, type MessageQuery } from '../query.js'
import { API_ERRORS, QueryError, type ApiErrorCode } from './errors.js'
import type { Inspection } from './inspection.js'
import { mimeParts } from './mime.js'
import { openApiDocument } from './openapi.js'
import { detailJson, summaryJson } from './serialize.js'

export interface ApiOptions {
  /** When set, /api and /metrics need `Authorization: Bearer TOKEN` (or `?access_token=TOKEN`). */
  token?: string | null
  /** Where the built web UI is (index.html, app.js, app.css); default dist/web beside this module. */
  webDir?: URL | string
  /** A pino logger for fastify (`loggerInstance`); none by default. */
  loggerInstance?: import('fastify').FastifyBaseLogger
}

type Query = Record<string, string | string[] | undefined>

const defaultWaitSeconds = 30
const maxWaitSeconds = 300

/** `timeout` of a wait: seconds (`10`, `2.5`), or with a unit (`500ms`, `10s`, `1m`). */
export function parseTimeoutMs(text: string | undefined): number {
  if (text === undefined || text === '') return defaultWaitSeconds * 1000
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(text.trim())
  if (!m) throw new QueryError('timeout', `expected seconds or a duration like 500ms, 10s, 1m, not ${text}`)
  const n = Number(m[1])
  const ms = m[2] === 'ms' ? n : m[2] === 'm' ? n * 60_000 : n * 1000
  if (ms > maxWaitSeconds * 1000) throw new QueryError('timeout', `at most ${maxWaitSeconds}s`)
  return Math.round(ms)
}

const cursorOf = (param: string, text: string | string[] | undefined): number | undefined => {
  if (text === undefined || text === '') return undefined
  if (typeof text !== 'string' || !/^\d+$/.test(text)) throw new QueryError(param, 'not a cursor')
  return Number(text)
}

const intOf = (param: string, text: string | string[] | undefined, min: number, max: number) => {
  if (text === undefined || text === '') return undefined
  if (typeof text !== 'string' || !/^\d+$/.test(text) || Number(text) < min || Number(text) > max)
    throw new QueryError(param, `must be a whole number ${min}..${max}`)
  return Number(text)
}

/** The `namespace` parameter alone (reset, faults, events): undefined = all, '' = none. */
const namespaceParam = (q: Query): string | null | undefined => {
  const v = q['namespace']
  if (v === undefined) return undefined
  if (Array.isArray(v)) throw new QueryError('namespace', 'given more than once')
  return v === '' ? null : v
}

class ApiError extends Error {
  constructor(
    readonly code: ApiErrorCode,
    message: string,
  ) {
    super(message)
  }
}

const sameToken = (given: string, token: string) => {
  const a = Buffer.from(given)
  const b = Buffer.from(token)
  return a.length === b.length && timingSafeEqual(a, b)
}

/**
 * The inspection API and web UI as a fastify app (not listening: call `listen`, or `inject` in
 * tests). Errors answer `{ error: { code, message } }` with the status of API_ERRORS.
 */
export function buildApi(inspection: Inspection, options: ApiOptions = {}): FastifyInstance {
  // Closing ends live connections too (event streams, waits): a test server stops at once.
  const app = options.loggerInstance
    ? Fastify({ loggerInstance: options.loggerInstance, forceCloseConnections: true })
    : Fastify({ logger: false, forceCloseConnections: true })
  const webDir = options.webDir ?? new URL('../web/', import.meta.url)
  const token = options.token ?? null

  app.setErrorHandler((err: Error & { code?: string; statusCode?: number }, _req, reply) => {
    const code = err.code as ApiErrorCode | undefined
    if (code && code in API_ERRORS)
      return reply.status(API_ERRORS[code]).send({ error: { code, message: err.message } })
    const status = err.statusCode && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 500
    return reply
      .status(status)
      .send({ error: { code: err.code ?? 'QMQPD_ERR_INTERNAL', message: err.message } })
  })
  app.setNotFoundHandler((req, reply) =>
    reply
      .status(404)
      .send({ error: { code: 'QMQPD_ERR_NOT_FOUND', message: `no route ${req.method} ${req.url}` } }),
  )

  if (token !== null)
    app.addHook('onRequest', async (req: FastifyRequest) => {
      const path = req.url.split('?')[0]!
      if (!path.startsWith('/api/') && path !== '/metrics') return
      const header = req.headers.authorization
      const given = header?.startsWith('Bearer ')
        ? header.slice(7)
        : (req.query as Query | undefined)?.['access_token']
      if (typeof given !== 'string' || !sameToken(given, token))
        throw new ApiError('QMQPD_ERR_UNAUTHORIZED', 'a bearer token is required (Authorization: Bearer …)')
    })

  app.get('/livez', async () => ({ status: 'ok' }))
  app.get('/readyz', async (_req, reply) =>
    inspection.ready
      ? { status: 'ready' }
      : reply
          .status(503)
          .send({ status: 'starting', error: { code: 'QMQPD_ERR_NOT_READY', message: 'not ready' } }),
  )
  app.get('/metrics', async (_req, reply) =>
    reply.type('text/plain; version=0.0.4; charset=utf-8').send(inspection.metrics.render()),
  )
  app.get('/api/v1/openapi.json', async () => openApiDocument)

  app.get('/api/v1/messages', async req => {
    const q = req.query as Query
    const query = parseQuery(q)
    const order =
      q['order'] === 'desc' ? 'desc' : q['order'] === undefined || q['order'] === 'asc' ? 'asc' : null
    if (order === null) throw new QueryError('order', 'must be asc or desc')
    const cursor = cursorOf('cursor', q['cursor'])
    const limit = intOf('limit', q['limit'], 1, 1000)
    const page = inspection.catalog.list(query, {
      order,
      ...(cursor !== undefined ? { cursor } : {}),
      ...(limit !== undefined ? { limit } : {}),
    })
    return {
      messages: page.records.map(summaryJson),
      nextCursor: page.nextCursor === null ? null : String(page.nextCursor),
      cursor: String(inspection.catalog.cursor),
      total: inspection.catalog.count(query),
    }
  })

  const recordOr404 = (id: string) => {
    const record = inspection.catalog.get(id)
    if (!record) throw new ApiError('QMQPD_ERR_NOT_FOUND', `no message ${id}`)
    return record
  }

  app.get<{ Params: { id: string } }>('/api/v1/messages/:id', async req => {
    const record = recordOr404(req.params.id)
    return detailJson(record, await inspection.deliveredHeaders(record.id))
  })

  const bodyOf = async (id: string, part: string | string[] | undefined) => {
    recordOr404(id)
    if (part !== undefined && part !== 'received' && part !== 'delivered')
      throw new QueryError('part', 'must be received or delivered')
    const body = await inspection.body(id, part ?? 'received')
    if (!body)
      throw new ApiError(
        'QMQPD_ERR_NO_BODY',
        `the body of ${id} is not kept (no queryable backend, or not stored)`,
      )
    return body
  }

  app.get<{ Params: { id: string } }>('/api/v1/messages/:id/raw', async (req, reply) => {
    const body = await bodyOf(req.params.id, (req.query as Query)['part'])
    return reply
      .type('message/rfc822')
      .header('content-disposition', `inline; filename="${req.params.id}.eml"`)
      .send(body)
  })

  const readAll = async (id: string) => {
    const chunks: Buffer[] = []
    for await (const c of await bodyOf(id, 'delivered')) chunks.push(c as Buffer)
    return Buffer.concat(chunks)
  }

  app.get<{ Params: { id: string } }>('/api/v1/messages/:id/parts', async req => ({
    parts: mimeParts(await readAll(req.params.id)),
  }))

  app.get<{ Params: { id: string } }>('/api/v1/messages/:id/html', async (req, reply) => {
    const html = mimeParts(await readAll(req.params.id)).find(p => p.contentType === 'text/html')
    if (!html) throw new ApiError('QMQPD_ERR_NO_BODY', `message ${req.params.id} has no HTML part`)
    // The mail's HTML runs nothing and fetches nothing: no scripts, no remote images, no forms.
    return reply
      .type('text/html; charset=utf-8')
      .header(
        'content-security-policy',
        "sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data:; font-src data:",
      )
      .header('x-content-type-options', 'nosniff')
      .send(html.text)
  })

  app.get('/api/v1/wait', async (req, reply) => {
    const q = req.query as Query
    const query: MessageQuery = parseQuery(q)
    const after = cursorOf('after', q['after'])
    const count = intOf('count', q['count'], 1, 100_000) ?? 1
    const timeoutMs = parseTimeoutMs(typeof q['timeout'] === 'string' ? q['timeout'] : undefined)
    const gone = new AbortController()
    const onClose = () => {
      if (!reply.raw.writableFinished) gone.abort()
    }
    reply.raw.once('close', onClose)
    const result = await inspection.catalog.wait(query, {
      timeoutMs,
      count,
      signal: gone.signal,
      ...(after !== undefined ? { after } : {}),
    })
    reply.raw.off('close', onClose)
    const body = { messages: result.records.map(summaryJson), cursor: String(result.cursor) }
    if (!result.timedOut) return body
    return reply.status(408).send({
      ...body,
      error: {
        code: 'QMQPD_ERR_WAIT_TIMEOUT',
        message: `${result.records.length} of ${count} matching messages within ${timeoutMs} ms`,
      },
    })
  })

  app.post('/api/v1/reset', async req => inspection.reset(namespaceParam(req.query as Query)))

  app.get('/api/v1/faults', async req => ({
    faults: inspection.faults.list(namespaceParam(req.query as Query)),
  }))
  app.post('/api/v1/faults', async (req, reply) => {
    const rule = inspection.faults.add(req.body)
    inspection.events.emit({ type: 'fault-added', namespace: rule.match.namespace, rule })
    return reply.status(201).send(rule)
  })
  app.delete<{ Params: { id: string } }>('/api/v1/faults/:id', async (req, reply) => {
    const rule = inspection.faults.get(req.params.id)
    if (!rule || !inspection.faults.remove(rule.id))
      throw new ApiError('QMQPD_ERR_NOT_FOUND', `no fault rule ${req.params.id}`)
    inspection.events.emit({ type: 'fault-removed', namespace: rule.match.namespace, id: rule.id })
    return reply.status(204).send()
  })

  app.get('/api/v1/namespaces', async () => {
    const counts = new Map<string | null, { messages: number; faults: number }>()
    const entry = (ns: string | null) => {
      let e = counts.get(ns)
      if (!e) counts.set(ns, (e = { messages: 0, faults: 0 }))
      return e
    }
    let cursor: number | null = 0
    const all: Array<string | null> = []
    while (cursor !== null) {
      const page = inspection.catalog.list({}, { cursor, limit: 1000 })
      for (const r of page.records) all.push(r.namespace)
      cursor = page.nextCursor
    }
    for (const ns of all) entry(ns).messages++
    for (const rule of inspection.faults.list())
      if (rule.match.namespace !== undefined) entry(rule.match.namespace).faults++
    return {
      namespaces: [...counts.entries()]
        .map(([namespace, c]) => ({ namespace, ...c }))
        .sort((a, b) => String(a.namespace ?? '').localeCompare(String(b.namespace ?? ''))),
    }
  })

  app.get('/api/v1/events', (req, reply) => {
    const namespace = namespaceParam(req.query as Query)
    reply.hijack()
    const res = reply.raw
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    })
    res.write(
      `retry: 1000\nevent: hello\ndata: ${JSON.stringify({ cursor: String(inspection.catalog.cursor) })}\n\n`,
    )
    const stop = inspection.events.subscribe(event => {
      if (eventInNamespace(event, namespace))
        res.write(sseFrame(event, 'cursor' in event ? event.cursor : undefined))
    })
    // A comment line now and then keeps proxies from closing an idle stream.
    const ping = setInterval(() => res.write(': ping\n\n'), 15_000)
    ping.unref()
    res.once('close', () => {
      clearInterval(ping)
      stop()
    })
  })

  const asset = (file: string, type: string) => async (_req: FastifyRequest, reply: FastifyReply) => {
    let data: Buffer
    try {
      data = await readFile(new URL(file, webDir))
    } catch {
      throw new ApiError('QMQPD_ERR_NOT_FOUND', `the web UI is not built (npm run build): ${file} missing`)
    }
    return reply
      .type(type)
      .header(
        'content-security-policy',
        "default-src 'self'; img-src 'self' data:; style-src 'self'; frame-src 'self'; object-src 'none'; base-uri 'none'",
      )
      .header('x-content-type-options', 'nosniff')
      .send(data)
  }
  app.get('/', asset('index.html', 'text/html; charset=utf-8'))
  app.get('/ui/app.js', asset('app.js', 'text/javascript; charset=utf-8'))
  app.get('/ui/app.css', asset('app.css', 'text/css; charset=utf-8'))

  return app
}

import type { Readable } from 'node:stream'
import type { RequestTranscript, Verdict } from '@qmqpkit/qmqp'
import { QueryError } from './api/errors.js'
import { QUERY_PARAMS } from './query-params.js'
import type { ConnectionInfo, GreenArrowMetadata, InjectedMessage } from './injected-message.js'

/**
 * What the inspection side knows about one request that reached the message stage: the
 * envelope, the header block as received, GreenArrow metadata, the outcome. Bodies stay in the
 * backend. Every query (list, wait, reset, fault match) is evaluated against this.
 */
export interface MessageRecord {
  /** Position in the catalog, increasing; the cursor. 0 while the message is still in flight. */
  seq: number
  id: string
  namespace: string | null
  /** Milliseconds since the epoch. */
  receivedAt: number
  /** When the backend committed it; null when it was not stored. */
  storedAt: number | null
  stored: boolean
  sender: string
  recipients: string[]
  subject: string | null
  /** The header block as received, unfolded, in order. */
  headers: Array<[name: string, value: string]>
  size: number
  deliveredSize: number
  /** The reply the client was sent; null when the connection was closed without a reply. */
  verdict: Verdict | null
  connection: ConnectionInfo
  metadata: GreenArrowMetadata
  transcript: RequestTranscript
  /** The test faults applied to this request, e.g. `reply:Z`, `delay:200`, `drop:after-store`. */
  faults: string[]
}

/** The outcome as one word: K, Z, D, or `drop` (closed without a reply). */
export type VerdictFilter = 'K' | 'Z' | 'D' | 'drop'

/**
 * A message query. Text fields (to, from, subject, header values) match a substring, ignoring
 * case; the rest match exactly. Every given field must match.
 */
export interface MessageQuery {
  to?: string
  from?: string
  subject?: string
  /** `Name:value`: a header of that name (any case) whose value contains `value`. All must match. */
  header?: Array<{ name: string; value: string }>
  mailclass?: string
  vmta?: string
  sendid?: string
  listid?: string
  /** The client's IP address, as normalised (an IPv4-mapped address is the IPv4 address). */
  client?: string
  /** The access rule key that matched. */
  rule?: string
  /** The namespace; null selects messages that have none (`namespace=` with no value). */
  namespace?: string | null
  verdict?: VerdictFilter
  /** receivedAt >= since and < until, in milliseconds since the epoch. */
  since?: number
  until?: number
}

export { QUERY_PARAMS }

const stringParams = [
  'to',
  'from',
  'subject',
  'mailclass',
  'vmta',
  'sendid',
  'listid',
  'client',
  'rule',
] as const

/** A time: milliseconds since the epoch, or an ISO 8601 date. */
export function parseTime(param: string, text: string): number {
  if (/^\d+$/.test(text)) return Number(text)
  const ms = Date.parse(text)
  if (!Number.isFinite(ms)) throw new QueryError(param, `not a time (ISO 8601 or milliseconds): ${text}`)
  return ms
}

type ParamValue = string | number | boolean | null | undefined | Array<string | number | boolean | null>

const one = (param: string, v: ParamValue): string | undefined => {
  if (v === undefined) return undefined
  if (Array.isArray(v)) {
    if (v.length > 1) throw new QueryError(param, 'given more than once')
    v = v[0]
  }
  return v === undefined || v === null ? '' : String(v)
}

/**
 * Builds a query from request parameters (a URL query, a JSON `match` object). Parameters that
 * are not query fields are ignored when `strict` is false (a URL also carries `cursor`, `limit`,
 * …); with `strict` they are an error.
 */
export function parseQuery(params: Record<string, ParamValue>, strict = false): MessageQuery {
  const q: MessageQuery = {}
  for (const [key, raw] of Object.entries(params)) {
    if (raw === undefined) continue
    if (!(QUERY_PARAMS as readonly string[]).includes(key)) {
      if (strict) throw new QueryError(key, `unknown field; known: ${QUERY_PARAMS.join(', ')}`)
      continue
    }
    if (key === 'header') {
      const all = Array.isArray(raw) ? raw : [raw]
      q.header = all.map(h => {
        const text = String(h)
        const colon = text.indexOf(':')
        if (colon <= 0) throw new QueryError('header', `expected Name:value, not ${JSON.stringify(text)}`)
        return { name: text.slice(0, colon).trim(), value: text.slice(colon + 1).trim() }
      })
      continue
    }
    const value = one(key, raw)!
    if (key === 'namespace') q.namespace = value === '' || raw === null ? null : value
    else if (key === 'verdict') {
      const v = value === 'drop' ? 'drop' : value.toUpperCase()
      if (v !== 'K' && v !== 'Z' && v !== 'D' && v !== 'drop')
        throw new QueryError('verdict', `must be K, Z, D or drop, not ${JSON.stringify(value)}`)
      q.verdict = v
    } else if (key === 'since' || key === 'until') q[key] = parseTime(key, value)
    else if (value !== '') q[key as (typeof stringParams)[number]] = value
  }
  return q
}

/** The query as URL parameters (the inverse of parseQuery). */
export function querySearchParams(q: MessageQuery, into = new URLSearchParams()): URLSearchParams {
  for (const key of stringParams) if (q[key] !== undefined) into.set(key, q[key]!)
  for (const h of q.header ?? []) into.append('header', `${h.name}:${h.value}`)
  if (q.namespace !== undefined) into.set('namespace', q.namespace ?? '')
  if (q.verdict !== undefined) into.set('verdict', q.verdict)
  if (q.since !== undefined) into.set('since', String(q.since))
  if (q.until !== undefined) into.set('until', String(q.until))
  return into
}

const contains = (hay: string | null | undefined, needle: string) =>
  hay != null && hay.toLowerCase().includes(needle.toLowerCase())

/** The outcome word of a record. */
export const verdictWord = (r: Pick<MessageRecord, 'verdict'>): VerdictFilter => r.verdict?.code ?? 'drop'

/** True when the query uses only what is known when a connection opens (client, rule, namespace). */
export function isConnectionQuery(q: MessageQuery): boolean {
  return Object.keys(q).every(k => k === 'client' || k === 'rule' || k === 'namespace')
}

/** Does a record pass the query? */
export function matchesQuery(r: MessageRecord, q: MessageQuery): boolean {
  if (q.namespace !== undefined && r.namespace !== q.namespace) return false
  if (q.to !== undefined && !r.recipients.some(x => contains(x, q.to!))) return false
  if (q.from !== undefined && !contains(r.sender, q.from)) return false
  if (q.subject !== undefined && !contains(r.subject, q.subject)) return false
  for (const h of q.header ?? []) {
    const name = h.name.toLowerCase()
    if (!r.headers.some(([n, v]) => n.toLowerCase() === name && contains(v, h.value))) return false
  }
  if (q.mailclass !== undefined && r.metadata.mailClass !== q.mailclass) return false
  if (q.vmta !== undefined && r.metadata.virtualMta !== q.vmta) return false
  if (q.sendid !== undefined && r.metadata.sendId !== q.sendid) return false
  if (q.listid !== undefined && r.metadata.listId !== q.listid) return false
  if (q.client !== undefined && r.connection.remoteIp !== q.client) return false
  if (q.rule !== undefined && r.connection.ruleKey !== q.rule) return false
  if (q.verdict !== undefined && verdictWord(r) !== q.verdict) return false
  if (q.since !== undefined && r.receivedAt < q.since) return false
  if (q.until !== undefined && r.receivedAt >= q.until) return false
  return true
}

/** The most of a message's head that is kept for queries; a longer header block is cut here. */
export const maxHeaderBlockBytes = 64 * 1024

/** Reads a message's header block (up to the empty line, at most `max` bytes) from a stream. */
export async function readHeaderBlock(stream: Readable, max = maxHeaderBlockBytes): Promise<Buffer> {
  const pieces: Buffer[] = []
  let bytes = 0
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      pieces.push(chunk)
      bytes += chunk.length
      const head = Buffer.concat(pieces, bytes)
      const end = headerEnd(head)
      if (end >= 0) return head.subarray(0, end)
      if (bytes >= max) return head.subarray(0, max)
    }
  } finally {
    stream.destroy()
  }
  return Buffer.concat(pieces, bytes)
}

/** Index just past the header block's last line (before the empty line), or -1. */
function headerEnd(buf: Buffer): number {
  if (buf[0] === 0x0a) return 0
  if (buf[0] === 0x0d && buf[1] === 0x0a) return 0
  const lf = buf.indexOf('\n\n')
  const crlf = buf.indexOf('\r\n\r\n')
  if (lf < 0) return crlf < 0 ? -1 : crlf + 2
  if (crlf < 0) return lf + 1
  return Math.min(lf + 1, crlf + 2)
}

/**
 * Parses a header block into unfolded [name, value] pairs. Bytes are read as UTF-8 (8-bit
 * headers are common in test mail); lines that are not headers end the block, as in a reader.
 */
export function parseHeaders(block: Buffer): Array<[string, string]> {
  const out: Array<[string, string]> = []
  for (const line of block.toString('utf8').split(/\r?\n/)) {
    if (line === '') break
    if (/^[ \t]/.test(line) && out.length > 0) {
      const last = out[out.length - 1]!
      last[1] += ` ${line.trim()}`
      continue
    }
    const colon = line.indexOf(':')
    if (colon <= 0 || /[\s]/.test(line.slice(0, colon).trimEnd())) break
    out.push([line.slice(0, colon).trimEnd(), line.slice(colon + 1).trim()])
  }
  return out
}

/**
 * Decodes RFC 2047 encoded-words (`=?utf-8?B?…?=`, `=?iso-8859-1?Q?…?=`) for display and
 * subject matching; anything it cannot decode stays as written.
 */
export function decodeWords(text: string): string {
  return text
    .replace(/\?=\s+=\?/g, '?==?')
    .replace(/=\?([^?]+)\?([bBqQ])\?([^?]*)\?=/g, (whole, charset: string, enc: string, data: string) => {
      try {
        const bytes =
          enc.toUpperCase() === 'B'
            ? Buffer.from(data, 'base64')
            : Buffer.from(
                data
                  .replace(/_/g, ' ')
                  .replace(/=([0-9A-Fa-f]{2})/g, (_m, h: string) => String.fromCharCode(parseInt(h, 16))),
                'latin1',
              )
        return new TextDecoder(charset.split('*')[0]!.toLowerCase()).decode(bytes)
      } catch {
        return whole
      }
    })
}

/** The record of an in-flight message (seq 0, no verdict yet), for fault matching and then the catalog. */
export function recordOf(msg: InjectedMessage, headers: Array<[string, string]>): MessageRecord {
  const subject = headers.find(([n]) => n.toLowerCase() === 'subject')
  return {
    seq: 0,
    id: msg.id,
    namespace: msg.namespace,
    receivedAt: msg.receivedAt,
    storedAt: null,
    stored: false,
    sender: msg.sender.toString('utf8'),
    recipients: msg.recipients.map(r => r.toString('utf8')),
    subject: subject ? decodeWords(subject[1]) : null,
    headers,
    size: msg.received.size,
    deliveredSize: msg.delivered.size,
    verdict: null,
    connection: msg.connection,
    metadata: msg.metadata,
    transcript: msg.transcript,
    faults: msg.faults,
  }
}

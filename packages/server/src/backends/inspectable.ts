import type { Readable } from 'node:stream'
import type { Verdict } from '@qmqpkit/qmqp'
import type { RequestTranscript } from '@qmqpkit/qmqp'
import type { ConnectionInfo, GreenArrowMetadata, InjectedMessage } from '../injected-message.js'

/** Which copy of a stored message: as received on the wire, or as the Engine would deliver it. */
export type BodyPart = 'received' | 'delivered'

/** Everything a backend kept about one message, except its bodies (see `Inspectable.openBody`). */
export interface StoredMessage {
  /** Position in the store, increasing with each stored message; the list cursor. */
  seq: number
  id: string
  namespace: string | null
  /** Milliseconds since the epoch: when qmqpd accepted the request, and when the store committed it. */
  receivedAt: number
  storedAt: number
  sender: Buffer
  recipients: Buffer[]
  connection: ConnectionInfo
  metadata: GreenArrowMetadata
  /** Byte sizes of the two bodies. */
  size: number
  deliveredSize: number
  /** The verdict the backend answered. */
  verdict: Verdict
  transcript: RequestTranscript
  faults: string[]
}

/** Filters for `list` and `count`; every given field must match (AND). */
export interface MessageFilter {
  namespace?: string | null
  /** Exact envelope sender (bytes, or text taken as UTF-8). */
  sender?: Buffer | string
  /** A message matches when any of its recipients equals this address exactly. */
  recipient?: Buffer | string
  mailClass?: string
  virtualMta?: string
  sendId?: string
  listId?: string
  ruleKey?: string
  /** receivedAt >= since and receivedAt < until (milliseconds since the epoch). */
  since?: number
  until?: number
}

export interface ListOptions extends MessageFilter {
  /** Only messages after this seq (ascending order) or before it (descending order). */
  cursor?: number
  /** At most this many (default 100, at most 1000). */
  limit?: number
  order?: 'asc' | 'desc'
}

export interface MessagePage {
  messages: StoredMessage[]
  /** Pass as `cursor` to get the next page; null when this page was the last. */
  nextCursor: number | null
}

/** A backend whose stored messages can be queried, e.g. by the inspection API. */
export interface Inspectable {
  list(options?: ListOptions): Promise<MessagePage>
  /** The latest stored message with this id. */
  get(id: string): Promise<StoredMessage | undefined>
  count(filter?: MessageFilter): Promise<number>
  /** The body as a stream read from the store, a chunk at a time. */
  openBody(id: string, part: BodyPart): Promise<Readable | undefined>
  /** Removes the messages that match (all of them with no filter); resolves to how many. */
  remove(filter?: MessageFilter): Promise<number>
}

/** True when `backend` answers queries. */
export function isInspectable(backend: object): backend is Inspectable {
  const b = backend as Partial<Inspectable>
  return typeof b.list === 'function' && typeof b.get === 'function' && typeof b.count === 'function'
}

/** The most a list page holds, and what it holds when not told. */
export const maxListLimit = 1000
export const defaultListLimit = 100

/** Clamps a caller's limit into 1..maxListLimit. */
export function listLimit(limit: number | undefined): number {
  if (limit === undefined || !Number.isFinite(limit)) return defaultListLimit
  return Math.max(1, Math.min(maxListLimit, Math.floor(limit)))
}

export function filterBytes(value: Buffer | string): Buffer {
  return typeof value === 'string' ? Buffer.from(value, 'utf8') : value
}

/**
 * Bytes in JSON without loss: a string when the bytes are valid UTF-8 (so SQL's json functions and
 * people can read them), `{ "base64": … }` otherwise.
 */
export type JsonBytes = string | { base64: string }

export function bytesToJson(value: Buffer): JsonBytes {
  const text = value.toString('utf8')
  return Buffer.from(text, 'utf8').equals(value) ? text : { base64: value.toString('base64') }
}

export function bytesFromJson(value: JsonBytes): Buffer {
  return typeof value === 'string' ? Buffer.from(value, 'utf8') : Buffer.from(value.base64, 'base64')
}

/** ConnectionInfo as JSON, environment values in byte-preserving form. */
export function connectionToJson(connection: ConnectionInfo): string {
  return JSON.stringify({
    ...connection,
    env: connection.env.map(([name, value]) => [name, bytesToJson(value)]),
  })
}

export function connectionFromJson(text: string): ConnectionInfo {
  const parsed = JSON.parse(text) as Omit<ConnectionInfo, 'env'> & { env: Array<[string, JsonBytes]> }
  return { ...parsed, env: parsed.env.map(([name, value]) => [name, bytesFromJson(value)]) }
}

/** The K text of the storing backends: qmail-qmqpd's form, with the message id where qmail puts its pid. */
export function acceptedText(msg: InjectedMessage): string {
  return `ok ${Math.floor(msg.receivedAt / 1000)} qp ${msg.id}`
}

/** Does a stored message pass a filter? (The in-memory form of the SQL the sqlite backend runs.) */
export function matchesFilter(m: StoredMessage, f: MessageFilter): boolean {
  if (f.namespace !== undefined && m.namespace !== f.namespace) return false
  if (f.sender !== undefined && !m.sender.equals(filterBytes(f.sender))) return false
  if (f.recipient !== undefined) {
    const r = filterBytes(f.recipient)
    if (!m.recipients.some(x => x.equals(r))) return false
  }
  if (f.mailClass !== undefined && m.metadata.mailClass !== f.mailClass) return false
  if (f.virtualMta !== undefined && m.metadata.virtualMta !== f.virtualMta) return false
  if (f.sendId !== undefined && m.metadata.sendId !== f.sendId) return false
  if (f.listId !== undefined && m.metadata.listId !== f.listId) return false
  if (f.ruleKey !== undefined && m.connection.ruleKey !== f.ruleKey) return false
  if (f.since !== undefined && m.receivedAt < f.since) return false
  if (f.until !== undefined && m.receivedAt >= f.until) return false
  return true
}

import { Readable } from 'node:stream'
import type { Verdict } from '@qmqpkit/qmqp'
import type { Backend, BackendContext, BackendFactory } from '../backend.js'
import type { InjectedMessage } from '../injected-message.js'
import { BackendSpecError, failureText } from './errors.js'
import {
  acceptedText,
  listLimit,
  matchesFilter,
  type BodyPart,
  type Inspectable,
  type ListOptions,
  type MessageFilter,
  type MessagePage,
  type StoredMessage,
} from './inspectable.js'

interface Entry {
  message: StoredMessage
  bodies: Record<BodyPart, Buffer>
}

/**
 * Keeps messages in this process's memory, bodies included. NOT durable: K means only that the
 * message is held here, and everything is gone when the process ends. For tests and demos.
 */
export class MemoryBackend implements Backend, Inspectable {
  readonly name = 'memory:'
  #entries: Entry[] = []
  #nextSeq = 1
  #closed = false

  async deliver(msg: InjectedMessage): Promise<Verdict> {
    if (this.#closed) return { code: 'Z', text: 'qq temporary problem (#4.3.0)' }
    try {
      // Copies: the daemon disposes of the spooled bodies once the reply is sent.
      const received = Buffer.from(await msg.received.read())
      const delivered = msg.delivered === msg.received ? received : Buffer.from(await msg.delivered.read())
      const verdict: Verdict = { code: 'K', text: acceptedText(msg) }
      this.#entries.push({
        message: {
          seq: this.#nextSeq++,
          id: msg.id,
          namespace: msg.namespace,
          receivedAt: msg.receivedAt,
          storedAt: Date.now(),
          sender: Buffer.from(msg.sender),
          recipients: msg.recipients.map(r => Buffer.from(r)),
          connection: structuredClone(msg.connection),
          metadata: structuredClone(msg.metadata),
          size: received.length,
          deliveredSize: delivered.length,
          verdict,
          transcript: structuredClone(msg.transcript),
          faults: [...msg.faults],
        },
        bodies: { received, delivered },
      })
      return verdict
    } catch (err) {
      return { code: 'Z', text: failureText(err) }
    }
  }

  async list(options: ListOptions = {}): Promise<MessagePage> {
    const limit = listLimit(options.limit)
    const desc = options.order === 'desc'
    const ordered = desc ? [...this.#entries].reverse() : this.#entries
    const messages: StoredMessage[] = []
    let more = false
    for (const { message } of ordered) {
      if (
        options.cursor !== undefined &&
        (desc ? message.seq >= options.cursor : message.seq <= options.cursor)
      )
        continue
      if (!matchesFilter(message, options)) continue
      if (messages.length === limit) {
        more = true
        break
      }
      messages.push(message)
    }
    return { messages, nextCursor: more ? messages[messages.length - 1]!.seq : null }
  }

  #find(id: string): Entry | undefined {
    return this.#entries.findLast(e => e.message.id === id)
  }

  async get(id: string): Promise<StoredMessage | undefined> {
    return this.#find(id)?.message
  }

  async count(filter: MessageFilter = {}): Promise<number> {
    return this.#entries.filter(e => matchesFilter(e.message, filter)).length
  }

  async openBody(id: string, part: BodyPart): Promise<Readable | undefined> {
    const entry = this.#find(id)
    return entry && Readable.from([entry.bodies[part]])
  }

  async remove(filter: MessageFilter = {}): Promise<number> {
    const before = this.#entries.length
    this.#entries = this.#entries.filter(e => !matchesFilter(e.message, filter))
    return before - this.#entries.length
  }

  async close(): Promise<void> {
    this.#closed = true
  }
}

/** `memory:` */
export const memoryBackendFactory: BackendFactory = {
  scheme: 'memory',
  description: 'memory:  keep messages in memory (not durable; for tests); queryable',
  async create(spec: string, _context: BackendContext): Promise<Backend> {
    if (spec !== 'memory:') throw new BackendSpecError(spec, 'memory: takes nothing after the colon')
    return new MemoryBackend()
  },
}

import { Readable } from 'node:stream'
import { messageBodyFrom, type MessageBody } from '@qmqpkit/qmqp'
import { noMetadata, type GreenArrowMetadata, type InjectedMessage } from '../../src/injected-message.js'

let counter = 0

export const emptyMetadata: GreenArrowMetadata = noMetadata()

export interface MessageSpec {
  id?: string
  body?: Buffer | string | MessageBody
  delivered?: Buffer | string | MessageBody | 'same'
  sender?: Buffer | string
  recipients?: Array<Buffer | string>
  metadata?: Partial<GreenArrowMetadata>
  namespace?: string | null
  ruleKey?: string | null
  env?: Array<[string, Buffer]>
  receivedAt?: number
  faults?: string[]
}

const asBody = (b: Buffer | string | MessageBody): MessageBody =>
  typeof b === 'string' || Buffer.isBuffer(b) ? messageBodyFrom(b) : b

/** An InjectedMessage as qmqpd would hand it to a backend; `delivered` gets a Received line unless told. */
export function injected(spec: MessageSpec = {}): InjectedMessage {
  const id = spec.id ?? `m${++counter}`
  const received = asBody(spec.body ?? `Subject: test ${id}\n\nbody of ${id}\n`)
  let delivered: MessageBody
  if (spec.delivered === 'same') delivered = received
  else if (spec.delivered !== undefined) delivered = asBody(spec.delivered)
  else
    delivered = messageBodyFrom(
      Buffer.concat([
        Buffer.from(`Received: (qmail 1 invoked from network); 4 Dec 2026 16:00:00 -0000\n`),
        typeof spec.body === 'string' || Buffer.isBuffer(spec.body)
          ? Buffer.from(spec.body)
          : Buffer.from(`Subject: test ${id}\n\nbody of ${id}\n`),
      ]),
    )
  const now = spec.receivedAt ?? Date.now()
  return {
    id,
    receivedAt: now,
    sender: Buffer.from(spec.sender ?? 'sender@example.com'),
    recipients: (spec.recipients ?? ['rcpt@example.net']).map(r => Buffer.from(r)),
    connection: {
      id: `c-${id}`,
      remoteIp: '127.0.0.1',
      remotePort: 40000,
      localIp: '127.0.0.1',
      localPort: 628,
      proto: 'TCP',
      ruleKey: spec.ruleKey ?? null,
      decision: 'loopback-default',
      env: spec.env ?? [
        ['PROTO', Buffer.from('TCP')],
        ['TCPREMOTEIP', Buffer.from('127.0.0.1')],
      ],
    },
    metadata: { ...emptyMetadata, ...spec.metadata },
    received,
    delivered,
    transcript: {
      outerLength: received.size + 100,
      messageLength: received.size,
      senderLength: 18,
      recipientLengths: [16],
      startedAt: now - 5,
      requestDoneAt: now,
    },
    faults: spec.faults ?? [],
    namespace: spec.namespace ?? null,
  }
}

/** A body whose bytes fail from position `goodBytes` on, as a spool file that vanished would. */
export function failingBody(size: number, goodBytes: number): MessageBody {
  return {
    size,
    stream: range => new FailingReadable(Math.max(0, goodBytes - Math.max(0, range?.start ?? 0))),
    read: async () => {
      throw Object.assign(new Error('spool read failed'), { code: 'EIO' })
    },
    dispose: async () => {},
  }
}

class FailingReadable extends Readable {
  #left: number
  constructor(goodBytes: number) {
    super()
    this.#left = goodBytes
  }
  override _read(): void {
    if (this.#left > 0) {
      const n = Math.min(this.#left, 64 * 1024)
      this.#left -= n
      this.push(Buffer.alloc(n, 0x61))
    } else this.destroy(Object.assign(new Error('spool read failed'), { code: 'EIO' }))
  }
}

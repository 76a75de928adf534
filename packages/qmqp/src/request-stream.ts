import { Readable, Writable } from 'node:stream'
import { RequestDecoder, type DecodedEnvelope, type RequestDecoderOptions } from './request.js'

/**
 * A QMQP request parser as a Writable: pipe a connection into it and read `message`, a Readable
 * of the message bytes as they arrive, then await `envelope`. Backpressure runs end to end: a
 * chunk is acknowledged only when `message` has room, so the source is not read while the
 * consumer (a spool file, a backend) is behind. An error (framing, a limit, early end) destroys
 * `message` with it and rejects `envelope`; a half-received message is never completed.
 */
export class RequestStream extends Writable {
  readonly message: Readable
  readonly envelope: Promise<DecodedEnvelope>
  /** Bytes after the request's final comma in the chunk that completed it (never interpreted). */
  rest: Buffer = Buffer.alloc(0)
  #decoder: RequestDecoder
  #resolve!: (e: DecodedEnvelope) => void
  #reject!: (err: Error) => void
  #wantMore: (() => void) | undefined
  #full = false

  constructor(
    opts: Omit<RequestDecoderOptions, 'onMessageData' | 'onMessageEnd'> & { highWaterMark?: number } = {},
  ) {
    super({ highWaterMark: opts.highWaterMark ?? 64 * 1024 })
    this.message = new Readable({
      highWaterMark: opts.highWaterMark ?? 64 * 1024,
      read: () => {
        this.#full = false
        const go = this.#wantMore
        this.#wantMore = undefined
        go?.()
      },
    })
    this.envelope = new Promise((resolve, reject) => {
      this.#resolve = resolve
      this.#reject = reject
    })
    // A caller that only reads `message` must not see an unhandled rejection.
    this.envelope.catch(() => undefined)
    this.#decoder = new RequestDecoder({
      ...opts,
      onMessageData: c => {
        if (!this.message.push(c)) this.#full = true
      },
      onMessageEnd: () => {
        this.message.push(null)
      },
    })
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, done: (err?: Error | null) => void): void {
    if (this.#decoder.done) return done()
    let used: number
    try {
      used = this.#decoder.push(chunk)
    } catch (err) {
      return done(err as Error)
    }
    if (this.#decoder.done) {
      this.rest = chunk.subarray(used)
      this.#resolve(this.#decoder.envelope)
      return done()
    }
    if (this.#full) this.#wantMore = () => done()
    else done()
  }

  override _final(done: (err?: Error | null) => void): void {
    try {
      this.#decoder.end()
      done()
    } catch (err) {
      done(err as Error)
    }
  }

  override _destroy(err: Error | null, done: (err?: Error | null) => void): void {
    const e = err ?? new Error('request stream destroyed')
    if (!this.#decoder.done) {
      this.message.destroy(e)
      this.#reject(e)
    }
    done(err)
  }
}

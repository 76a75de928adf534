import { QmqpLimitError, QmqpProtocolError, type RequestStage } from './errors.js'

/** Options of a NetstringDecoder; every default is here. */
export interface NetstringDecoderOptions {
  /** Longest payload accepted; a longer length is refused while its digits are read. Default 200,000,000 (qmail's guard). */
  maxLength?: number
  /** Most bytes spent on the length and its ':' (qmail allows 100 for the outer length). Default 100. */
  maxPrefixBytes?: number
  /** Stage named in errors. Default 'message'. */
  stage?: RequestStage
  /** Called once the ':' is read, before any payload byte. May throw to refuse. */
  onLength?(length: number): void
  /** Payload bytes, as views into the pushed chunk (copy them to keep them). */
  onData?(chunk: Buffer): void
  /** After the closing comma. */
  onEnd?(): void
}

type State = 'length' | 'payload' | 'comma' | 'done'

/**
 * Incremental decoder of netstrings (`<len>:<bytes>,`). Input may arrive in chunks of any size,
 * down to one byte; nothing is buffered: payload bytes are handed on as views. Leading zeros
 * are accepted and an empty length (`:,`) reads as 0, as both qmail and Postfix do. A length
 * over `maxLength` is refused digit by digit, so before any payload arrives.
 *
 * `push()` stops after one complete netstring and returns the offset where it stopped; call
 * `reset()` (optionally with a new limit) to read the next one.
 */
export class NetstringDecoder {
  maxLength: number
  readonly maxPrefixBytes: number
  stage: RequestStage
  #opts: NetstringDecoderOptions
  #state: State = 'length'
  #length = 0
  #prefixBytes = 0
  #left = 0

  constructor(opts: NetstringDecoderOptions = {}) {
    this.#opts = opts
    this.maxLength = opts.maxLength ?? 200_000_000
    this.maxPrefixBytes = opts.maxPrefixBytes ?? 100
    this.stage = opts.stage ?? 'message'
  }

  /** True once the closing comma has been read. */
  get done(): boolean {
    return this.#state === 'done'
  }

  /** True while no byte of this netstring has been read. */
  get pristine(): boolean {
    return this.#state === 'length' && this.#prefixBytes === 0
  }

  /** Bytes spent so far on this netstring's length and ':'. */
  get prefixBytes(): number {
    return this.#prefixBytes
  }

  /** The declared length once known, else undefined. */
  get length(): number | undefined {
    return this.#state === 'length' ? undefined : this.#length
  }

  /** Prepares for the next netstring. */
  reset(maxLength: number = this.maxLength, stage: RequestStage = this.stage): void {
    this.maxLength = maxLength
    this.stage = stage
    this.#state = 'length'
    this.#length = 0
    this.#prefixBytes = 0
    this.#left = 0
  }

  /**
   * Reads from `chunk[start..end)` until this netstring is complete or the input is used up.
   * Returns the offset after the last byte consumed. Throws QmqpProtocolError or QmqpLimitError.
   */
  push(chunk: Buffer, start = 0, end = chunk.length): number {
    let i = start
    while (i < end) {
      const state = this.#state
      if (state === 'length') {
        const c = chunk[i++]!
        if (++this.#prefixBytes > this.maxPrefixBytes)
          throw new QmqpProtocolError(
            'length-prefix-too-long',
            this.stage,
            `${this.stage}: length prefix over ${this.maxPrefixBytes} bytes`,
          )
        if (c === 0x3a) {
          this.#left = this.#length
          this.#state = this.#length === 0 ? 'comma' : 'payload'
          this.#opts.onLength?.(this.#length)
        } else if (c >= 0x30 && c <= 0x39) {
          this.#length = this.#length * 10 + (c - 0x30)
          if (this.#length > this.maxLength)
            throw new QmqpLimitError('netstring-bytes', this.maxLength, this.stage)
        } else {
          throw new QmqpProtocolError(
            'length-syntax',
            this.stage,
            `${this.stage}: byte 0x${c.toString(16).padStart(2, '0')} in a netstring length`,
          )
        }
      } else if (state === 'payload') {
        const n = Math.min(this.#left, end - i)
        const view = chunk.subarray(i, i + n)
        i += n
        if ((this.#left -= n) === 0) this.#state = 'comma'
        this.#opts.onData?.(view)
      } else if (state === 'comma') {
        if (chunk[i++] !== 0x2c)
          throw new QmqpProtocolError(
            'missing-comma',
            this.stage,
            `${this.stage}: netstring without its closing comma`,
          )
        this.#state = 'done'
        this.#opts.onEnd?.()
        return i
      } else {
        return i
      }
    }
    return i
  }
}

/**
 * Decodes a whole sequence of netstrings from chunks (a convenience for small inputs such as
 * replies and tests). Throws QmqpProtocolError with reason 'truncated' if the input ends inside one.
 */
export function decodeNetstrings(
  chunks: Iterable<Buffer> | Buffer,
  opts: { maxLength?: number } = {},
): Buffer[] {
  const out: Buffer[] = []
  let parts: Buffer[] = []
  const dec = new NetstringDecoder({
    ...opts,
    onData: c => parts.push(Buffer.from(c)),
    onEnd: () => {
      out.push(Buffer.concat(parts))
      parts = []
    },
  })
  for (const chunk of Buffer.isBuffer(chunks) ? [chunks] : chunks) {
    let i = 0
    while (i < chunk.length) {
      i = dec.push(chunk, i)
      if (dec.done) dec.reset()
    }
  }
  if (!dec.pristine) throw new QmqpProtocolError('truncated', dec.stage, 'input ends inside a netstring')
  return out
}

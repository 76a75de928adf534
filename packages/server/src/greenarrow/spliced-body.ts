import { Readable } from 'node:stream'
import { bodyBytes, readBodyInto, type MessageBody } from '@qmqpkit/qmqp'

/**
 * A message made of new leading bytes (held in memory: the Received line and the rewritten
 * header) followed by `source` from `sourceStart` on, streamed from `source` each time: the body
 * is never copied. `source` must stay readable while this one is used; `dispose()` leaves it to
 * its owner.
 */
export class SplicedBody implements MessageBody {
  #prefix: Buffer | undefined
  #makePrefix: (() => Buffer) | undefined
  readonly #source: MessageBody
  readonly #sourceStart: number

  /**
   * `prefix` may be given as a function that makes it: it is then made when the body is first
   * used (its size included), and never when nobody reads it (a backend that stores nothing).
   */
  constructor(prefix: Buffer | (() => Buffer), source: MessageBody, sourceStart: number) {
    if (!Number.isInteger(sourceStart) || sourceStart < 0 || sourceStart > source.size)
      throw new RangeError(`sourceStart ${sourceStart} outside 0..${source.size}`)
    if (typeof prefix === 'function') this.#makePrefix = prefix
    else this.#prefix = prefix
    this.#source = source
    this.#sourceStart = sourceStart
  }

  get size(): number {
    return this.#bytes().length + this.#source.size - this.#sourceStart
  }

  #bytes(): Buffer {
    if (this.#prefix === undefined) {
      this.#prefix = this.#makePrefix!()
      this.#makePrefix = undefined
    }
    return this.#prefix
  }

  /** Bytes `start` (default 0) up to, not including, `end` (default: the size). */
  stream(range: { start?: number; end?: number } = {}): Readable {
    const start = Math.max(0, range.start ?? 0)
    const end = Math.min(this.size, range.end ?? this.size)
    const prefix = this.#bytes()
    const source = this.#source
    const sourceStart = this.#sourceStart
    async function* pieces(): AsyncGenerator<Buffer> {
      if (start >= end) return
      if (start < prefix.length) yield prefix.subarray(start, Math.min(end, prefix.length))
      if (end <= prefix.length) return
      const from = sourceStart + Math.max(0, start - prefix.length)
      const to = sourceStart + (end - prefix.length)
      if (from >= to) return
      // The source is asked for its whole tail only when that is what is wanted, so that any
      // MessageBody works, whatever it makes of a range's end.
      const wantsTail = to === source.size
      let left = to - from
      for await (const chunk of source.stream(
        wantsTail ? { start: from } : { start: from, end: to },
      ) as AsyncIterable<Buffer>) {
        const piece = chunk.length > left ? chunk.subarray(0, left) : chunk
        left -= piece.length
        if (piece.length > 0) yield piece
        if (left === 0) return
      }
      throw new Error(`message body ended ${left} bytes early`)
    }
    return Readable.from(pieces(), { objectMode: false })
  }

  async read(): Promise<Buffer> {
    // A source held in memory: its bytes in place, joined once with the prefix.
    const source = bodyBytes(this.#source)
    if (source && source.length === this.#source.size)
      return Buffer.concat([this.#bytes(), source.subarray(this.#sourceStart)], this.size)
    const parts: Buffer[] = []
    for await (const chunk of this.stream() as AsyncIterable<Buffer>) parts.push(chunk)
    return Buffer.concat(parts, this.size)
  }

  /** The prefix's bytes, then the source's read into the rest of `target` (see MessageBody.readInto). */
  async readInto(target: Uint8Array, position: number): Promise<number> {
    const start = Math.max(0, position)
    if (start >= this.size || target.length === 0) return 0
    const prefix = this.#bytes()
    let copied = 0
    if (start < prefix.length) {
      copied = Math.min(prefix.length - start, target.length)
      target.set(prefix.subarray(start, start + copied))
    }
    if (copied === target.length) return copied
    const from = this.#sourceStart + Math.max(0, start - prefix.length)
    const want = Math.min(target.length - copied, this.size - (start + copied))
    const got = await readBodyInto(this.#source, target.subarray(copied, copied + want), from)
    if (got !== want) throw new Error(`message body ended ${want - got} bytes early`)
    return copied + got
  }

  /** Nothing to release: the prefix is garbage-collected, the source belongs to its owner. */
  async dispose(): Promise<void> {}
}

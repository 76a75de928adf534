import { QmqpReplyError } from './errors.js'
import { NetstringDecoder } from './netstring-decoder.js'
import type { Verdict } from './verdict.js'

/** The reply netstring for a verdict: `<len>:<code><text>,`, text as UTF-8. */
export function encodeReply(verdict: Verdict): Buffer {
  // One allocation: the whole netstring as one string.
  const length = 1 + Buffer.byteLength(verdict.text, 'utf8')
  return Buffer.from(`${length}:${verdict.code}${verdict.text},`, 'utf8')
}

/** Longest reply a client reads before giving up on it. */
export const MAX_REPLY_BYTES = 65536

/**
 * Incremental reader of a server's reply. Like nullmailer (and unlike qmail-qmqpc, which takes the
 * first K, Z or D byte anywhere), the reply must be one netstring whose first byte is K, Z or D.
 */
export class ReplyDecoder {
  #parts: Buffer[] = []
  #verdict: Verdict | undefined
  #dec: NetstringDecoder | undefined

  /** Feeds bytes; returns the verdict once the reply is complete. Throws QmqpReplyError on garbage. */
  push(chunk: Buffer): Verdict | undefined {
    if (this.#verdict) return this.#verdict
    if (this.#dec === undefined) {
      // The usual case: a whole well-formed reply in the first read, taken without the decoder.
      const whole = wholeReply(chunk)
      if (whole) return (this.#verdict = whole)
      this.#dec = new NetstringDecoder({
        maxLength: MAX_REPLY_BYTES,
        stage: 'reply',
        onData: c => this.#parts.push(Buffer.from(c)),
        onEnd: () => {
          this.#verdict = toVerdict(Buffer.concat(this.#parts))
        },
      })
    }
    try {
      this.#dec.push(chunk)
    } catch (err) {
      if (err instanceof QmqpReplyError) throw err
      throw new QmqpReplyError('bad-reply', undefined, `unreadable reply: ${(err as Error).message}`)
    }
    return this.#verdict
  }

  get verdict(): Verdict | undefined {
    return this.#verdict
  }
}

/**
 * The verdict of `chunk` when it starts with a complete, well-formed reply (1 to 10 length digits,
 * a length up to MAX_REPLY_BYTES, a K, Z or D, the comma), else undefined: the decoder then reads
 * it and reports whatever is wrong. What follows the reply is ignored, as by the decoder.
 */
function wholeReply(chunk: Buffer): Verdict | undefined {
  let length = 0
  let i = 0
  for (; i < chunk.length && i <= 10; i++) {
    const c = chunk[i]!
    if (c === 0x3a) break
    if (c < 0x30 || c > 0x39) return undefined
    length = length * 10 + (c - 0x30)
  }
  if (i === 0 || i > 10 || length === 0 || length > MAX_REPLY_BYTES) return undefined
  const end = i + 1 + length
  if (end >= chunk.length || chunk[end] !== 0x2c) return undefined
  const c = chunk[i + 1]!
  const code = c === 0x4b ? 'K' : c === 0x5a ? 'Z' : c === 0x44 ? 'D' : undefined
  if (code === undefined) return undefined
  return { code, text: chunk.toString('utf8', i + 2, end) }
}

function toVerdict(payload: Buffer): Verdict {
  const code = String.fromCharCode(payload[0] ?? 0)
  if (code !== 'K' && code !== 'Z' && code !== 'D')
    throw new QmqpReplyError('bad-reply', undefined, 'reply does not start with K, Z or D')
  return { code, text: payload.subarray(1).toString('utf8') }
}

/** Parses a complete reply (one netstring). Throws QmqpReplyError if it is incomplete or malformed. */
export function parseReply(bytes: Buffer): Verdict {
  const r = new ReplyDecoder().push(bytes)
  if (!r)
    throw new QmqpReplyError(
      bytes.length === 0 ? 'no-reply' : 'bad-reply',
      undefined,
      bytes.length === 0 ? undefined : 'incomplete reply',
    )
  return r
}

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
  #dec = new NetstringDecoder({
    maxLength: MAX_REPLY_BYTES,
    stage: 'reply',
    onData: c => this.#parts.push(Buffer.from(c)),
    onEnd: () => {
      this.#verdict = toVerdict(Buffer.concat(this.#parts))
    },
  })

  /** Feeds bytes; returns the verdict once the reply is complete. Throws QmqpReplyError on garbage. */
  push(chunk: Buffer): Verdict | undefined {
    if (this.#verdict) return this.#verdict
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

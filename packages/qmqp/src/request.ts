import type { Readable, Writable } from 'node:stream'
import { QmqpLimitError, QmqpProtocolError, type RequestStage } from './errors.js'
import { NetstringDecoder } from './netstring-decoder.js'
import {
  COMMA,
  decimalDigits,
  netstringPrefix,
  netstringSize,
  pipeExactly,
  putNetstringPrefix,
  writeChunk,
} from './netstring-encoder.js'
import { isMessageBody, type MessageBody } from './message-body.js'

/** One QMQP request: a message, its envelope sender and zero or more recipients. */
export interface QmqpRequest {
  message: MessageBody
  sender: Buffer
  recipients: Buffer[]
}

/** Whose rules the decoder follows where qmail-qmqpd and Postfix's qmqpd differ. */
export type Compat = 'qmail' | 'postfix'

/** Options of a RequestDecoder; every default is here. */
export interface RequestDecoderOptions {
  /**
   * 'qmail' (default): the outer length is authoritative, every byte counts against it, and the
   * final ',' must follow exactly where it ends; long or NUL-carrying addresses mark the request
   * bad (answered D after the whole request). 'postfix': the outer length is read and ignored,
   * recipients end at a ',' where a length would start, an address over the limit is refused at
   * once, and an address is cut at its first NUL.
   */
  compat?: Compat
  /** Largest outer length (qmail's resource guard; ignored in postfix mode). Default 200,000,000. */
  maxOuterBytes?: number
  /** Largest message; refused while its length is read. null = none. Default null. */
  maxMessageBytes?: number | null
  /** Longest address. Default 999 (qmail accepts < 1000); Postfix's line_length_limit is 2048. */
  maxAddressBytes?: number
  /** Most recipients kept; more mark the request (`tooManyRecipients`). null = none. Default null. */
  maxRecipients?: number | null
  /** The message length, once read, before any message byte. */
  onMessageLength?(length: number): void
  /** Message bytes as they arrive, as views into the pushed chunk. */
  onMessageData?(chunk: Buffer): void
  /** After the message's closing comma. */
  onMessageEnd?(): void
}

/** What a completed request carried besides the message. */
export interface DecodedEnvelope {
  sender: Buffer
  /** Kept recipients (at most maxRecipients). */
  recipients: Buffer[]
  /** The outer length as written (postfix mode: read, not used). */
  outerLength: number
  messageLength: number
  senderLength: number
  /** Lengths of the recipients read (at most maxRecipients + 1 entries). */
  recipientLengths: number[]
  /** Number of recipient netstrings read. */
  recipientCount: number
  /** qmail mode: an address of maxAddressBytes+1 or more bytes, or with a NUL, was seen. */
  badAddress: boolean
  /** More recipients than maxRecipients. */
  tooManyRecipients: boolean
}

type State = 'outer' | 'message' | 'sender' | 'recipients' | 'recipient' | 'trailer' | 'done'

const DIGIT_GUARD = Number.MAX_SAFE_INTEGER / 10
const EMPTY = Buffer.alloc(0)

/**
 * Incremental decoder of one QMQP request. Feed it chunks with `push()`; it hands message bytes
 * on as they arrive and keeps only the (bounded) addresses. Framing errors throw
 * QmqpProtocolError, lengths over a limit QmqpLimitError, both before any further byte is used.
 * It stops at the request's final comma: bytes after it are left unread.
 */
export class RequestDecoder {
  readonly compat: Compat
  readonly maxOuterBytes: number
  readonly maxMessageBytes: number | null
  readonly maxAddressBytes: number
  readonly maxRecipients: number | null
  #opts: RequestDecoderOptions
  #state: State = 'outer'
  #outerLength = 0
  #outerPrefix = 0
  /** qmail mode: counted bytes left inside the outer netstring. */
  #left = 0
  /** qmail mode: #left when the current inner netstring began. */
  #leftAtPart = 0
  #partStarted = false
  #bytesRead = 0
  #inner: NetstringDecoder
  #addr: Buffer[] = []
  #addrSize = 0
  #addrSkip = false
  #env: DecodedEnvelope = {
    sender: EMPTY,
    recipients: [],
    outerLength: 0,
    messageLength: 0,
    senderLength: 0,
    recipientLengths: [],
    recipientCount: 0,
    badAddress: false,
    tooManyRecipients: false,
  }

  constructor(opts: RequestDecoderOptions = {}) {
    this.#opts = opts
    this.compat = opts.compat ?? 'qmail'
    this.maxOuterBytes = opts.maxOuterBytes ?? 200_000_000
    this.maxMessageBytes = opts.maxMessageBytes ?? null
    this.maxAddressBytes = opts.maxAddressBytes ?? 999
    this.maxRecipients = opts.maxRecipients ?? null
    this.#inner = new NetstringDecoder({
      onLength: n => this.#onLength(n),
      onData: c => this.#onData(c),
      onEnd: () => this.#onEnd(),
    })
  }

  /** True once the final comma has been read. */
  get done(): boolean {
    return this.#state === 'done'
  }

  /** True while no byte has been read. */
  get pristine(): boolean {
    return this.#bytesRead === 0
  }

  /** Request bytes consumed so far. */
  get bytesRead(): number {
    return this.#bytesRead
  }

  /** Where the decoder is: the part being read. */
  get stage(): RequestStage {
    const s = this.#state
    return s === 'outer'
      ? 'header'
      : s === 'recipients' || s === 'recipient'
        ? 'recipient'
        : s === 'done'
          ? 'trailer'
          : s
  }

  /** The envelope, complete once `done`. */
  get envelope(): DecodedEnvelope {
    return this.#env
  }

  /** Reads from `chunk`; returns how many bytes were consumed (fewer than its length only once done). */
  push(chunk: Buffer): number {
    let i = 0
    const n = chunk.length
    while (i < n && this.#state !== 'done') {
      const s = this.#state
      const before = i
      if (s === 'outer') {
        i = this.#readOuter(chunk, i)
      } else if (s === 'trailer') {
        if (chunk[i++] !== 0x2c)
          throw new QmqpProtocolError(
            'outer-length-mismatch',
            'trailer',
            'the request does not end where its outer length says',
          )
        this.#state = 'done'
      } else if (s === 'recipients') {
        if (this.compat === 'postfix') {
          if (chunk[i] === 0x2c) {
            i++
            this.#state = 'done'
            this.#bytesRead += 1
            continue
          }
        } else if (this.#left === 0) {
          this.#state = 'trailer'
          continue
        }
        this.#state = 'recipient'
        continue
      } else {
        // message, sender or recipient: one inner netstring
        if (!this.#partStarted) this.#startAddress(s === 'sender' ? 'sender' : 'recipient')
        if (this.compat === 'qmail') {
          if (this.#left === 0)
            throw new QmqpProtocolError(
              'outer-length-mismatch',
              this.stage,
              `${this.stage}: runs past the outer length`,
            )
          const end = Math.min(n, i + this.#left)
          i = this.#pushInner(chunk, i, end)
          this.#left -= i - before
        } else {
          i = this.#pushInner(chunk, i, n)
        }
      }
      this.#bytesRead += i - before
    }
    return i
  }

  /** Declares the end of input: throws QmqpProtocolError('truncated') unless the request is complete. */
  end(): void {
    if (this.#state !== 'done')
      throw new QmqpProtocolError('truncated', this.stage, `input ends in the ${this.stage}`)
  }

  #readOuter(chunk: Buffer, i: number): number {
    while (i < chunk.length) {
      const c = chunk[i++]!
      // qmail spends at most 100 bytes on the outer length.
      if (++this.#outerPrefix > 100)
        throw new QmqpProtocolError('length-prefix-too-long', 'header', 'outer length prefix over 100 bytes')
      if (c === 0x3a) {
        this.#env.outerLength = this.#outerLength
        this.#left = this.#outerLength
        this.#state = 'message'
        this.#inner.reset(this.#messageLimit(), 'message')
        this.#leftAtPart = this.#left
        this.#partStarted = true
        return i
      }
      if (c < 0x30 || c > 0x39)
        throw new QmqpProtocolError(
          'length-syntax',
          'header',
          `header: byte 0x${c.toString(16).padStart(2, '0')} in the outer length`,
        )
      this.#outerLength = this.#outerLength * 10 + (c - 0x30)
      if (this.compat === 'qmail') {
        if (this.#outerLength > this.maxOuterBytes)
          throw new QmqpLimitError(
            'outer-bytes',
            this.maxOuterBytes,
            'header',
            `outer length over ${this.maxOuterBytes}`,
          )
      } else if (this.#outerLength > DIGIT_GUARD) {
        throw new QmqpLimitError('outer-bytes', DIGIT_GUARD, 'header', 'outer length overflows')
      }
    }
    return i
  }

  #messageLimit(): number {
    const guard = this.compat === 'qmail' ? this.maxOuterBytes : DIGIT_GUARD
    return this.maxMessageBytes === null ? guard : Math.min(guard, this.maxMessageBytes)
  }

  #startAddress(stage: 'sender' | 'recipient'): void {
    // qmail reads long addresses to the end and refuses afterwards; Postfix refuses at the length.
    const max = this.compat === 'postfix' ? this.maxAddressBytes : this.maxOuterBytes
    this.#inner.reset(max, stage)
    this.#leftAtPart = this.#left
    this.#partStarted = true
    this.#addr = []
    this.#addrSize = 0
    this.#addrSkip = false
  }

  #pushInner(chunk: Buffer, i: number, end: number): number {
    try {
      return this.#inner.push(chunk, i, end)
    } catch (err) {
      if (err instanceof QmqpLimitError && err.limit === 'netstring-bytes') {
        const stage = this.#inner.stage
        if (
          stage === 'message' &&
          this.maxMessageBytes !== null &&
          this.#inner.maxLength === this.maxMessageBytes
        )
          throw new QmqpLimitError(
            'message-bytes',
            this.maxMessageBytes,
            stage,
            `message length over ${this.maxMessageBytes}`,
          )
        if (stage !== 'message' && this.compat === 'postfix')
          throw new QmqpLimitError(
            'address-bytes',
            this.maxAddressBytes,
            stage,
            `${stage} length over ${this.maxAddressBytes}`,
          )
        throw new QmqpLimitError(
          'outer-bytes',
          this.#inner.maxLength,
          stage,
          `${stage} length over ${this.#inner.maxLength}`,
        )
      }
      throw err
    }
  }

  #onLength(n: number): void {
    const stage = this.#inner.stage
    // A part that cannot fit in what the outer length leaves is a framing error now, not later.
    if (this.compat === 'qmail' && n + 1 > this.#leftAtPart - this.#inner.prefixBytes)
      throw new QmqpProtocolError(
        'outer-length-mismatch',
        stage,
        `${stage}: ${n} bytes do not fit in the outer length`,
      )
    if (stage === 'message') {
      this.#env.messageLength = n
      this.#opts.onMessageLength?.(n)
      return
    }
    if (stage === 'sender') this.#env.senderLength = n
    else {
      this.#env.recipientCount++
      if (this.maxRecipients !== null && this.#env.recipientCount > this.maxRecipients) {
        this.#env.tooManyRecipients = true
        this.#addrSkip = true
      }
      if (this.#env.recipientLengths.length <= (this.maxRecipients ?? Infinity))
        this.#env.recipientLengths.push(n)
    }
    if (n > this.maxAddressBytes) {
      this.#env.badAddress = true
      this.#addrSkip = true
    }
  }

  #onData(c: Buffer): void {
    if (this.#inner.stage === 'message') {
      this.#opts.onMessageData?.(c)
      return
    }
    if (this.#addrSkip) return
    this.#addr.push(Buffer.from(c))
    this.#addrSize += c.length
  }

  #onEnd(): void {
    const stage = this.#inner.stage
    if (stage === 'message') {
      this.#opts.onMessageEnd?.()
      this.#state = 'sender'
      this.#partStarted = false
      return
    }
    this.#state = 'recipients'
    this.#partStarted = false
    if (this.#addrSkip) return
    let addr = this.#addr.length === 1 ? this.#addr[0]! : Buffer.concat(this.#addr, this.#addrSize)
    const nul = addr.indexOf(0)
    if (nul >= 0) {
      // qmail refuses an address with a NUL; Postfix uses it as a C string, cut at the NUL.
      if (this.compat === 'qmail') this.#env.badAddress = true
      else addr = addr.subarray(0, nul)
    }
    if (stage === 'sender') this.#env.sender = addr
    else this.#env.recipients.push(addr)
  }
}

/** Anything the client or the encoder accepts as a message. */
export type MessageSource = Buffer | string | MessageBody | { stream: Readable; size: number }

/** A request as the encoder takes it: addresses as Buffers or UTF-8 strings. */
export interface RequestInput {
  message: MessageSource
  sender: Buffer | string
  recipients: ReadonlyArray<Buffer | string>
}

/** Size of a message source in bytes. */
export function messageSize(m: MessageSource): number {
  if (typeof m === 'string') return Buffer.byteLength(m, 'utf8')
  if (Buffer.isBuffer(m)) return m.length
  return m.size
}

const byteLengthOf = (v: Buffer | string): number =>
  typeof v === 'string' ? Buffer.byteLength(v, 'utf8') : v.length

/** Writes `<len>:<bytes>,` at `at`; returns the offset after the ','. */
function putNetstring(buf: Buffer, at: number, v: Buffer | string, length: number): number {
  at = putNetstringPrefix(buf, at, length, decimalDigits(length))
  if (typeof v === 'string') buf.write(v, at, length, 'utf8')
  else v.copy(buf, at)
  buf[at + length] = 0x2c
  return at + length + 1
}

/** Byte lengths of the sender and the recipients, and the size of their netstrings with the final comma. */
function measureEnvelope(
  sender: Buffer | string,
  recipients: ReadonlyArray<Buffer | string>,
): { lengths: number[]; size: number } {
  const lengths: number[] = new Array(recipients.length + 1)
  let size = 1
  for (let i = 0; i <= recipients.length; i++) {
    const n = byteLengthOf(i === 0 ? sender : recipients[i - 1]!)
    lengths[i] = n
    size += netstringSize(n)
  }
  return { lengths, size }
}

/** Writes the sender, the recipients and the final comma at `at`; returns the offset after them. */
function putEnvelope(
  buf: Buffer,
  at: number,
  sender: Buffer | string,
  recipients: ReadonlyArray<Buffer | string>,
  lengths: number[],
): number {
  at = putNetstring(buf, at, sender, lengths[0]!)
  for (let i = 0; i < recipients.length; i++) at = putNetstring(buf, at, recipients[i]!, lengths[i + 1]!)
  buf[at] = 0x2c
  return at + 1
}

/** The envelope part after the message: sender netstring, recipient netstrings, the final comma. */
export function encodeEnvelopeTail(
  sender: Buffer | string,
  recipients: ReadonlyArray<Buffer | string>,
): Buffer {
  const { lengths, size } = measureEnvelope(sender, recipients)
  const buf = Buffer.allocUnsafe(size)
  putEnvelope(buf, 0, sender, recipients, lengths)
  return buf
}

/** The bytes before the message: outer length prefix and message length prefix. */
export function requestHead(messageLength: number, tailLength: number): Buffer {
  const inner = netstringSize(messageLength) + tailLength - 1 // the tail includes the outer comma
  return Buffer.concat([netstringPrefix(inner), netstringPrefix(messageLength)])
}

/** A whole request in one Buffer (for small messages, tests and fixtures), in one allocation. */
export function encodeRequest(req: {
  message: Buffer | string
  sender: Buffer | string
  recipients: ReadonlyArray<Buffer | string>
}): Buffer {
  const m = req.message
  const messageLength = byteLengthOf(m)
  const { lengths, size: tailSize } = measureEnvelope(req.sender, req.recipients)
  const inner = netstringSize(messageLength) + tailSize - 1 // the tail includes the outer comma
  const innerDigits = decimalDigits(inner)
  const buf = Buffer.allocUnsafe(innerDigits + inner + 2)
  let at = putNetstringPrefix(buf, 0, inner, innerDigits)
  at = putNetstring(buf, at, m, messageLength)
  putEnvelope(buf, at, req.sender, req.recipients, lengths)
  return buf
}

/**
 * Writes a request to `out` with backpressure, the message streamed from its source: nothing
 * but the addresses is held in memory. Throws QmqpBodyLengthError if a stream gives a byte
 * count other than its declared size. Resolves once the last byte was handed to `out`.
 */
export async function writeRequest(out: Writable, req: RequestInput): Promise<void> {
  const m = req.message
  if (typeof m === 'string' || Buffer.isBuffer(m)) {
    const w = writeChunk(out, encodeRequest({ message: m, sender: req.sender, recipients: req.recipients }))
    if (w) await w
    return
  }
  const size = messageSize(m)
  const tail = encodeEnvelopeTail(req.sender, req.recipients)
  const head = requestHead(size, tail.length)
  let w = writeChunk(out, head)
  if (w) await w
  await pipeExactly(isMessageBody(m) ? m.stream() : m.stream, out, size)
  w = writeChunk(out, Buffer.concat([COMMA, tail]))
  if (w) await w
}

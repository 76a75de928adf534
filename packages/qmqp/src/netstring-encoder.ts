import type { Readable, Writable } from 'node:stream'
import { QmqpBodyLengthError } from './errors.js'

/** The bytes before a payload of `length` bytes: `<length>:`. */
export function netstringPrefix(length: number): Buffer {
  if (!Number.isSafeInteger(length) || length < 0) throw new RangeError(`bad netstring length ${length}`)
  return Buffer.from(`${length}:`, 'latin1')
}

/** Total wire size of a netstring carrying `length` bytes. */
export function netstringSize(length: number): number {
  return decimalDigits(length) + length + 2
}

/** Decimal digits of a non-negative safe integer. */
export function decimalDigits(n: number): number {
  let d = 1
  while (n >= 10) {
    n = Math.floor(n / 10)
    d++
  }
  return d
}

/**
 * Writes `<n>:` into `buf` at `at` (`width` is n's decimalDigits); returns the offset after the
 * ':'. For encoders that lay out many netstrings in one buffer.
 */
export function putNetstringPrefix(buf: Uint8Array, at: number, n: number, width = decimalDigits(n)): number {
  for (let i = at + width - 1; i >= at; i--) {
    buf[i] = 0x30 + (n % 10)
    n = Math.floor(n / 10)
  }
  buf[at + width] = 0x3a
  return at + width + 1
}

/** `<len>:<bytes>,` for a Buffer, or a string taken as UTF-8. */
export function encodeNetstring(payload: Buffer | string): Buffer {
  const body = typeof payload === 'string' ? Buffer.from(payload, 'utf8') : payload
  return Buffer.concat([netstringPrefix(body.length), body, COMMA])
}

export const COMMA: Buffer = Buffer.from(',')

/**
 * Writes one chunk honouring backpressure: resolves once `out` accepted it and, if its buffer
 * is full, has drained. Rejects if `out` errors or closes first.
 */
export function writeChunk(out: Writable, chunk: Buffer): Promise<void> | undefined {
  if (out.write(chunk)) return undefined
  return new Promise<void>((resolve, reject) => {
    const cleanup = () => {
      out.off('drain', onDrain)
      out.off('error', onError)
      out.off('close', onClose)
    }
    const onDrain = () => (cleanup(), resolve())
    const onError = (err: Error) => (cleanup(), reject(err))
    const onClose = () => (
      cleanup(),
      reject(Object.assign(new Error('stream closed while writing'), { code: 'ERR_STREAM_PREMATURE_CLOSE' }))
    )
    out.on('drain', onDrain)
    out.on('error', onError)
    out.on('close', onClose)
  })
}

/**
 * Copies exactly `length` bytes from `source` into `out`, honouring backpressure. A source that
 * ends early or gives more throws QmqpBodyLengthError (the extra bytes are not written).
 */
export async function pipeExactly(source: Readable, out: Writable, length: number): Promise<void> {
  let seen = 0
  for await (const c of source) {
    const chunk: Buffer = typeof c === 'string' ? Buffer.from(c) : (c as Buffer)
    if (seen + chunk.length > length) {
      source.destroy()
      throw new QmqpBodyLengthError(length, seen + chunk.length)
    }
    seen += chunk.length
    const wait = writeChunk(out, chunk)
    if (wait) await wait
  }
  if (seen !== length) throw new QmqpBodyLengthError(length, seen)
}

/** Writes `<length>:` + the stream's bytes + `,` to `out`. The stream must give exactly `length` bytes. */
export async function writeNetstring(
  out: Writable,
  source: Readable | Buffer,
  length?: number,
): Promise<void> {
  if (Buffer.isBuffer(source)) {
    const w = writeChunk(out, encodeNetstring(source))
    if (w) await w
    return
  }
  if (length === undefined) throw new TypeError('writeNetstring: a stream needs its length')
  const w = writeChunk(out, netstringPrefix(length))
  if (w) await w
  await pipeExactly(source, out, length)
  const c = writeChunk(out, COMMA)
  if (c) await c
}

import { bodyBytes, type MessageBody } from '@qmqpkit/qmqp'
import { fieldColon, scanHeader, type HeaderScan } from './header-block.js'

/** What was read from the start of a message. */
export interface HeaderRead extends HeaderScan {
  /** True when the header went on past `maxHeaderBytes`: fields from there on were not read. */
  truncated: boolean
}

const LF = 0x0a
const CR = 0x0d

/**
 * Reads the header block of `body` from its start, and never more than about `maxHeaderBytes`
 * (plus the rest of the chunk that crossed it): the body itself is not read. The stream is
 * stopped as soon as the line that ends the header has arrived.
 */
export async function readHeader(body: MessageBody, maxHeaderBytes: number): Promise<HeaderRead> {
  // A message held in memory is looked at in place: the same as a stream giving it in one chunk.
  const whole = bodyBytes(body)
  if (whole) return headerOf(whole, maxHeaderBytes)
  let buf = Buffer.allocUnsafe(Math.min(Math.max(maxHeaderBytes, 1), 64 * 1024))
  let filled = 0
  let checked = 0 // start of the first line not yet looked at
  let found = false
  for await (const chunk of body.stream({ start: 0 }) as AsyncIterable<Buffer>) {
    if (filled + chunk.length > buf.length) {
      const grown = Buffer.allocUnsafe(Math.max(buf.length * 2, filled + chunk.length))
      buf.copy(grown, 0, 0, filled)
      buf = grown
    }
    chunk.copy(buf, filled)
    filled += chunk.length
    const ended = findHeaderEnd(buf.subarray(0, filled), checked)
    checked = ended.checked
    // Stop at the end of the header, or once past the limit (breaking out closes the stream).
    if ((found = ended.found) || filled > maxHeaderBytes) break
  }
  // The limit holds whatever the chunk sizes: a header ending past it is cut at the limit.
  const over = found ? checked > maxHeaderBytes : filled > maxHeaderBytes
  if (over) return withTruncated(scanHeader(buf.subarray(0, maxHeaderBytes), false), true)
  return withTruncated(scanHeader(buf.subarray(0, filled), !found), false)
}

/** The header of a message held whole, read as readHeader reads a stream that gives it in one chunk. */
function headerOf(buf: Buffer, maxHeaderBytes: number): HeaderRead {
  const { found, checked } = findHeaderEnd(buf, 0)
  const over = found ? checked > maxHeaderBytes : buf.length > maxHeaderBytes
  if (over) return withTruncated(scanHeader(buf.subarray(0, maxHeaderBytes), false), true)
  return withTruncated(scanHeader(buf, !found), false)
}

/** The scan as a HeaderRead (an object of our own: set in place, not copied). */
function withTruncated(scan: HeaderScan, truncated: boolean): HeaderRead {
  ;(scan as HeaderRead).truncated = truncated
  return scan as HeaderRead
}

/** Looks at the complete lines from `from`: is one of them the end of the header? */
function findHeaderEnd(buf: Buffer, from: number): { found: boolean; checked: number } {
  let pos = from
  for (;;) {
    const nl = buf.indexOf(LF, pos)
    if (nl < 0) return { found: false, checked: pos }
    const first = buf[pos]!
    if (first === LF || (first === CR && nl === pos + 1)) return { found: true, checked: pos }
    if (first !== 0x20 && first !== 0x09 && fieldColon(buf, pos, nl) < 0) return { found: true, checked: pos }
    pos = nl + 1
  }
}

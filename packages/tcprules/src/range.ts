import { RulesSyntaxError } from './errors.js'

const DOT = 0x2e
const DASH = 0x2d
const EQUALS = 0x3d
const AT = 0x40

/** Thrown by {@link expandAddress}; the parser turns it into a RulesSyntaxError with the line. */
export class RangeSyntaxError extends Error {
  override name = 'RangeSyntaxError'
}

const TWO64 = 1n << 64n

/**
 * djb's scan_ulong on a bound as tcprules' getnum() sees it: digits are read until the first
 * non-digit, which must be the end of the bound or a NUL byte (the bound is handed over as a C
 * string, so a NUL ends it early). An empty bound reads as 0. The value wraps modulo 2^64, as an
 * unsigned long does; only whether it lands at or below 255 matters afterwards.
 */
function scanBound(buf: Buffer, start: number, end: number): number | bigint | null {
  let i = start
  let value = 0
  while (i < end && buf[i]! >= 0x30 && buf[i]! <= 0x39) i++
  if (i < end && buf[i] !== 0) return null
  if (i - start > 15) {
    let big = 0n
    for (let j = start; j < i; j++) big = (big * 10n + BigInt(buf[j]! - 0x30)) % TWO64
    return big
  }
  for (let j = start; j < i; j++) value = value * 10 + (buf[j]! - 0x30)
  return value
}

/** Whether `address` is one tcprules expands: no `=`, no `@`, and a `-` somewhere. */
export function isRangeAddress(address: Buffer): boolean {
  return address.indexOf(EQUALS) < 0 && address.indexOf(AT) < 0 && address.indexOf(DASH) >= 0
}

/**
 * The keys tcprules writes for one address: the address itself, or, for a range, one key per
 * number from the bottom to the top bound (capped at 255), in ascending order. Only the first
 * `-` counts; its component runs from the previous `.` to the next one. A bottom above the top
 * gives no key at all, as `tcprules.c` does. Throws RangeSyntaxError where tcprules fails.
 */
export function expandAddress(address: Buffer): Buffer[] {
  if (!isRangeAddress(address)) return [address]
  const dash = address.indexOf(DASH)
  const dot = address.lastIndexOf(DOT, dash - 1)
  const left = dash === 0 ? 0 : dot < 0 ? 0 : dot + 1
  const nextDot = address.indexOf(DOT, dash + 1)
  const right = nextDot < 0 ? address.length : nextDot
  const bottom = scanBound(address, left, dash)
  const topRead = bottom === null ? null : scanBound(address, dash + 1, right)
  if (bottom === null || topRead === null) throw new RangeSyntaxError('range bounds must be numbers')
  const top = topRead > 255 ? 255 : Number(topRead)
  if (bottom > top) return []
  const keys: Buffer[] = []
  const head = address.subarray(0, left)
  const tail = address.subarray(right)
  for (let n = Number(bottom); n <= top; n++) keys.push(Buffer.concat([head, Buffer.from(String(n)), tail]))
  return keys
}

/** Wraps a RangeSyntaxError with the line it came from. */
export function rangeError(line: number, text: Buffer): RulesSyntaxError {
  return new RulesSyntaxError(line, text, 'bad address range')
}

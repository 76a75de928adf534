import { RulesUsageError } from './errors.js'
import type { Dialect } from './parse.js'
import { isRangeAddress } from './range.js'

const QUOTES = Buffer.from(`"'|/!%^~+*;.-_0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz`)

/** A quote byte the value does not contain (blanks and tabs never: tcprules strips them at a line end). */
function quoteFor(value: Buffer): number {
  for (const q of QUOTES) if (value.indexOf(q) < 0) return q
  throw new RulesUsageError('a value uses every printable byte: no quote left')
}

/**
 * The address to write for `key` so that tcprules writes exactly `key` back. A key with a `-`
 * (and no `=` or `@`) would be read as a range; it is written as a one-number range in an
 * earlier numeric component (`1.3-4.` as `1-1.3-4.`), which expands to the key itself.
 */
function addressFor(key: Buffer, dialect: Dialect): Buffer {
  const bad = (why: string) =>
    new RulesUsageError(`key ${JSON.stringify(key.toString('latin1'))} cannot be written as a rule: ${why}`)
  if (key.indexOf(0x0a) >= 0) throw bad('it holds a line feed')
  if (key[0] === 0x23) throw bad('it starts with #')
  if (dialect === 'ipv4' && key.indexOf(0x3a) >= 0) throw bad('it holds a colon (try the ipv6 dialect)')
  if (dialect === 'ipv6' && /:(allow|deny)/.test(key.toString('latin1')))
    throw bad('it holds :allow or :deny')
  if (!isRangeAddress(key)) return key
  const dash = key.indexOf(0x2d)
  let start = 0
  while (start < dash) {
    const end = key.indexOf(0x2e, start)
    if (end < 0 || end > dash) break
    const part = key.toString('latin1', start, end)
    if (/^(0|[1-9]\d{0,2})$/.test(part) && Number(part) <= 255) {
      return Buffer.concat([key.subarray(0, start), Buffer.from(`${part}-${part}`), key.subarray(end)])
    }
    start = end + 1
  }
  throw bad('its dash would be read as a range')
}

/** The instructions of a stored value: `D\0`? then `+NAME=VALUE\0` entries (a value may hold NULs). */
function instructionsFor(data: Buffer): { deny: boolean; text: Buffer } {
  const bad = (why: string) =>
    new RulesUsageError(
      `value ${JSON.stringify(data.toString('latin1'))} cannot be written as a rule: ${why}`,
    )
  let pos = 0
  const deny = data.length >= 2 && data[0] === 0x44 && data[1] === 0
  if (deny) pos = 2
  const parts: Buffer[] = []
  while (pos < data.length) {
    if (data[pos] !== 0x2b) throw bad('an entry does not start with +')
    const eq = data.indexOf(0x3d, pos)
    if (eq < 0) throw bad('an entry has no =')
    // The value ends at a NUL that is followed by the next entry or by the end.
    let nul = data.indexOf(0, eq)
    while (nul >= 0 && nul + 1 < data.length && data[nul + 1] !== 0x2b) nul = data.indexOf(0, nul + 1)
    if (nul < 0) throw bad('the last entry has no NUL')
    const name = data.subarray(pos + 1, eq)
    const value = data.subarray(eq + 1, nul)
    if (name.indexOf(0x0a) >= 0 || value.indexOf(0x0a) >= 0) throw bad('it holds a line feed')
    const q = Buffer.of(quoteFor(value))
    parts.push(Buffer.from(','), name, Buffer.from('='), q, value, q)
    pos = nul + 1
  }
  return { deny, text: Buffer.concat(parts) }
}

/**
 * A rules text that tcprules compiles back into exactly these records (and so the same bytes),
 * one line per record, in order. Throws RulesUsageError for a record no rules line can produce.
 *
 * @example
 * decompileRules(CdbReader.open('qmqp.tcp.cdb').entries()).toString()
 * // '127.0.0.1:allow,RELAYCLIENT="",GREENARROW_SIMPLEMH=""\n:deny\n'
 */
export function decompileRules(records: Iterable<[Buffer, Buffer]>, dialect: Dialect = 'ipv4'): Buffer {
  const lines: Buffer[] = []
  for (const [key, data] of records) {
    const { deny, text } = instructionsFor(data)
    lines.push(addressFor(key, dialect), Buffer.from(deny ? ':deny' : ':allow'), text, Buffer.from('\n'))
  }
  return Buffer.concat(lines)
}

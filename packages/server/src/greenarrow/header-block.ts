/**
 * The header block of a message as a list of fields that keep their exact bytes.
 *
 * A field is its first line plus its continuation lines (lines starting with a space or a tab),
 * each with its own line end (LF, or CR LF: a CR LF message stays byte-exact). Names compare
 * case-insensitively. The block ends at the first empty line, at the first line that is neither a
 * field nor a continuation (qmail-inject also ends the header there), or at the end of the input.
 */

const LF = 0x0a
const CR = 0x0d
const SP = 0x20
const TAB = 0x09
const COLON = 0x3a

/** One header field, with the bytes it had in the message (or that a hook gave it). */
export class HeaderField {
  /** The name as written (latin1), without the colon or any space before it. */
  readonly name: string
  /** The whole field: first line, continuation lines, line ends. */
  readonly raw: Buffer
  readonly #colon: number
  /** The name in lower case, made when first compared. */
  #lower: string | undefined

  constructor(raw: Buffer) {
    const colon = fieldColon(raw, 0, raw.length)
    if (colon < 0) throw new TypeError(`not a header field: ${JSON.stringify(raw.toString('latin1'))}`)
    this.raw = raw
    this.#colon = colon
    let nameEnd = colon
    while (nameEnd > 0 && (raw[nameEnd - 1] === SP || raw[nameEnd - 1] === TAB)) nameEnd--
    this.name = raw.toString('latin1', 0, nameEnd)
  }

  /** The value unfolded (line ends before white space removed) and trimmed, as bytes. */
  get valueBytes(): Buffer {
    return unfold(this.raw.subarray(this.#colon + 1))
  }

  /** The unfolded value as text (UTF-8; a header carrying other bytes shows replacement characters). */
  get value(): string {
    return this.valueBytes.toString('utf8')
  }

  /** True when this field's name is `name`, ignoring case. */
  is(name: string): boolean {
    return (this.#lower ??= this.name.toLowerCase()) === name.toLowerCase()
  }

  /** The name in lower case. */
  get lowerName(): string {
    return (this.#lower ??= this.name.toLowerCase())
  }
}

/** Removes the line breaks of folding and trims blanks at both ends. */
function unfold(bytes: Buffer): Buffer {
  const out = Buffer.allocUnsafe(bytes.length)
  let n = 0
  for (let i = 0; i < bytes.length; i++) {
    const c = bytes[i]!
    // A line end is dropped; the white space that starts the continuation line stays.
    if (c === LF || (c === CR && bytes[i + 1] === LF)) continue
    out[n++] = c
  }
  let start = 0
  let end = n
  while (start < end && isBlank(out[start]!)) start++
  while (end > start && (isBlank(out[end - 1]!) || out[end - 1] === CR)) end--
  return Buffer.from(out.subarray(start, end))
}

const isBlank = (c: number): boolean => c === SP || c === TAB

/**
 * Where the colon of a field's first line is, or -1 when the line is not a field:
 * a name of printable ASCII other than the colon, optional blanks, then `:` (RFC 5322 and its
 * obsolete syntax, which allowed blanks before the colon).
 */
export function fieldColon(buf: Buffer, start: number, end: number): number {
  let i = start
  while (i < end && buf[i]! > SP && buf[i]! < 0x7f && buf[i] !== COLON) i++
  if (i === start) return -1
  while (i < end && isBlank(buf[i]!)) i++
  return i < end && buf[i] === COLON ? i : -1
}

/** The result of scanning the start of a message for its header block. */
export interface HeaderScan {
  /** The fields, in order. */
  fields: HeaderField[]
  /** Offset just after the last byte that belongs to `fields`; the rest of the message starts here. */
  end: number
  /** True when the scan knows the header is over (empty line, non-header line or end of message). */
  complete: boolean
}

/**
 * Scans `buf` (the first bytes of a message) for header fields.
 * `atEof` says whether `buf` is the whole message. When it is not, a line without its line end,
 * or a field that might continue past `buf`, is left out and `complete` is false.
 */
export function scanHeader(buf: Buffer, atEof: boolean): HeaderScan {
  const fields: HeaderField[] = []
  let pos = 0
  let fieldStart = -1
  const close = (at: number): void => {
    if (fieldStart >= 0) fields.push(new HeaderField(buf.subarray(fieldStart, at)))
    fieldStart = -1
  }
  while (pos < buf.length) {
    const nl = buf.indexOf(LF, pos)
    const lineEnd = nl < 0 ? buf.length : nl + 1
    if (nl < 0 && !atEof) {
      // An unfinished line. Its first byte tells whether it continues the field before it.
      if (!isBlank(buf[pos]!)) close(pos)
      return { fields, end: fieldStart >= 0 ? fieldStart : pos, complete: false }
    }
    const first = buf[pos]!
    const empty = first === LF || (first === CR && buf[pos + 1] === LF && lineEnd === pos + 2)
    if (empty) {
      close(pos)
      return { fields, end: pos, complete: true }
    }
    if (isBlank(first) && fieldStart >= 0) {
      pos = lineEnd
      continue
    }
    close(pos)
    if (fieldColon(buf, pos, lineEnd) < 0) return { fields, end: pos, complete: true }
    fieldStart = pos
    pos = lineEnd
  }
  if (!atEof) return { fields, end: fieldStart >= 0 ? fieldStart : pos, complete: false }
  close(pos)
  return { fields, end: pos, complete: true }
}

/**
 * A mutable header block, as the hooks see it. Fields keep their bytes; new ones use the line
 * end of the block (CR LF when its first field ends so, else LF).
 */
export class HeaderBlock {
  fields: HeaderField[]
  readonly lineEnd: '\n' | '\r\n'

  constructor(fields: HeaderField[]) {
    this.fields = fields
    const first = fields[0]?.raw
    this.lineEnd =
      first && first.length >= 2 && first[first.length - 2] === CR && first[first.length - 1] === LF
        ? '\r\n'
        : '\n'
  }

  /** Parses a complete header block (the message up to, not including, its empty line). */
  static parse(bytes: Buffer | string): HeaderBlock {
    return new HeaderBlock(
      scanHeader(typeof bytes === 'string' ? Buffer.from(bytes, 'latin1') : bytes, true).fields,
    )
  }

  /** The first field of that name. */
  field(name: string): HeaderField | undefined {
    return this.fields.find(f => f.is(name))
  }

  /** The unfolded value of the first field of that name. */
  get(name: string): string | undefined {
    return this.field(name)?.value
  }

  /** The unfolded values of every field of that name, in order. */
  getAll(name: string): string[] {
    return this.fields.filter(f => f.is(name)).map(f => f.value)
  }

  has(name: string): boolean {
    return this.fields.some(f => f.is(name))
  }

  /** Removes the fields whose name is `name` (ignoring case) or that `match` selects; returns how many. */
  remove(match: string | ((field: HeaderField) => boolean)): number {
    const test = typeof match === 'string' ? (f: HeaderField) => f.is(match) : match
    const before = this.fields.length
    this.fields = this.fields.filter(f => !test(f))
    return before - this.fields.length
  }

  /** Adds `Name: value` at the end of the block (or at the top with `{ top: true }`). */
  add(name: string, value: string, options: { top?: boolean } = {}): void {
    const field = new HeaderField(Buffer.from(`${name}: ${value}${this.lineEnd}`, 'utf8'))
    if (options.top) this.fields.unshift(field)
    else this.fields.push(field)
  }

  /** Replaces the first field of that name in place (removing the others), or adds it. */
  set(name: string, value: string): void {
    const i = this.fields.findIndex(f => f.is(name))
    if (i < 0) return this.add(name, value)
    const field = new HeaderField(Buffer.from(`${name}: ${value}${this.lineEnd}`, 'utf8'))
    this.fields = this.fields.flatMap((f, j) => (j === i ? [field] : f.is(name) ? [] : [f]))
  }

  /** The block's bytes: every field as it is. */
  toBuffer(): Buffer {
    return Buffer.concat(this.fields.map(f => f.raw))
  }
}

import { RulesSyntaxError } from './errors.js'
import { expandAddress, RangeSyntaxError } from './range.js'

/** `ipv4`: Debian's ucspi-tcp. `ipv6`: Debian's ucspi-tcp-ipv6 (addresses may hold colons). */
export type Dialect = 'ipv4' | 'ipv6'

export interface ParseOptions {
  /** Which tcprules to follow. Default `ipv4`. */
  dialect?: Dialect
}

/** One `,NAME=<q>VALUE<q>` instruction, as bytes. */
export interface RuleVariable {
  name: Buffer
  value: Buffer
}

/** One rule line. */
export interface Rule {
  /** Line number, counting from 1. */
  line: number
  /** The line as tcprules sees it: trailing LF, blanks and tabs removed. */
  text: Buffer
  /** The bytes before the separating colon, exactly. */
  address: Buffer
  decision: 'allow' | 'deny'
  variables: RuleVariable[]
  /** The CDB keys this rule writes (one, or one per number of a range, or none). */
  keys: Buffer[]
  /** The CDB value: `D\0` for deny, then `+NAME=VALUE\0` per variable. */
  data: Buffer
}

/** A line tcprules passes over without a word. */
export interface IgnoredLine {
  line: number
  text: Buffer
  reason: 'comment' | 'empty' | 'no-colon'
}

/** A parsed rules file: rules in file order (first match wins), plus the lines skipped. */
export interface RulesFile {
  dialect: Dialect
  rules: Rule[]
  ignored: IgnoredLine[]
}

const LF = 0x0a
const TAB = 0x09
const SPACE = 0x20
const HASH = 0x23
const COLON = 0x3a
const COMMA = 0x2c
const EQUALS = 0x3d
const DENY = Buffer.from('deny')
const ALLOW = Buffer.from('allow')
const DENY_DATA = Buffer.from('D\0', 'latin1')
const EMPTY = Buffer.alloc(0)

function startsWithAt(buf: Buffer, at: number, end: number, word: Buffer): boolean {
  if (end - at < word.length) return false
  for (let i = 0; i < word.length; i++) if (buf[at + i] !== word[i]) return false
  return true
}

/**
 * Where an ucspi-tcp-ipv6 address ends, given its line's first colon: the first colon that is
 * followed by `allow` or `deny`. Where there is none the original never returns (a known
 * defect); we end as the IPv4 tool does for that line instead (the first colon).
 */
function findSeparator(buf: Buffer, first: number, end: number): number {
  for (let c = first; c >= 0 && c < end; c = buf.indexOf(COLON, c + 1)) {
    if (startsWithAt(buf, c + 1, end, DENY) || startsWithAt(buf, c + 1, end, ALLOW)) return c
  }
  return first
}

/** What one line turned out to be, without copies: offsets into the input. */
export interface LineScan {
  line: number
  start: number
  /** End of the line after trailing LF/blank/tab removal. */
  end: number
  /** Position of the separating colon. */
  colon: number
  deny: boolean
  /** Position where the instructions start (after the keyword). */
  instructions: number
  /** Whether the address is a range tcprules expands (a `-`, no `=`, no `@`). */
  range: boolean
}

export type LineVisitor = (scan: LineScan, buf: Buffer) => void
export type IgnoredVisitor = (line: number, start: number, end: number, reason: IgnoredLine['reason']) => void

function syntaxError(
  buf: Buffer,
  line: number,
  start: number,
  end: number,
  reason: string,
): RulesSyntaxError {
  return new RulesSyntaxError(line, Buffer.from(buf.subarray(start, end)), reason)
}

/**
 * Walks a rules file line by line as `tcprules.c` does and reports each rule line's layout.
 * Instructions are validated here (the data is built by {@link encodeData}); ranges are not.
 */
export function scanLines(buf: Buffer, dialect: Dialect, visit: LineVisitor, ignored?: IgnoredVisitor): void {
  const scan: LineScan = { line: 0, start: 0, end: 0, colon: 0, deny: false, instructions: 0, range: false }
  const length = buf.length
  let pos = 0
  let line = 0
  while (pos < length) {
    line++
    const start = pos
    const first = buf[start]
    // Only column 1 makes a comment; a line that is just LF is skipped before any stripping.
    if (first === HASH) {
      const nl = buf.indexOf(LF, start)
      pos = nl < 0 ? length : nl + 1
      ignored?.(line, start, pos, 'comment')
      continue
    }
    if (first === LF) {
      pos = start + 1
      ignored?.(line, start, start, 'empty')
      continue
    }
    // The address up to the first colon (or the end of the line), noting what makes a range.
    let i = start
    let c = 0
    let dash = false
    let plain = true
    while (i < length) {
      c = buf[i]!
      if (c === COLON || c === LF) break
      if (c === 0x2d) dash = true
      else if (c === EQUALS || c === 0x40) plain = false
      i++
    }
    const nl = i === length || c === LF ? i : buf.indexOf(LF, i)
    const next = nl < 0 || nl === length ? length : nl + 1
    pos = next
    // Trailing LF, blanks and tabs go (never a colon, so the first colon stays within the line).
    let end = next
    while (end > start) {
      const ch = buf[end - 1]
      if (ch !== LF && ch !== SPACE && ch !== TAB) break
      end--
    }
    if (i === length || c === LF) {
      ignored?.(line, start, end, end === start ? 'empty' : 'no-colon')
      continue
    }
    let colon = i
    if (dialect === 'ipv6') {
      colon = findSeparator(buf, i, end)
      if (colon !== i) {
        for (let j = i; j < colon; j++) {
          const d = buf[j]
          if (d === 0x2d) dash = true
          else if (d === EQUALS || d === 0x40) plain = false
        }
      }
    }
    let x = colon + 1
    let deny = false
    if (
      x + 4 <= end &&
      buf[x] === 0x64 &&
      buf[x + 1] === 0x65 &&
      buf[x + 2] === 0x6e &&
      buf[x + 3] === 0x79
    ) {
      deny = true
      x += 4
    } else if (
      x + 5 <= end &&
      buf[x] === 0x61 &&
      buf[x + 1] === 0x6c &&
      buf[x + 2] === 0x6c &&
      buf[x + 3] === 0x6f &&
      buf[x + 4] === 0x77
    ) {
      x += 5
    } else {
      throw syntaxError(buf, line, start, end, 'expected allow or deny after the colon')
    }
    const instructions = x
    while (x < end) {
      if (buf[x] !== COMMA) throw syntaxError(buf, line, start, end, 'expected a comma before an instruction')
      let eq = x + 1
      while (eq < end && buf[eq] !== EQUALS) eq++
      if (eq >= end) throw syntaxError(buf, line, start, end, 'instruction without =')
      if (eq + 1 >= end) throw syntaxError(buf, line, start, end, 'missing value after =')
      const quote = buf[eq + 1]
      let close = eq + 2
      while (close < end && buf[close] !== quote) close++
      if (close >= end) throw syntaxError(buf, line, start, end, 'value without its closing quote')
      x = close + 1
    }
    scan.range = dash && plain
    scan.line = line
    scan.start = start
    scan.end = end
    scan.colon = colon
    scan.deny = deny
    scan.instructions = instructions
    visit(scan, buf)
  }
}

/**
 * Builds the CDB value of a scanned line: `D\0` for deny, then `+NAME=VALUE\0` per instruction,
 * the quote bytes dropped. `allow` with no instructions gives an empty value.
 */
export function encodeData(buf: Buffer, scan: LineScan): Buffer {
  if (scan.instructions === scan.end) return scan.deny ? DENY_DATA : EMPTY
  // Each instruction ",N=qVq" becomes "+N=V\0": one byte shorter, so the line length bounds it.
  const out = Buffer.allocUnsafe((scan.deny ? 2 : 0) + scan.end - scan.instructions)
  let o = 0
  if (scan.deny) o = DENY_DATA.copy(out, 0)
  let x = scan.instructions
  while (x < scan.end) {
    const eq = buf.indexOf(EQUALS, x)
    const close = buf.indexOf(buf[eq + 1]!, eq + 2)
    out[o++] = 0x2b
    o += buf.copy(out, o, x + 1, eq + 1)
    o += buf.copy(out, o, eq + 2, close)
    out[o++] = 0
    x = close + 1
  }
  return out.subarray(0, o)
}

/** The variables of a scanned line, in order. */
export function scanVariables(buf: Buffer, scan: LineScan): RuleVariable[] {
  const variables: RuleVariable[] = []
  let x = scan.instructions
  while (x < scan.end) {
    const eq = buf.indexOf(EQUALS, x)
    const close = buf.indexOf(buf[eq + 1]!, eq + 2)
    variables.push({
      name: Buffer.from(buf.subarray(x + 1, eq)),
      value: Buffer.from(buf.subarray(eq + 2, close)),
    })
    x = close + 1
  }
  return variables
}

/** The keys of a scanned line, or a RulesSyntaxError for a range tcprules refuses. */
export function scanKeys(buf: Buffer, scan: LineScan): Buffer[] {
  try {
    return expandAddress(buf.subarray(scan.start, scan.colon))
  } catch (err) {
    if (err instanceof RangeSyntaxError) throw syntaxError(buf, scan.line, scan.start, scan.end, err.message)
    /* c8 ignore next */
    throw err
  }
}

/**
 * Parses a rules file exactly as Debian's tcprules (or, with `dialect: 'ipv6'`, tcprules from
 * ucspi-tcp-ipv6) reads it. Throws RulesSyntaxError at the first line tcprules refuses.
 *
 * @example
 * const { rules } = parseRules(Buffer.from('1.2.3.4:allow,GREENARROW_SIMPLEMH=""\n:deny\n'))
 * rules[0].keys[0].toString() // '1.2.3.4'
 */
export function parseRules(text: Buffer | string, options: ParseOptions = {}): RulesFile {
  const buf = typeof text === 'string' ? Buffer.from(text) : text
  const dialect = options.dialect ?? 'ipv4'
  const rules: Rule[] = []
  const ignored: IgnoredLine[] = []
  scanLines(
    buf,
    dialect,
    (scan, b) => {
      rules.push({
        line: scan.line,
        text: Buffer.from(b.subarray(scan.start, scan.end)),
        address: Buffer.from(b.subarray(scan.start, scan.colon)),
        decision: scan.deny ? 'deny' : 'allow',
        variables: scanVariables(b, scan),
        keys: scanKeys(b, scan).map(k => Buffer.from(k)),
        data: Buffer.from(encodeData(b, scan)),
      })
    },
    (line, start, end, reason) => ignored.push({ line, text: Buffer.from(buf.subarray(start, end)), reason }),
  )
  return { dialect, rules, ignored }
}

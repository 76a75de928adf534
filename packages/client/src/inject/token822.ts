/**
 * RFC 822 tokens as qmail's token822 library reads and writes them: the lexer, the right-to-left
 * address-list walker, the printer that folds at commas, and the envelope ("unquoted") form.
 * Behaviour follows qmail 1.03 / netqmail 1.06 exactly, quirks included (see comments).
 */

export const T = {
  ATOM: 1,
  QUOTE: 2,
  LITERAL: 3,
  COMMENT: 4,
  LEFT: 5,
  RIGHT: 6,
  AT: 7,
  COMMA: 8,
  SEMI: 9,
  COLON: 10,
  DOT: 11,
} as const
export type TokenType = (typeof T)[keyof typeof T]

/** One token; `s` holds the text of words (atom, quoted string, literal, comment), else is empty. */
export interface Token {
  type: TokenType
  s: Buffer
}

const EMPTY = Buffer.alloc(0)
const PUNCT: Record<number, TokenType> = {
  0x2e: T.DOT,
  0x2c: T.COMMA,
  0x40: T.AT,
  0x3c: T.LEFT,
  0x3e: T.RIGHT,
  0x3a: T.COLON,
  0x3b: T.SEMI,
}

/** A punctuation token (no text). */
export const tok = (type: TokenType, s: Buffer = EMPTY): Token => ({ type, s })

const isBlank = (c: number) => c === 0x20 || c === 0x09 || c === 0x0d || c === 0x0a

/** Bytes that may continue an atom (everything but blanks and the specials that start tokens). */
function atomOk(c: number): boolean {
  if (isBlank(c)) return false
  switch (c) {
    case 0x28: // (
    case 0x5b: // [
    case 0x22: // "
      return false
  }
  return PUNCT[c] === undefined
}

/**
 * Splits `text` into tokens; `null` when it does not parse: an unclosed `(`, `"` or `[`, or a
 * token that starts with `)` or `]`. Blanks (space, tab, CR, LF) separate tokens. A backslash
 * quotes the next byte everywhere. Nested comment parentheses are dropped from the comment's
 * text, as qmail's lexer does.
 */
export function parseTokens(text: Buffer): Token[] | null {
  const n = text.length
  const out: Token[] = []
  // All word texts live in one buffer, as in qmail: they are never longer than the input.
  const cbuf = Buffer.allocUnsafe(n)
  let c0 = 0
  for (let i = 0; i < n; i++) {
    const c = text[i]!
    const punct = PUNCT[c]
    if (punct !== undefined) {
      out.push(tok(punct))
      continue
    }
    if (isBlank(c)) continue
    if (c === 0x29 || c === 0x5d) return null // ")" or "]" cannot start a token
    if (c === 0x28 || c === 0x22 || c === 0x5b) {
      const type = c === 0x28 ? T.COMMENT : c === 0x22 ? T.QUOTE : T.LITERAL
      const close = c === 0x28 ? 0x29 : c === 0x22 ? 0x22 : 0x5d
      const start = c0
      let level = 1
      while (level) {
        if (++i >= n) return null
        let ch = text[i]!
        if (c === 0x28 && ch === 0x28) {
          level++
          continue
        }
        if (ch === close) {
          level--
          continue
        }
        if (ch === 0x5c) {
          if (++i >= n) return null
          ch = text[i]!
        }
        cbuf[c0++] = ch
      }
      out.push({ type, s: cbuf.subarray(start, c0) })
      continue
    }
    // An atom: runs while atomOk; a backslash quotes the next byte (at the very end it is dropped).
    const start = c0
    do {
      if (text[i] === 0x5c) if (++i >= n) break
      cbuf[c0++] = text[i]!
      if (++i >= n) break
    } while (atomOk(text[i]!))
    i--
    const s = cbuf.subarray(start, c0)
    out.push({ type: atomNeedsQuote(s) ? T.QUOTE : T.ATOM, s })
  }
  return out
}

/** qmail's atomcheck: an atom with control or 8-bit bytes, `)`, `]` or `\` prints as a quoted string. */
function atomNeedsQuote(s: Buffer): boolean {
  for (const ch of s) if (ch < 32 || ch > 126 || ch === 0x29 || ch === 0x5d || ch === 0x5c) return true
  return false
}

const isWord = (t: number) => t === T.ATOM || t === T.LITERAL || t === T.QUOTE || t === T.COMMENT

function needSpace(t1: number, t2: number): boolean {
  if (!t1) return false
  if (t1 === T.COLON || t1 === T.COMMA) return true
  if (t2 === T.LEFT) return true
  return isWord(t1) && isWord(t2)
}

const needsEscape = (ch: number) =>
  ch === 0x22 ||
  ch === 0x5b ||
  ch === 0x5d ||
  ch === 0x28 ||
  ch === 0x29 ||
  ch === 0x5c ||
  ch === 0x0d ||
  ch === 0x0a
const PUNCT_CHAR: Record<number, number> = {
  [T.AT]: 0x40,
  [T.DOT]: 0x2e,
  [T.LEFT]: 0x3c,
  [T.RIGHT]: 0x3e,
  [T.SEMI]: 0x3b,
  [T.COLON]: 0x3a,
  [T.COMMA]: 0x2c,
}
const OPEN: Record<number, number> = { [T.QUOTE]: 0x22, [T.LITERAL]: 0x5b, [T.COMMENT]: 0x28 }
const CLOSE: Record<number, number> = { [T.QUOTE]: 0x22, [T.LITERAL]: 0x5d, [T.COMMENT]: 0x29 }

/**
 * Prints tokens as a header line ending in LF, folded the way qmail does: after every comma a
 * line break (LF + space, and the space that always follows a comma) is put in tentatively, and
 * taken out again at the next comma (or the end) when the joined line, its trailing comma
 * included, is at most `lineLength - 2` bytes (78 for qmail-inject's 80).
 */
export function unparseTokens(tokens: Token[], lineLength = 80): Buffer {
  let len = 0
  let last = 0
  for (const t of tokens) {
    if (needSpace(last, t.type)) len++
    last = t.type
    if (t.type === T.COMMA) len += 3
    else if (isWord(t.type)) {
      if (t.type !== T.ATOM) len += 2
      for (const ch of t.s) len += needsEscape(ch) ? 2 : 1
    } else len++
  }
  len += 2
  const buf = Buffer.allocUnsafe(len)
  let s = 0
  let lineb = 0
  let linee = -1
  const tentativeBreak = () => {
    buf[s] = 0x0a
    buf[s + 1] = 0x20
    if (linee >= 0 && (!lineLength || s - lineb <= lineLength)) {
      // Join: drop the previous break by moving what followed it back two bytes.
      buf.copy(buf, linee, linee + 2, s + 2)
      linee = s - 2
    } else {
      if (linee >= 0) lineb = linee + 1
      linee = s
      s += 2
    }
  }
  last = 0
  for (const t of tokens) {
    if (needSpace(last, t.type)) buf[s++] = 0x20
    last = t.type
    if (t.type === T.COMMA) {
      buf[s++] = 0x2c
      tentativeBreak()
    } else if (isWord(t.type)) {
      const open = OPEN[t.type]
      if (open !== undefined) buf[s++] = open
      for (const ch of t.s) {
        if (needsEscape(ch)) buf[s++] = 0x5c
        buf[s++] = ch
      }
      const close = CLOSE[t.type]
      if (close !== undefined) buf[s++] = close
    } else buf[s++] = PUNCT_CHAR[t.type]!
  }
  tentativeBreak()
  s--
  return buf.subarray(0, s)
}

/** The envelope form of tokens: words without quotes, literals in brackets, comments dropped. */
export function unquoteTokens(tokens: Token[]): Buffer {
  const parts: Buffer[] = []
  for (const t of tokens) {
    if (t.type === T.COMMENT) continue
    if (t.type === T.ATOM || t.type === T.QUOTE) parts.push(t.s)
    else if (t.type === T.LITERAL) parts.push(Buffer.from('['), t.s, Buffer.from(']'))
    else parts.push(Buffer.from([PUNCT_CHAR[t.type]!]))
  }
  return Buffer.concat(parts)
}

/**
 * Called for each address found, with its tokens in REVERSE order (rightmost first), as qmail's
 * rewriting rules expect; returns the tokens to print instead (also reversed).
 */
export type AddressCallback = (reversed: Token[]) => Token[]

/**
 * Walks a whole header field (name, colon, address list) from right to left, as qmail's
 * token822_addrlist does, calling `onAddress` for every address; returns the field's new tokens,
 * or `null` when the list does not parse: a `:` with no `;` after it, `;;`, or `>` without `<`.
 * The first two tokens (the field name and its colon) are never part of the list.
 * Missing commas between addresses are inserted; words in front of `<...>` are its phrase.
 */
export function walkAddressList(tokens: Token[], onAddress: AddressCallback): Token[] | null {
  const out: Token[] = []
  let addr: Token[] = []
  let ingroup = false
  let wordok = true
  const beginning = 2
  let t = tokens.length - 1
  const got = () => {
    for (const a of onAddress(addr)) out.push(a)
    addr = []
  }
  const flush = () => {
    if (addr.length) got()
  }
  const flushComma = () => {
    if (addr.length) {
      got()
      out.push(tok(T.COMMA))
    }
  }
  while (t >= beginning) {
    const cur = tokens[t]!
    switch (cur.type) {
      case T.SEMI:
        flushComma()
        if (ingroup) return null
        ingroup = true
        wordok = true
        break
      case T.COLON:
        flush()
        if (!ingroup) return null
        ingroup = false
        while (t >= beginning && tokens[t]!.type !== T.COMMA) out.push(tokens[t--]!)
        if (t >= beginning) out.push(tokens[t--]!)
        wordok = true
        continue
      case T.RIGHT: {
        flushComma()
        out.push(tokens[t--]!)
        while (t >= beginning && tokens[t]!.type !== T.LEFT) addr.push(tokens[t--]!)
        got() // even when empty: <>
        if (t < beginning) return null
        out.push(tokens[t--]!)
        for (;;) {
          const ty = t >= beginning ? tokens[t]!.type : 0
          if (ty !== T.COMMENT && ty !== T.ATOM && ty !== T.QUOTE && ty !== T.AT && ty !== T.DOT) break
          out.push(tokens[t--]!)
        }
        wordok = false
        continue
      }
      case T.ATOM:
      case T.QUOTE:
      case T.LITERAL:
        if (!wordok) flushComma()
        wordok = false
        addr.push(tokens[t--]!)
        continue
      case T.COMMENT:
        // lexically a space: goes straight to the output, wordok unchanged
        break
      case T.COMMA:
        flush()
        wordok = true
        break
      default:
        wordok = true
        addr.push(tokens[t--]!)
        continue
    }
    out.push(tokens[t--]!)
  }
  flush()
  ++t
  while (t > 0) out.push(tokens[--t]!)
  return out.reverse()
}

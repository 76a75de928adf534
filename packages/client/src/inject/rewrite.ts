/**
 * qmail-inject's address rewriting (rwgeneric): every address in a rewritten header field, every
 * recipient argument, the `-f` value and the generated From and Return-Path go through it.
 */
import { InjectParseError } from './errors.js'
import { parseTokens, T, type Token } from './token822.js'

/** The three control values rewriting appends, already tokenised and reversed. */
export interface RewriteDomains {
  /** Tokens of `@DEFAULTHOST`, reversed. */
  defaulthost: Token[]
  /** Tokens of `.DEFAULTDOMAIN`, reversed. */
  defaultdomain: Token[]
  /** Tokens of `.PLUSDOMAIN`, reversed. */
  plusdomain: Token[]
}

/**
 * Tokenises `prefix + value` as qmail-inject does at start-up (`@` + defaulthost, `.` +
 * defaultdomain, `.` + plusdomain); a value that does not parse is fatal, naming that text.
 */
export function domainTokens(prefix: '@' | '.', value: Buffer): Token[] {
  const text = Buffer.concat([Buffer.from(prefix), value])
  const tokens = parseTokens(text)
  if (!tokens) throw new InjectParseError(text)
  return tokens.reverse()
}

/**
 * Rewrites one address given as REVERSED tokens (rightmost first), returning new reversed tokens.
 * In order: `<>` and `x@[]` stay; a source route is dropped; one trailing dot, then one trailing
 * `@` is dropped; no `@` appends `@DEFAULTHOST`; a last atom ending in `+` gets `.PLUSDOMAIN`
 * instead of the `+`; a domain with neither a dot nor a literal gets `.DEFAULTDOMAIN`.
 */
export function rewriteAddress(reversed: Token[], d: RewriteDomains): Token[] {
  if (!reversed.length) return reversed // <>
  const a0 = reversed[0]!
  if (reversed.length >= 2 && reversed[1]!.type === T.AT && a0.type === T.LITERAL && !a0.s.length) {
    return reversed // x@[] (VERP and GreenArrow's raw-injection form) is never touched
  }
  let a = reversed.slice()
  // Source route: the address starts with "@" — drop everything up to and including the colon.
  if (a[a.length - 1]!.type === T.AT) {
    let len = a.length
    while (len) if (a[--len]!.type === T.COLON) break
    a.length = len
  }
  if (!a.length) return a // <@foo:> -> <>
  if (a[0]!.type === T.DOT) a.shift()
  if (!a.length) return a // <.> -> <>
  if (a[0]!.type === T.AT) a.shift()
  if (!a.length) return a // <@> -> <>
  if (!a.some(t => t.type === T.AT)) a = [...d.defaulthost, ...a]
  const last = a[0]!
  if (last.type === T.ATOM && last.s.length && last.s[last.s.length - 1] === 0x2b) {
    a[0] = { type: T.ATOM, s: last.s.subarray(0, last.s.length - 1) }
    a = [...d.plusdomain, ...a]
  }
  for (const t of a) {
    if (t.type === T.DOT) return a
    if (t.type === T.AT) break
  }
  for (const t of a) {
    if (t.type === T.LITERAL) return a
    if (t.type === T.AT) break
  }
  return [...d.defaultdomain, ...a]
}

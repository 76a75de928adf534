/**
 * qmail's quote(): an address's local part as an RFC 822 word, quoted only when it must be.
 */

// Bytes that may stand unquoted in a local part: printable ASCII except the specials
// space " ( ) , : ; < > @ [ \ ] (and DEL).
const OK = new Uint8Array(128)
for (let c = 33; c < 127; c++) OK[c] = 1
for (const ch of ' "(),:;<>@[\\]') OK[ch.charCodeAt(0)] = 0

/** True when `s` needs quoting: empty, a special, control or 8-bit byte, a dot at either end or doubled. */
export function quoteNeed(s: Buffer): boolean {
  const n = s.length
  if (!n) return true
  for (const c of s) if (c >= 128 || !OK[c]) return true
  if (s[0] === 0x2e || s[n - 1] === 0x2e) return true
  for (let i = 0; i < n - 1; i++) if (s[i] === 0x2e && s[i + 1] === 0x2e) return true
  return false
}

/** `s` as a word: itself, or a quoted string where CR, LF, `"` and `\` get a backslash. */
export function quote(s: Buffer): Buffer {
  if (!quoteNeed(s)) return s
  const out: number[] = [0x22]
  for (const ch of s) {
    if (ch === 0x0d || ch === 0x0a || ch === 0x22 || ch === 0x5c) out.push(0x5c)
    out.push(ch)
  }
  out.push(0x22)
  return Buffer.from(out)
}

/**
 * qmail's quote2(): an envelope address as printed — the part before its last `@` quoted when
 * needed, the rest as is. Like the C function it works on a C string, so it stops at a NUL byte.
 */
export function quote2(address: Buffer): Buffer {
  const nul = address.indexOf(0)
  const s = nul >= 0 ? address.subarray(0, nul) : address
  if (!s.length) return s
  const at = s.lastIndexOf(0x40)
  if (at < 0) return quote(s)
  return Buffer.concat([quote(s.subarray(0, at)), s.subarray(at)])
}

/** An envelope address cut at its first NUL, as qmail hands it to the queue (a C string). */
export function cString(s: Buffer): Buffer {
  const nul = s.indexOf(0)
  return nul >= 0 ? s.subarray(0, nul) : s
}

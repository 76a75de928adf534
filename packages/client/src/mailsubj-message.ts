/**
 * What qmail's `mailsubj` script writes in front of its input:
 *
 *     echo Subject: "$subject"
 *     echo To: ${1+"$@"}
 *     echo ''
 *
 * run by Debian's `/bin/sh` (dash), whose `echo` interprets backslash sequences, so the
 * header is built with the same rules.
 */
export function mailsubjHeader(subject: Buffer, recipients: Buffer[]): Buffer {
  return Buffer.concat([
    dashEcho([Buffer.from('Subject:'), subject]),
    dashEcho([Buffer.from('To:'), ...recipients]),
    dashEcho([Buffer.alloc(0)]),
  ])
}

/**
 * dash's builtin `echo` (no `-n` handling: mailsubj's first word is never `-n`): the words
 * joined by spaces with a final LF, each word's escapes converted — `\a \b \e \f \n \r \t \v \\`,
 * `\NNN` and `\0NNN` octal, `\c` ends all output with no LF; any other `\x` stays as written.
 */
export function dashEcho(words: Buffer[]): Buffer {
  const out: number[] = []
  for (let w = 0; w < words.length; w++) {
    if (convertWord(words[w]!, out)) return Buffer.from(out)
    out.push(w === words.length - 1 ? 0x0a : 0x20)
  }
  return Buffer.from(out)
}

const SIMPLE: Record<number, number> = {
  0x5c: 0x5c, // \\
  0x61: 0x07, // \a
  0x62: 0x08, // \b
  0x65: 0x1b, // \e
  0x66: 0x0c, // \f
  0x6e: 0x0a, // \n
  0x72: 0x0d, // \r
  0x74: 0x09, // \t
  0x76: 0x0b, // \v
}

const isOctal = (c: number | undefined): c is number => c !== undefined && c >= 0x30 && c <= 0x37

/** Appends one word's converted bytes; true when `\c` ended the output. */
function convertWord(word: Buffer, out: number[]): boolean {
  let i = 0
  while (i < word.length) {
    const ch = word[i++]!
    if (ch !== 0x5c) {
      out.push(ch)
      continue
    }
    const c = word[i]
    if (c === 0x63) return true
    // dash skips the 0 of `\0NNN`, then reads up to three octal digits as for `\NNN`.
    if (c === 0x30 && isOctal(word[i + 1])) i++
    const d = word[i]
    if (isOctal(d)) {
      let value = 0
      for (let n = 0; n < 3 && isOctal(word[i]); n++) value = value * 8 + (word[i++]! - 0x30)
      out.push(value & 0xff)
    } else if (d !== undefined && SIMPLE[d] !== undefined) {
      out.push(SIMPLE[d]!)
      i++
    } else {
      out.push(0x5c)
    }
  }
  return false
}

/**
 * The Received header a QMQP server puts on top of a message.
 *
 * - `qmail`: what qmail-qmqpd writes (qmail's received.c): the remote host or "unknown", the
 *   remote info and IP in parentheses, then on an LF + two spaces continuation the local host
 *   (TCPLOCALHOST, else TCPLOCALIP, else "unknown"), "with QMQP" and the date in UTC as
 *   `D Mon YYYY HH:MM:SS -0000`. Every value passes qmail's byte filter.
 * - `greenarrow`: the same line with `me` (the Engine's control/me) as the "by" host: the Engine
 *   names that host, and its exact text is not published, so qmail's format is the model.
 * - `postfix`: what Postfix's qmqpd writes: `from NAME (NAME [ADDR])`, tab continuations,
 *   `by ME (Postfix) with QMQP id ID`, `for <rcpt>` when there is exactly one recipient, and
 *   Postfix's date (`Fri,  4 Dec 2026 15:41:30 +0000 (UTC)`).
 */
export type ReceivedFormat = 'qmail' | 'postfix' | 'greenarrow'

type Text = string | Buffer

/** What the Received line is made of. Strings are taken as latin1 bytes; Buffers as they are. */
export interface ReceivedFacts {
  remoteHost?: Text
  remoteInfo?: Text
  remoteIp?: Text
  localHost?: Text
  localIp?: Text
  /** The server's own name (control/me): the "by" host of the greenarrow and postfix formats. */
  me: Text
  date: Date
  /** Queue id for the postfix format; "unknown" when not given. */
  id?: Text
  /** Envelope recipients; the postfix format names the recipient when there is exactly one. */
  recipients?: Text[]
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec']
const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat']

const bytes = (t: Text): Buffer => (typeof t === 'string' ? Buffer.from(t, 'latin1') : t)
const two = (n: number): string => String(n).padStart(2, '0')

/**
 * qmail's filter for values in the Received line: letters, digits and `. @ % + / = : -` pass,
 * and `[` `]` too (notqmail 1.09, the reference server; qmail 1.03 turned them into `?`);
 * every other byte becomes `?`.
 */
export function qmailSafe(value: Text): Buffer {
  return Buffer.from(qmailSafeText(value), 'latin1')
}

/** The bytes qmail's filter lets through, one flag per byte value. */
const SAFE = new Uint8Array(256)
for (let c = 0; c < 256; c++)
  SAFE[c] =
    (c >= 0x61 && c <= 0x7a) ||
    (c >= 0x41 && c <= 0x5a) ||
    (c >= 0x30 && c <= 0x39) ||
    '.@%+/=:-[]'.includes(String.fromCharCode(c))
      ? 1
      : 0

/** qmailSafe as latin1 text (one character per byte), so the line is built as one string. */
function qmailSafeText(value: Text): string {
  if (typeof value === 'string') {
    let i = 0
    while (i < value.length && value.charCodeAt(i) < 256 && SAFE[value.charCodeAt(i)]) i++
    if (i === value.length) return value // the common case: nothing to replace
    return qmailSafeText(Buffer.from(value, 'latin1'))
  }
  let out = ''
  let from = 0
  for (let i = 0; i < value.length; i++) {
    if (SAFE[value[i]!]) continue
    out += value.toString('latin1', from, i) + '?'
    from = i + 1
  }
  return out + value.toString('latin1', from)
}

/** qmail's date822fmt: `4 Dec 2026 15:41:30 -0000` (UTC, day without a leading zero, no weekday). */
export function qmailDate(date: Date): string {
  // Messages arrive many to a second: the text of the last second is kept.
  const second = Math.floor(date.getTime() / 1000)
  if (second === lastSecond && lastDateText !== '') return lastDateText
  lastSecond = second
  return (lastDateText = `${date.getUTCDate()} ${MONTHS[date.getUTCMonth()]} ${date.getUTCFullYear()} ${two(date.getUTCHours())}:${two(date.getUTCMinutes())}:${two(date.getUTCSeconds())} -0000`)
}
let lastSecond = NaN
let lastDateText = ''

/** Postfix's mail_date in UTC: `Fri,  4 Dec 2026 15:41:30 +0000 (UTC)` (day padded with a space). */
export function postfixDate(date: Date): string {
  const day = String(date.getUTCDate()).padStart(2, ' ')
  return `${DAYS[date.getUTCDay()]}, ${day} ${MONTHS[date.getUTCMonth()]} ${date.getUTCFullYear()} ${two(date.getUTCHours())}:${two(date.getUTCMinutes())}:${two(date.getUTCSeconds())} +0000 (UTC)`
}

/** The Received header in the chosen format, ending with LF (the QMQP message format). */
export function receivedLine(format: ReceivedFormat, facts: ReceivedFacts): Buffer {
  if (format === 'postfix') return postfixReceived(facts)
  const local = format === 'greenarrow' ? facts.me : (facts.localHost ?? facts.localIp ?? 'unknown')
  // Every piece is latin1 text, one character per byte: the line is one string, then one Buffer.
  const info = facts.remoteInfo !== undefined ? `${qmailSafeText(facts.remoteInfo)}@` : ''
  return Buffer.from(
    `Received: from ${qmailSafeText(facts.remoteHost ?? 'unknown')} (${info}${qmailSafeText(facts.remoteIp ?? 'unknown')})\n  by ${qmailSafeText(local)} with QMQP; ${qmailDate(facts.date)}\n`,
    'latin1',
  )
}

function postfixReceived(facts: ReceivedFacts): Buffer {
  const name = bytes(facts.remoteHost ?? 'unknown')
  const ip = bytes(facts.remoteIp ?? 'unknown')
  // Postfix writes IPv6 addresses in the RFC 5321 address-literal form.
  const addr = ip.includes(0x3a) ? Buffer.concat([Buffer.from('IPv6:'), ip]) : ip
  const id = bytes(facts.id ?? 'unknown')
  const me = bytes(facts.me)
  const date = postfixDate(facts.date)
  const parts: Buffer[] = [
    Buffer.from('Received: from '),
    name,
    Buffer.from(' ('),
    name,
    Buffer.from(' ['),
    addr,
    Buffer.from('])\n'),
  ]
  const rcpts = facts.recipients ?? []
  if (rcpts.length === 1) {
    parts.push(Buffer.from('\tby '), me, Buffer.from(' (Postfix) with QMQP id '), id, Buffer.from('\n'))
    parts.push(Buffer.from('\tfor <'), quoteLocalPart(bytes(rcpts[0]!)), Buffer.from(`>; ${date}\n`))
  } else {
    parts.push(Buffer.from('\tby '), me, Buffer.from(' (Postfix) with QMQP\n'))
    parts.push(Buffer.from('\tid '), id, Buffer.from(`; ${date}\n`))
  }
  return Buffer.concat(parts)
}

/**
 * Quotes the local part of an address when it is not a dot-atom, as Postfix does for the
 * `for <...>` clause: `"a b"@example.com`. Backslash and double quote are escaped.
 */
export function quoteLocalPart(address: Buffer): Buffer {
  const at = address.lastIndexOf(0x40)
  const local = at < 0 ? address : address.subarray(0, at)
  const rest = at < 0 ? Buffer.alloc(0) : address.subarray(at)
  if (local.length === 0 || isDotAtom(local)) return address
  const quoted: number[] = [0x22]
  for (const c of local) {
    if (c === 0x22 || c === 0x5c) quoted.push(0x5c)
    quoted.push(c)
  }
  quoted.push(0x22)
  return Buffer.concat([Buffer.from(quoted), rest])
}

function isDotAtom(s: Buffer): boolean {
  const text = s.toString('latin1')
  return /^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*$/.test(text)
}

/**
 * qmail's VERP request: an envelope sender `prefix@domain-@[]` asks the queue to give each
 * recipient its own sender, `prefix` + the recipient with its last `@` turned into `=` + `@domain`
 * (qmail-send: `owner-@host-@[]` + `user@dom` -> `owner-user=dom@host`).
 *
 * GreenArrow documents this form for mail injected through sendmail / qmail-inject, with the
 * bounce processor's fields in the prefix: `LocalPartOfBounceMailbox-ListID-SendID-@BounceDomain-@[]`.
 */

/** A VERP request sender, with the GreenArrow fields read from its prefix where it has them. */
export interface VerpSender {
  /** Everything before the last `@`, e.g. `bounce-t100-20111229-`. */
  prefix: string
  /** Between the last `@` and the trailing `-@[]`, e.g. `bounces.example.com`. */
  domain: string
  /**
   * The prefix read as GreenArrow's `LocalPart-ListID-SendID-` (present only when the prefix ends
   * with `-` and has at least three parts; a ListID cannot hold `-`, so the last two parts are
   * the ListID and the SendID, and the local part is the rest).
   */
  greenArrow: { bounceLocalPart: string; listId: string; sendId: string } | null
}

const SUFFIX = Buffer.from('-@[]')

/** The VERP request in `sender`, or null when it is an ordinary sender. */
export function parseVerpSender(sender: Buffer): VerpSender | null {
  const at = verpAt(sender)
  if (at < 0) return null
  const prefix = sender.toString('utf8', 0, at)
  const domain = sender.toString('utf8', at + 1, sender.length - SUFFIX.length)
  let greenArrow: VerpSender['greenArrow'] = null
  if (prefix.endsWith('-')) {
    const parts = prefix.slice(0, -1).split('-')
    if (parts.length >= 3 && parts.every(p => p.length > 0)) {
      const sendId = parts.pop()!
      const listId = parts.pop()!
      greenArrow = { bounceLocalPart: parts.join('-'), listId, sendId }
    }
  }
  return { prefix, domain, greenArrow }
}

/**
 * Where the `@` before the domain is, or -1 when `sender` is not a VERP request. As in qmail-send,
 * the sender must end with `-@[]` and hold an `@` before that.
 */
function verpAt(sender: Buffer): number {
  if (sender.length < SUFFIX.length || !sender.subarray(sender.length - SUFFIX.length).equals(SUFFIX))
    return -1
  return sender.subarray(0, sender.length - SUFFIX.length).lastIndexOf(0x40)
}

/**
 * The envelope sender the queue gives `recipient`: the per-recipient form for a VERP request
 * (when the recipient has an `@`, as qmail-send requires), else `sender` unchanged.
 */
export function verpSenderFor(sender: Buffer, recipient: Buffer): Buffer {
  const at = verpAt(sender)
  const rcptAt = recipient.lastIndexOf(0x40)
  if (at < 0 || rcptAt < 0) return sender
  return Buffer.concat([
    sender.subarray(0, at),
    recipient.subarray(0, rcptAt),
    Buffer.from('='),
    recipient.subarray(rcptAt + 1),
    Buffer.from('@'),
    sender.subarray(at + 1, sender.length - SUFFIX.length),
  ])
}

/**
 * Header field names qmail-inject knows (hfield.c): matched case-insensitively, with only spaces
 * or tabs between the name and its colon.
 */

export const H = {
  SENDER: 'sender',
  FROM: 'from',
  REPLYTO: 'reply-to',
  TO: 'to',
  CC: 'cc',
  BCC: 'bcc',
  DATE: 'date',
  MESSAGEID: 'message-id',
  SUBJECT: 'subject',
  R_SENDER: 'resent-sender',
  R_FROM: 'resent-from',
  R_REPLYTO: 'resent-reply-to',
  R_TO: 'resent-to',
  R_CC: 'resent-cc',
  R_BCC: 'resent-bcc',
  R_DATE: 'resent-date',
  R_MESSAGEID: 'resent-message-id',
  RETURNRECEIPTTO: 'return-receipt-to',
  ERRORSTO: 'errors-to',
  APPARENTLYTO: 'apparently-to',
  RECEIVED: 'received',
  RETURNPATH: 'return-path',
  DELIVEREDTO: 'delivered-to',
  CONTENTLENGTH: 'content-length',
  CONTENTTYPE: 'content-type',
  CONTENTTRANSFERENCODING: 'content-transfer-encoding',
  NOTICEREQUESTED: 'notice-requested-upon-delivery-to',
  MAILFOLLOWUPTO: 'mail-followup-to',
} as const
export type KnownField = (typeof H)[keyof typeof H]
const NAMES = Object.values(H)

/**
 * True when `line` is a field named `name` (lower case): the name in any ASCII case, then only
 * spaces/tabs, then a colon.
 */
export function fieldNamed(line: Buffer, name: string): boolean {
  let i = 0
  for (; i < name.length; i++) {
    if (i >= line.length) return false
    const ch = name.charCodeAt(i)
    const b = line[i]!
    if (ch !== b) {
      if (ch === 0x2d) return false
      if (ch - 32 !== b) return false
    }
  }
  for (; i < line.length; i++) {
    const b = line[i]!
    if (b === 0x3a) return true
    if (b !== 0x20 && b !== 0x09) return false
  }
  return false
}

/** Which known field `line` is, or undefined. */
export function knownField(line: Buffer): KnownField | undefined {
  for (const name of NAMES) if (fieldNamed(line, name)) return name
  return undefined
}

/**
 * True when `line` can be a header field: it has a colon, and the name before it (blanks before
 * the colon allowed) is non-empty and made of bytes 33-126 only.
 */
export function fieldValid(line: Buffer): boolean {
  let j = line.indexOf(0x3a)
  if (j < 0) return false
  while (j && (line[j - 1] === 0x20 || line[j - 1] === 0x09)) j--
  if (!j) return false
  for (let i = 0; i < j; i++) {
    const ch = line[i]!
    if (ch <= 32 || ch >= 127) return false
  }
  return true
}

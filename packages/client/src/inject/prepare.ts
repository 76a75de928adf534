/**
 * Everything qmail-inject does to a message before it is queued: header fields parsed and
 * rewritten, Date / Message-ID / From / Cc / Mail-Followup-To added, envelope sender and
 * recipients chosen. Behaviour: netqmail 1.06 (= qmail 1.03's qmail-inject.c).
 */
import type { Readable } from 'node:stream'
import type { InjectFlags } from './args.js'
import { resolveControl, readMftFile, type InjectControlValues } from './control-files.js'
import {
  InjectError,
  InjectMemoryError,
  InjectParseError,
  InjectAddressError,
  InjectReadError,
} from './errors.js'
import { splitMessage } from './header-body.js'
import { H, knownField, type KnownField } from './header-fields.js'
import { applyMailClass, mailClassFromEnv, unsupportedWarnings, type MailClassSetting } from './mail-class.js'
import { dateField, messageIdField, startSeconds } from './new-fields.js'
import { cString, quote2, quoteNeed } from './quote.js'
import { domainTokens, rewriteAddress, type RewriteDomains } from './rewrite.js'
import { parseTokens, T, tok, unparseTokens, unquoteTokens, walkAddressList, type Token } from './token822.js'

/** What prepareMessage needs besides the message. */
export interface InjectContext {
  /** The operands after the options (recipient arguments). */
  args: Buffer[]
  flags: InjectFlags
  /** The raw environment (QMAILUSER, QMAILHOST, QMAILNAME, QMAILINJECT, ...). */
  env: Map<string, Buffer>
  /** Control files as read (undefined = missing); defaults from `me` are applied here. */
  control: InjectControlValues
  /** Start time: Date, Message-ID and QMAILINJECT=m use its whole seconds. */
  now: Date
  /** Process id for Message-ID and QMAILINJECT=m. */
  pid: number
  /** Mail class handling; when undefined it comes from GREENARROW_MAILCLASS / QMQPKIT_MAILCLASS_MODE. */
  mailClass?: MailClassSetting | undefined
  /** The QMAILMFTFILE list (null = feature off); when undefined, read from the file QMAILMFTFILE names. */
  mft?: Buffer[] | null | undefined
}

export interface PreparedMessage {
  /** The exact bytes qmail-inject would queue (what -n prints after its Return-Path line). */
  message: Buffer
  /** `Return-Path: <SENDER>` + LF, the first line -n prints. */
  returnPath: Buffer
  /** Envelope sender (empty for `<>`). */
  sender: Buffer
  /** Envelope recipients in qmail's order, duplicates kept. */
  recipients: Buffer[]
  /** Full warning lines (without LF) for stderr. */
  warnings: string[]
}

const nl = Buffer.from('\n')

/** QMAILINJECT letters: c s f i r m; others are ignored. */
interface InjectOptions {
  nameComment: boolean
  deleteSender: boolean
  deleteFrom: boolean
  deleteMessageId: boolean
  hackRecip: boolean
  hackMess: boolean
}

function injectOptions(env: Map<string, Buffer>): InjectOptions {
  const s = env.get('QMAILINJECT')?.toString('latin1') ?? ''
  return {
    nameComment: s.includes('c'),
    deleteSender: s.includes('s'),
    deleteFrom: s.includes('f'),
    deleteMessageId: s.includes('i'),
    hackRecip: s.includes('r'),
    hackMess: s.includes('m'),
  }
}

const first = (env: Map<string, Buffer>, ...names: string[]): Buffer | undefined => {
  for (const n of names) {
    const v = env.get(n)
    if (v !== undefined) return v
  }
  return undefined
}

/** The domains rewriting appends, from control values and overrides; fatal when one does not parse. */
export function rewriteDomains(control: InjectControlValues, env: Map<string, Buffer>) {
  const r = resolveControl(control, env)
  // qmail-inject tokenises them in this order, so the first bad one is the one reported.
  const defaultdomain = domainTokens('.', r.defaultdomain)
  const defaulthost = domainTokens('@', r.defaulthost)
  const plusdomain = domainTokens('.', r.plusdomain)
  const domains: RewriteDomains = { defaulthost, defaultdomain, plusdomain }
  return { domains, idhost: r.idhost }
}

/** The envelope sender a `-f` value gives; InjectParseError (quoted value, no LF) when it does not parse. */
export function senderFromArg(value: Buffer, domains: RewriteDomains): Buffer {
  const quoted = quote2(value)
  const tokens = parseTokens(quoted)
  if (!tokens) throw new InjectParseError(quoted)
  return unquoteTokens(rewriteAddress(tokens.reverse(), domains).reverse())
}

/** The envelope recipient an argument gives; InjectAddressError when it does not parse. */
export function recipientFromArg(value: Buffer, domains: RewriteDomains): Buffer {
  // An argument with an empty local part (`@host`) rewrites to nothing, an empty recipient,
  // as the reference observed qmail-inject do (qmail-inject.md, "Envelope"): it is parsed as
  // written, a route without an address, rather than quoted to `""@host` first.
  const tokens = parseTokens(value.lastIndexOf(0x40) === 0 ? value : quote2(value))
  if (!tokens) throw new InjectAddressError(value)
  return unquoteTokens(rewriteAddress(tokens.reverse(), domains).reverse())
}

/** `Return-Path: <SENDER>` + LF as -n prints it (local part quoted when needed). */
export function returnPathLine(sender: Buffer): Buffer {
  return Buffer.concat([Buffer.from('Return-Path: <'), quote2(sender), Buffer.from('>\n')])
}

/**
 * Prepares a message as qmail-inject does. Errors are InjectError subclasses carrying
 * qmail-inject's exact stderr text; they are raised in qmail's order (MFT file, control values,
 * -f values, recipient arguments, then the message).
 *
 * The message is read whole into memory (header and body); the body is copied unchanged.
 */
/**
 * The message as prepareMessage takes it: bytes, a stream, or a function that reads it (called
 * where the stream would be read) and gives its chunks.
 */
export type MessageInput = Buffer | Readable | (() => Promise<Buffer[]>)

export async function prepareMessage(input: MessageInput, ctx: InjectContext): Promise<PreparedMessage> {
  try {
    return await prepare(input, ctx)
  } catch (err) {
    if (err instanceof InjectError) throw err
    if (err instanceof RangeError) throw new InjectMemoryError()
    throw err
  }
}

async function readInput(input: MessageInput): Promise<Buffer> {
  if (Buffer.isBuffer(input)) return input
  let chunks: Buffer[] = []
  try {
    if (typeof input === 'function') chunks = await input()
    else
      for await (const chunk of input)
        chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as string))
  } catch (err) {
    throw new InjectReadError(err)
  }
  return Buffer.concat(chunks)
}

async function prepare(input: MessageInput, ctx: InjectContext): Promise<PreparedMessage> {
  const { env, flags } = ctx
  const opts = injectOptions(env)
  const warnings = unsupportedWarnings(env)
  const mailClass = ctx.mailClass !== undefined ? ctx.mailClass : mailClassFromEnv(env)
  const mftPath = env.get('QMAILMFTFILE')
  const mft = ctx.mft !== undefined ? ctx.mft : mftPath !== undefined ? await readMftFile(mftPath) : null
  const { domains, idhost } = rewriteDomains(ctx.control, env)
  const seconds = startSeconds(ctx.now)

  const mailhost = first(env, 'QMAILHOST', 'MAILHOST')
  const mailrhost = first(env, 'QMAILSHOST') ?? mailhost
  const mailuser = first(env, 'QMAILUSER', 'MAILUSER', 'USER', 'LOGNAME') ?? Buffer.from('anonymous')
  const mailruser = first(env, 'QMAILSUSER') ?? mailuser
  const fullname = first(env, 'QMAILNAME', 'MAILNAME', 'NAME')

  let sender: Buffer | undefined
  for (const value of flags.senders) sender = senderFromArg(value, domains)

  let strategy = flags.recipients
  if (strategy === 'A') strategy = ctx.args.length ? 'a' : 'h'
  const reciplist: Buffer[] = []
  if (strategy !== 'h') for (const arg of ctx.args) reciplist.push(recipientFromArg(arg, domains))
  const useHeader = strategy !== 'a'

  const hrlist: Buffer[] = [] // To, Cc, Bcc, Apparently-To
  const tocclist: Buffer[] = [] // To, Cc (for Mail-Followup-To)
  const hrrlist: Buffer[] = [] // Resent-To, Resent-Cc, Resent-Bcc
  const seen = new Set<KnownField>()
  const saved: Buffer[] = []

  const envelope = (reversed: Token[]) => unquoteTokens(reversed.slice().reverse())
  const rewriteField = (field: Buffer, onAddress: (reversed: Token[]) => void): Buffer => {
    const tokens = parseTokens(field)
    if (!tokens) throw new InjectParseError(field)
    const out = walkAddressList(tokens, reversed => {
      const rewritten = rewriteAddress(reversed, domains)
      onAddress(rewritten)
      return rewritten
    })
    if (!out) throw new InjectParseError(field)
    return unparseTokens(out)
  }
  const setReturn = (reversed: Token[]) => {
    if (sender !== undefined) return
    sender = envelope(reversed)
    if (opts.hackRecip) sender = Buffer.concat([sender, Buffer.from('-@[]')])
  }

  const data = await readInput(input)
  const { fields, body } = splitMessage(data)

  for (let h of fields) {
    const htype = knownField(h)
    if (opts.deleteFrom && htype === H.FROM) continue
    if (opts.deleteMessageId && htype === H.MESSAGEID) continue
    if (opts.deleteSender && htype === H.RETURNPATH) continue
    if (htype) seen.add(htype)
    switch (htype) {
      case H.TO:
      case H.CC:
        h = rewriteField(h, a => {
          hrlist.push(envelope(a))
          tocclist.push(envelope(a))
        })
        break
      case H.BCC:
      case H.APPARENTLYTO:
        h = rewriteField(h, a => hrlist.push(envelope(a)))
        break
      case H.R_TO:
      case H.R_CC:
      case H.R_BCC:
        h = rewriteField(h, a => hrrlist.push(envelope(a)))
        break
      case H.RETURNPATH:
        h = rewriteField(h, setReturn)
        break
      case H.SENDER:
      case H.FROM:
      case H.REPLYTO:
      case H.RETURNRECEIPTTO:
      case H.ERRORSTO:
      case H.R_SENDER:
      case H.R_FROM:
      case H.R_REPLYTO:
        h = rewriteField(h, () => {})
        break
    }
    if (htype === H.BCC || htype === H.R_BCC || htype === H.RETURNPATH || htype === H.CONTENTLENGTH) continue
    saved.push(h)
  }

  const resent =
    seen.has(H.R_SENDER) ||
    seen.has(H.R_FROM) ||
    seen.has(H.R_REPLYTO) ||
    seen.has(H.R_TO) ||
    seen.has(H.R_CC) ||
    seen.has(H.R_BCC) ||
    seen.has(H.R_DATE) ||
    seen.has(H.R_MESSAGEID)

  if (sender === undefined) {
    // The default Return-Path is built as a field and rewritten like one.
    let user = mailruser
    if (opts.hackMess) user = Buffer.concat([user, Buffer.from(`-${seconds}.${ctx.pid}`)])
    if (opts.hackRecip) user = Buffer.concat([user, Buffer.from('-')])
    const drp: Token[] = [tok(T.ATOM, Buffer.from('Return-Path')), tok(T.COLON), tok(T.QUOTE, user)]
    if (mailrhost !== undefined) drp.push(tok(T.AT), tok(T.ATOM, mailrhost))
    rewriteField(unparseTokens(drp), setReturn)
  }
  // Still unset only when the generated field held no address at all; qmail then prints "<>".
  const finalSender = sender ?? Buffer.alloc(0)

  const defaultFrom = (): Buffer => {
    const df: Token[] = [tok(T.ATOM, Buffer.from('From')), tok(T.COLON)]
    const asName = fullname !== undefined && !opts.nameComment
    if (asName) df.push(tok(T.QUOTE, fullname), tok(T.LEFT))
    df.push(tok(quoteNeed(mailuser) ? T.QUOTE : T.ATOM, mailuser))
    if (mailhost !== undefined) df.push(tok(T.AT), tok(T.ATOM, mailhost))
    if (asName) df.push(tok(T.RIGHT))
    if (fullname !== undefined && opts.nameComment) df.push(tok(T.COMMENT, fullname))
    return rewriteField(unparseTokens(df), () => {})
  }

  const head: Buffer[] = []
  if (resent) {
    const resentPrefix = Buffer.from('Resent-')
    if (!seen.has(H.R_DATE)) head.push(resentPrefix, dateField(seconds))
    if (!seen.has(H.R_MESSAGEID)) head.push(resentPrefix, messageIdField(seconds, ctx.pid, idhost))
    if (!seen.has(H.R_FROM)) head.push(resentPrefix, defaultFrom())
    if (!seen.has(H.R_TO) && !seen.has(H.R_CC))
      head.push(Buffer.from('Resent-Cc: recipient list not shown: ;\n'))
  } else {
    if (!seen.has(H.DATE)) head.push(dateField(seconds))
    if (!seen.has(H.MESSAGEID)) head.push(messageIdField(seconds, ctx.pid, idhost))
    if (!seen.has(H.FROM)) head.push(defaultFrom())
    if (!seen.has(H.TO) && !seen.has(H.CC)) head.push(Buffer.from('Cc: recipient list not shown: ;\n'))
    const mftField = mailFollowupTo(mft, tocclist, seen)
    if (mftField) head.push(mftField)
  }
  const { add, fields: kept } = applyMailClass(saved, mailClass)
  if (add) head.push(add)

  const recipients = [...reciplist, ...(useHeader ? (resent ? hrrlist : hrlist) : [])].map(cString)
  return {
    message: Buffer.concat([...head, ...kept, ...body]),
    returnPath: returnPathLine(finalSender),
    sender: cString(finalSender),
    recipients,
    warnings,
  }
}

/**
 * Mail-Followup-To, added when QMAILMFTFILE lists one of the To/Cc addresses (ignoring ASCII case)
 * and the message has none: every To and Cc address, last field first, one per line.
 */
function mailFollowupTo(mft: Buffer[] | null, tocclist: Buffer[], seen: Set<KnownField>): Buffer | undefined {
  if (!mft || seen.has(H.MAILFOLLOWUPTO)) return undefined
  // qmail's constmap folds ASCII letters only.
  const lower = (b: Buffer) => b.toString('latin1').replace(/[A-Z]/g, c => c.toLowerCase())
  const lists = new Set(mft.map(lower))
  if (!tocclist.some(a => lists.has(lower(a)))) return undefined
  const parts: Buffer[] = [Buffer.from('Mail-Followup-To: ')]
  for (let i = tocclist.length - 1; i >= 0; i--) {
    parts.push(quote2(tocclist[i]!))
    if (i) parts.push(Buffer.from(',\n  '))
  }
  parts.push(nl)
  return Buffer.concat(parts)
}

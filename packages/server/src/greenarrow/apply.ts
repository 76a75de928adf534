import { bodyBytes, type MessageBody, type Verdict } from '@qmqpkit/qmqp'
import { noMetadata, type ConnectionInfo, type GreenArrowMetadata } from '../injected-message.js'
import {
  DEFAULT_MAX_HEADER_BYTES,
  GREENARROW_CHECKS,
  type GreenArrowCheck,
  type GreenArrowConfig,
} from './config.js'
import { HeaderBlock, type HeaderField } from './header-block.js'
import { readHeader } from './header-reader.js'
import { receivedLine, type ReceivedFacts } from './received-line.js'
import { SplicedBody } from './spliced-body.js'
import { instanceIdProblem, listIdProblem, mailClassProblem, parseDkim } from './validate.js'
import { parseVerpSender, type VerpSender } from './verp.js'

/** GreenArrowMetadata with the VERP sender's GreenArrow fields (`verp.greenArrow`). */
export interface GreenArrowDetails extends GreenArrowMetadata {
  verp: VerpSender | null
}

export interface GreenArrowResult {
  metadata: GreenArrowDetails
  /** The message as the Engine would deliver it; streams its body from `received`. */
  delivered: MessageBody
  /** Set only when a failed check's policy refuses the message. */
  verdict?: Verdict
}

/** Facts that only the caller knows, for the postfix Received format. */
export interface GreenArrowExtras {
  recipients?: Buffer[]
  /** Queue id in the postfix Received format (default: the connection id). */
  queueId?: string
}

const GREENARROW_PREFIX = 'x-greenarrow-'

const LF = 0x0a
const CR = 0x0d
/** Field names the raw-injection step reads or removes, in lower case, as prefixes of a line. */
const RAW_FIELD_PREFIXES = [Buffer.from('x-greenarrow-'), Buffer.from('x-virtual-mta')]

/**
 * False only when the header of `buf` (ending within `maxHeaderBytes`) has no line that starts
 * with a name in RAW_FIELD_PREFIXES, whatever its case. Any doubt (a header that does not end
 * in time) answers true, and the caller takes the full path.
 */
function mayHoldGreenArrowFields(buf: Buffer, maxHeaderBytes: number): boolean {
  let pos = 0
  for (;;) {
    const nl = buf.indexOf(LF, pos)
    if (nl < 0 || nl > maxHeaderBytes) return true
    const first = buf[pos]!
    // The empty line: the header is over.
    if (first === LF || (first === CR && nl === pos + 1)) return false
    if ((first === 0x78 || first === 0x58) && buf[pos + 1] === 0x2d)
      for (const prefix of RAW_FIELD_PREFIXES) if (startsWithLower(buf, pos, nl, prefix)) return true
    pos = nl + 1
  }
}

/** Does buf[pos, end) start with `prefix` (lower-case ASCII), ignoring case? */
function startsWithLower(buf: Buffer, pos: number, end: number, prefix: Buffer): boolean {
  if (end - pos < prefix.length) return false
  for (let i = 0; i < prefix.length; i++) if ((buf[pos + i]! | 0x20) !== prefix[i]) return false
  return true
}

/** A variable of the connection's environment; a later setting wins, as in a process environment. */
function envValue(env: ConnectionInfo['env'], name: string): Buffer | undefined {
  for (let i = env.length - 1; i >= 0; i--) if (env[i]![0] === name) return env[i]![1]
  return undefined
}

/**
 * GreenArrow's processing of one injected message (reference/greenarrow.md §3-§6).
 *
 * SimpleMH when the connection's rule set GREENARROW_SIMPLEMH (any value, empty included) or
 * GREENARROW_MAILCLASS; raw injection otherwise. Reads only the header block of `received`,
 * extracts and checks the headers of that mode, applies the policies, and returns the message to
 * deliver: the Received line (unless hidden), the header block without any X-GreenArrow-* field,
 * then the rest of `received`, streamed from it.
 */
export async function applyGreenArrow(
  received: MessageBody,
  connection: ConnectionInfo,
  sender: Buffer,
  config: GreenArrowConfig,
  now: Date,
  extras: GreenArrowExtras = {},
): Promise<GreenArrowResult> {
  const env = connection.env
  const simpleMh =
    envValue(env, 'GREENARROW_SIMPLEMH') !== undefined || envValue(env, 'GREENARROW_MAILCLASS') !== undefined

  const maxHeaderBytes = config.maxHeaderBytes ?? DEFAULT_MAX_HEADER_BYTES
  // Raw injection of a message in memory whose header has no field this step reads or removes:
  // nothing to extract and nothing to strip, so the delivered form is the Received line and
  // the message as it came (what the full path below makes of such a message, byte for byte).
  if (!simpleMh && !config.hooks) {
    const whole = bodyBytes(received)
    if (whole && !mayHoldGreenArrowFields(whole, maxHeaderBytes)) {
      const metadata = noMetadata('raw') as GreenArrowDetails
      metadata.verp = parseVerpSender(sender)
      const hide = config.honourReceivedHide && envValue(env, 'GREENARROW_SMTP_RECEIVED_HIDE') !== undefined
      if (hide) return { metadata, delivered: received }
      const delivered = new SplicedBody(
        () => receivedLine(config.receivedFormat, receivedFacts(env, connection, config, now, extras)),
        received,
        0,
      )
      return { metadata, delivered }
    }
  }

  const scan = await readHeader(received, maxHeaderBytes)
  const headers = new HeaderBlock(scan.fields)
  const problems: GreenArrowMetadata['problems'] = []
  const failed: GreenArrowCheck[] = []
  const fail = (check: GreenArrowCheck, message: string): void => {
    problems.push({ check, message })
    failed.push(check)
  }
  if (scan.truncated)
    problems.push({
      check: 'headerTooLarge',
      message: `header longer than ${config.maxHeaderBytes ?? DEFAULT_MAX_HEADER_BYTES} bytes; fields past that were not read`,
    })

  if (simpleMh) await config.hooks?.earlyModify?.(headers)

  /** The first field of that name; a second one is noted and ignored. */
  const single = (name: string): HeaderField | undefined => {
    const lower = name.toLowerCase()
    let first: HeaderField | undefined
    let count = 0
    for (const f of headers.fields)
      if (f.lowerName === lower) {
        first ??= f
        count++
      }
    if (count > 1)
      problems.push({
        check: 'duplicateHeader',
        message: `${count} ${name} headers; the first one counts`,
      })
    return first
  }

  const metadata: GreenArrowDetails = noMetadata(simpleMh ? 'simplemh' : 'raw') as GreenArrowDetails
  metadata.verp = parseVerpSender(sender)
  metadata.problems = problems

  if (simpleMh) {
    // Mail class, first match wins: the header, the rule's GREENARROW_MAILCLASS, the default.
    // An empty value counts as not set.
    const fromHeader = single('X-GreenArrow-MailClass')?.value
    const fromRule = envValue(env, 'GREENARROW_MAILCLASS')?.toString('latin1')
    if (fromHeader) [metadata.mailClass, metadata.mailClassSource] = [fromHeader, 'header']
    else if (fromRule) [metadata.mailClass, metadata.mailClassSource] = [fromRule, 'rule']
    else if (config.defaultMailClass)
      [metadata.mailClass, metadata.mailClassSource] = [config.defaultMailClass, 'default']
    if (fromHeader === '')
      problems.push({ check: 'emptyHeader', message: 'empty X-GreenArrow-MailClass header ignored' })
    if (metadata.mailClass !== null) {
      const invalid = mailClassProblem(metadata.mailClass)
      const known =
        config.knownMailClasses?.some(k => k.toLowerCase() === metadata.mailClass!.toLowerCase()) ?? true
      if (invalid) fail('invalidMailClass', invalid)
      else if (!known) fail('unknownMailClass', `unknown mail class ${JSON.stringify(metadata.mailClass)}`)
    }

    const instance = single('X-GreenArrow-InstanceID')
    if (instance) {
      metadata.instanceId = instance.value
      const invalid = instanceIdProblem(instance.valueBytes)
      if (invalid) fail('invalidInstanceId', invalid)
    }

    const click = single('X-GreenArrow-Click-Tracking-ID')
    if (click) metadata.clickTrackingId = click.value

    // Several DKIM headers add up; a bad one adds nothing.
    const dkimFields = headers.fields.filter(f => f.is('X-GreenArrow-DKIM'))
    if (dkimFields.length > 0) {
      metadata.dkim = []
      for (const field of dkimFields) {
        const parsed = parseDkim(field.value, field.raw.length)
        if ('problem' in parsed) fail('invalidDkim', parsed.problem)
        else metadata.dkim.push(...parsed.keys)
      }
    }
  } else {
    // X-Virtual-MTA, when it is read at all, wins over X-GreenArrow-MtaID. An unknown VirtualMTA
    // means the default one (documented), so virtualMta stays null then.
    const xVirtual = config.processXVirtualMta ? single('X-Virtual-MTA')?.value : undefined
    const mta = xVirtual || single('X-GreenArrow-MtaID')?.value
    if (mta) {
      const known = config.knownVirtualMtas?.includes(mta) ?? true
      if (known) metadata.virtualMta = mta
      else
        fail('unknownVirtualMta', `unknown VirtualMTA ${JSON.stringify(mta)}; the default VirtualMTA is used`)
    }

    const sendId = single('X-GreenArrow-SendID')
    if (sendId) metadata.sendId = sendId.value

    const listId = single('X-GreenArrow-ListID')
    if (listId) {
      metadata.listId = listId.value
      const invalid = listIdProblem(listId.value)
      if (invalid) fail('invalidListId', invalid)
    }
  }

  // Every X-GreenArrow-* header goes, in both modes; X-Virtual-MTA only when configured.
  if (headers.fields.some(isGreenArrowField)) headers.remove(isGreenArrowField)
  if (config.stripXVirtualMta) headers.remove('X-Virtual-MTA')
  if (simpleMh) await config.hooks?.modify?.(headers)

  const hide = config.honourReceivedHide && envValue(env, 'GREENARROW_SMTP_RECEIVED_HIDE') !== undefined
  // The delivered form's new bytes are made when a backend first reads it: `discard:` never does.
  const delivered = new SplicedBody(
    () =>
      hide
        ? headers.toBuffer()
        : Buffer.concat([
            receivedLine(config.receivedFormat, receivedFacts(env, connection, config, now, extras)),
            headers.toBuffer(),
          ]),
    received,
    scan.end,
  )

  const verdict = policyVerdict(config, failed)
  return verdict ? { metadata, delivered, verdict } : { metadata, delivered }
}

/** The refusal the policies ask for: a D before any Z (a permanent answer is final), else the first Z, in GREENARROW_CHECKS order. */
function policyVerdict(config: GreenArrowConfig, failed: GreenArrowCheck[]): Verdict | undefined {
  if (failed.length === 0) return undefined
  let found: Verdict | undefined
  for (const check of GREENARROW_CHECKS.filter(c => failed.includes(c))) {
    const policy = config.policies[check]
    if (policy === 'accept') continue
    if (policy.reply === 'D') return { code: 'D', text: policy.text }
    found ??= { code: 'Z', text: policy.text }
  }
  return found
}

const isGreenArrowField = (f: HeaderField): boolean => f.lowerName.startsWith(GREENARROW_PREFIX)

/** The Received line's facts: the environment's, else the connection's; unknown ones left out. */
function receivedFacts(
  env: ConnectionInfo['env'],
  connection: ConnectionInfo,
  config: GreenArrowConfig,
  now: Date,
  extras: GreenArrowExtras,
): ReceivedFacts {
  const facts: ReceivedFacts = { me: config.me, date: now, id: extras.queueId ?? connection.id }
  const remoteHost = envValue(env, 'TCPREMOTEHOST') ?? connection.remoteHost
  const remoteInfo = envValue(env, 'TCPREMOTEINFO') ?? connection.remoteInfo
  const remoteIp = envValue(env, 'TCPREMOTEIP') ?? connection.remoteIp
  const localHost = envValue(env, 'TCPLOCALHOST')
  const localIp = envValue(env, 'TCPLOCALIP') ?? connection.localIp
  // exactOptionalPropertyTypes: a fact not known is absent, never undefined.
  if (remoteHost !== undefined) facts.remoteHost = remoteHost
  if (remoteInfo !== undefined) facts.remoteInfo = remoteInfo
  if (remoteIp !== undefined) facts.remoteIp = remoteIp
  if (localHost !== undefined) facts.localHost = localHost
  if (localIp !== undefined) facts.localIp = localIp
  if (extras.recipients !== undefined) facts.recipients = extras.recipients
  return facts
}

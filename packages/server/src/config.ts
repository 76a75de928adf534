import os from 'node:os'
import path from 'node:path'
import { Command, CommanderError, Option } from 'commander'
import type { Verdict } from '@qmqpkit/qmqp'
import { QmqpdConfigError } from './errors.js'

/** A `host:port` to listen on; host `::` or `0.0.0.0` means every address. */
export interface ListenAddress {
  host: string
  port: number
}

/** What the daemon does at a limit: answer with this verdict, or close without a reply (`null`). */
export type LimitReply = Verdict | null

/** Policy for a value GreenArrow processing does not know (a mail class, a VirtualMTA). */
export interface UnknownPolicy {
  action: 'accept' | 'Z' | 'D'
  /** Reply text for Z/D (without the letter). */
  text: string
}

/** Everything qmqpd's behaviour depends on, typed and validated. Built only by `loadConfig`. */
export interface Config {
  /** Listening addresses; the default is `[::]:628` (IPv4 and IPv6), falling back to `0.0.0.0:628`. */
  listen: ListenAddress[]
  /** True when `--listen` was not given: the default addresses are in use. */
  listenDefault: boolean
  stdio: boolean
  user: string | null
  rules: { kind: 'cdb' | 'source'; path: string } | null
  rulesDialect: 'ipv4' | 'ipv6'
  /** TCPLOCALHOST, as tcpserver's `-l`; null leaves it unset. */
  localHost: string | null
  backends: string[]
  dataDir: string
  backendTimeoutMs: number
  compat: 'qmail' | 'postfix'
  maxMessageBytes: number | null
  maxRecipients: number | null
  idleTimeoutMs: number | null
  totalTimeoutMs: number
  replies: { size: Verdict; recipients: Verdict; idleTimeout: LimitReply; totalTimeout: LimitReply }
  shutdownGraceMs: number
  log: { format: 'json' | 'qmail'; level: LogLevel; file: string | null }
  greenarrow: GreenArrowOptions
  /** The config file that was read, if any. */
  configFile: string | null
  /** qmqpd as a test server: inspection API, fault rules, namespaces, retention (README-testing.md). */
  testing: TestingOptions
}

/** The test-server options; all off by default. */
export interface TestingOptions {
  /** Where the inspection API and web UI listen; null: not served. */
  api: ListenAddress | null
  apiToken: string | null
  /** A JSON file of fault rules in force from the start. */
  faultsFile: string | null
  /** `rule` (QMQPD_NAMESPACE only), `recipient-tag[:SEP]` or `header:NAME`. */
  namespaceFrom: string | null
  retention: { maxMessages: number | null; maxAgeMs: number | null; maxBytes: number | null }
}

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent'

/** The options qmqpd passes to GreenArrow processing (reference/greenarrow.md). */
export interface GreenArrowOptions {
  receivedFormat: 'qmail' | 'postfix' | 'greenarrow'
  me: string
  processXVirtualMta: boolean
  mailclassDefault: string | null
  /** Known mail classes; null = no list configured (every class is accepted as known). */
  mailClasses: string[] | null
  /** Known VirtualMTAs (names or numeric ids); null = no list configured. */
  virtualMtas: string[] | null
  unknownMailclass: UnknownPolicy
  unknownVirtualMta: UnknownPolicy
  hideReceivedHonour: boolean
}

type Kind = 'string' | 'list' | 'bool' | 'int' | 'duration' | 'enum' | 'reply'

interface OptionSpec {
  /** camelCase name: the commander attribute and the config-file key. */
  key: string
  flags: string
  env: string
  kind: Kind
  description: string
  /** Shown in --help and the README. */
  defaultText: string
  choices?: string[]
}

/** Reply defaults at the optional limits; qmail itself has none of these limits. */
export const DEFAULT_REPLIES = {
  size: 'Dsorry, that message size exceeds my databytes limit (#5.3.4)',
  recipients: 'Dsorry, too many recipients (#5.5.3)',
  idleTimeout: 'Ztimeout waiting for data from client (#4.4.2)',
  totalTimeout: 'drop',
} as const

/**
 * Every option qmqpd takes, in --help order. Each is a flag, an environment variable and a
 * config-file key (the camelCase name). Precedence: flag, variable, file, default.
 */
export const OPTIONS: readonly OptionSpec[] = [
  {
    key: 'config',
    flags: '--config <file>',
    env: 'QMQPD_CONFIG',
    kind: 'string',
    description: 'JSON config file: keys are the camelCase option names',
    defaultText: 'none',
  },
  {
    key: 'listen',
    flags: '--listen <host:port>',
    env: 'QMQPD_LISTEN',
    kind: 'list',
    description:
      'address to listen on, repeatable (IPv6 in brackets: [::1]:628); port 0 picks a free port and prints it',
    defaultText: '[::]:628 (IPv4 and IPv6)',
  },
  {
    key: 'stdio',
    flags: '--stdio',
    env: 'QMQPD_STDIO',
    kind: 'bool',
    description: "serve one request on fd 0, reply on fd 1, connection facts from tcpserver's variables",
    defaultText: 'off',
  },
  {
    key: 'user',
    flags: '--user <name>',
    env: 'QMQPD_USER',
    kind: 'string',
    description: 'drop privileges to this user (and its groups) after binding',
    defaultText: 'none',
  },
  {
    key: 'rules',
    flags: '--rules <cdb>',
    env: 'QMQPD_RULES',
    kind: 'string',
    description: 'tcprules database (qmqp.tcp.cdb), consulted for every connection',
    defaultText: 'none: loopback only',
  },
  {
    key: 'rulesSource',
    flags: '--rules-source <file>',
    env: 'QMQPD_RULES_SOURCE',
    kind: 'string',
    description: 'tcprules source (qmqp.tcp), compiled in memory, recompiled when it changes',
    defaultText: 'none: loopback only',
  },
  {
    key: 'rulesIpv6',
    flags: '--rules-ipv6',
    env: 'QMQPD_RULES_IPV6',
    kind: 'bool',
    description: "rules in ucspi-tcp-ipv6's dialect; IPv6 peers get PROTO=TCP6 and TCP6* variables",
    defaultText: 'off',
  },
  {
    key: 'localHost',
    flags: '--local-host <name>',
    env: 'QMQPD_LOCAL_HOST',
    kind: 'string',
    description: 'TCPLOCALHOST for every connection (tcpserver -l)',
    defaultText: 'unset',
  },
  {
    key: 'backend',
    flags: '--backend <url>',
    env: 'QMQPD_BACKEND',
    kind: 'list',
    description: 'where accepted messages go, repeatable (each must say K)',
    defaultText: 'sqlite:<data-dir>/qmqpd.sqlite',
  },
  {
    key: 'dataDir',
    flags: '--data-dir <dir>',
    env: 'QMQPD_DATA_DIR',
    kind: 'string',
    description: 'directory of the default sqlite backend',
    defaultText: '.',
  },
  {
    key: 'backendTimeout',
    flags: '--backend-timeout <duration>',
    env: 'QMQPD_BACKEND_TIMEOUT',
    kind: 'duration',
    description: 'a backend that has not answered by then gives Z',
    defaultText: '60s',
  },
  {
    key: 'compat',
    flags: '--compat <server>',
    env: 'QMQPD_COMPAT',
    kind: 'enum',
    choices: ['qmail', 'postfix'],
    description: 'answer malformed or refused requests as qmail-qmqpd or Postfix qmqpd does',
    defaultText: 'qmail',
  },
  {
    key: 'maxMessageBytes',
    flags: '--max-message-bytes <n>',
    env: 'QMQPD_MAX_MESSAGE_BYTES',
    kind: 'int',
    description: 'largest message accepted; refused as soon as its length is read',
    defaultText: 'no limit (qmail)',
  },
  {
    key: 'maxRecipients',
    flags: '--max-recipients <n>',
    env: 'QMQPD_MAX_RECIPIENTS',
    kind: 'int',
    description: 'most recipients accepted in one request',
    defaultText: 'no limit (qmail)',
  },
  {
    key: 'idleTimeout',
    flags: '--idle-timeout <duration>',
    env: 'QMQPD_IDLE_TIMEOUT',
    kind: 'duration',
    description: 'longest wait for the next byte from the client',
    defaultText: 'none (qmail)',
  },
  {
    key: 'totalTimeout',
    flags: '--total-timeout <duration>',
    env: 'QMQPD_TOTAL_TIMEOUT',
    kind: 'duration',
    description: "longest time one connection may take (qmail's alarm)",
    defaultText: '1h',
  },
  {
    key: 'sizeReply',
    flags: '--size-reply <reply>',
    env: 'QMQPD_SIZE_REPLY',
    kind: 'reply',
    description: 'answer at --max-message-bytes: Z<text> or D<text>',
    defaultText: DEFAULT_REPLIES.size,
  },
  {
    key: 'recipientsReply',
    flags: '--recipients-reply <reply>',
    env: 'QMQPD_RECIPIENTS_REPLY',
    kind: 'reply',
    description: 'answer at --max-recipients: Z<text> or D<text>',
    defaultText: DEFAULT_REPLIES.recipients,
  },
  {
    key: 'idleTimeoutReply',
    flags: '--idle-timeout-reply <reply>',
    env: 'QMQPD_IDLE_TIMEOUT_REPLY',
    kind: 'reply',
    description: 'answer at --idle-timeout: Z<text>, D<text> or drop',
    defaultText: DEFAULT_REPLIES.idleTimeout,
  },
  {
    key: 'totalTimeoutReply',
    flags: '--total-timeout-reply <reply>',
    env: 'QMQPD_TOTAL_TIMEOUT_REPLY',
    kind: 'reply',
    description: 'answer at --total-timeout: Z<text>, D<text> or drop',
    defaultText: 'drop (qmail)',
  },
  {
    key: 'shutdownGrace',
    flags: '--shutdown-grace <duration>',
    env: 'QMQPD_SHUTDOWN_GRACE',
    kind: 'duration',
    description: 'on SIGTERM/SIGINT, how long requests in flight may take to finish',
    defaultText: '10s',
  },
  {
    key: 'logFormat',
    flags: '--log-format <format>',
    env: 'QMQPD_LOG_FORMAT',
    kind: 'enum',
    choices: ['json', 'qmail'],
    description: 'pino JSON lines, or qmail-style text lines',
    defaultText: 'json',
  },
  {
    key: 'logLevel',
    flags: '--log-level <level>',
    env: 'QMQPD_LOG_LEVEL',
    kind: 'enum',
    choices: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'],
    description: 'least severe level logged',
    defaultText: 'info',
  },
  {
    key: 'logFile',
    flags: '--log-file <file>',
    env: 'QMQPD_LOG_FILE',
    kind: 'string',
    description: 'append logs to this file instead of stderr (reopened on SIGHUP)',
    defaultText: 'stderr',
  },
  {
    key: 'receivedFormat',
    flags: '--received-format <format>',
    env: 'QMQPD_RECEIVED_FORMAT',
    kind: 'enum',
    choices: ['qmail', 'postfix', 'greenarrow'],
    description:
      "Received line added to each message: qmail-qmqpd's, Postfix's, or qmail's naming --me as the Engine does",
    defaultText: 'greenarrow',
  },
  {
    key: 'me',
    flags: '--me <host>',
    env: 'QMQPD_ME',
    kind: 'string',
    description: "this server's name in the Received line (control/me)",
    defaultText: 'the host name',
  },
  {
    key: 'processXVirtualMta',
    flags: '--process-x-virtual-mta',
    env: 'QMQPD_PROCESS_X_VIRTUAL_MTA',
    kind: 'bool',
    description: 'read X-Virtual-MTA (wins over X-GreenArrow-MtaID)',
    defaultText: 'off',
  },
  {
    key: 'mailclassDefault',
    flags: '--mailclass-default <name>',
    env: 'QMQPD_MAILCLASS_DEFAULT',
    kind: 'string',
    description: 'SimpleMH mail class when neither header nor rule names one',
    defaultText: 'none',
  },
  {
    key: 'mailClasses',
    flags: '--mail-classes <names>',
    env: 'QMQPD_MAIL_CLASSES',
    kind: 'list',
    description: 'known mail classes, comma-separated (file: an array)',
    defaultText: 'not checked',
  },
  {
    key: 'virtualMtas',
    flags: '--virtual-mtas <names>',
    env: 'QMQPD_VIRTUAL_MTAS',
    kind: 'list',
    description: 'known VirtualMTA names or ids, comma-separated (file: an array)',
    defaultText: 'not checked',
  },
  {
    key: 'unknownMailclass',
    flags: '--unknown-mailclass <action>',
    env: 'QMQPD_UNKNOWN_MAILCLASS',
    kind: 'enum',
    choices: ['accept', 'Z', 'D'],
    description: 'a mail class not in --mail-classes: accept (and report), Z or D',
    defaultText: 'accept',
  },
  {
    key: 'unknownMailclassText',
    flags: '--unknown-mailclass-text <text>',
    env: 'QMQPD_UNKNOWN_MAILCLASS_TEXT',
    kind: 'string',
    description: 'reply text for an unknown mail class',
    defaultText: 'unknown mail class (#5.3.5)',
  },
  {
    key: 'unknownVirtualMta',
    flags: '--unknown-virtual-mta <action>',
    env: 'QMQPD_UNKNOWN_VIRTUAL_MTA',
    kind: 'enum',
    choices: ['accept', 'Z', 'D'],
    description: 'a VirtualMTA not in --virtual-mtas: accept (default VirtualMTA, as GreenArrow), Z or D',
    defaultText: 'accept',
  },
  {
    key: 'unknownVirtualMtaText',
    flags: '--unknown-virtual-mta-text <text>',
    env: 'QMQPD_UNKNOWN_VIRTUAL_MTA_TEXT',
    kind: 'string',
    description: 'reply text for an unknown VirtualMTA',
    defaultText: 'unknown VirtualMTA (#5.3.5)',
  },
  {
    key: 'hideReceivedHonour',
    flags: '--hide-received-honour <on|off>',
    env: 'QMQPD_HIDE_RECEIVED_HONOUR',
    kind: 'enum',
    choices: ['on', 'off'],
    description: 'a rule setting GREENARROW_SMTP_RECEIVED_HIDE suppresses the Received line',
    defaultText: 'on',
  },
  {
    key: 'api',
    flags: '--api <host:port>',
    env: 'QMQPD_API',
    kind: 'string',
    description:
      'serve the inspection API and web UI here (keep it on loopback: it can read and delete mail)',
    defaultText: 'off',
  },
  {
    key: 'apiToken',
    flags: '--api-token <token>',
    env: 'QMQPD_API_TOKEN',
    kind: 'string',
    description: 'require Authorization: Bearer <token> on /api and /metrics',
    defaultText: 'none',
  },
  {
    key: 'faults',
    flags: '--faults <file>',
    env: 'QMQPD_FAULTS',
    kind: 'string',
    description: 'JSON file of fault rules in force from the start (as POST /api/v1/faults takes them)',
    defaultText: 'none',
  },
  {
    key: 'namespaceFrom',
    flags: '--namespace-from <source>',
    env: 'QMQPD_NAMESPACE_FROM',
    kind: 'string',
    description:
      'namespace of a message besides the rule variable QMQPD_NAMESPACE: recipient-tag[:SEP] or header:NAME',
    defaultText: 'rule',
  },
  {
    key: 'retainMessages',
    flags: '--retain-messages <n>',
    env: 'QMQPD_RETAIN_MESSAGES',
    kind: 'int',
    description: 'with the API: keep at most this many messages, removing the oldest',
    defaultText: 'no limit',
  },
  {
    key: 'retainAge',
    flags: '--retain-age <duration>',
    env: 'QMQPD_RETAIN_AGE',
    kind: 'duration',
    description: 'with the API: remove messages older than this',
    defaultText: 'no limit',
  },
  {
    key: 'retainBytes',
    flags: '--retain-bytes <n>',
    env: 'QMQPD_RETAIN_BYTES',
    kind: 'int',
    description: 'with the API: keep at most this many message bytes, removing the oldest',
    defaultText: 'no limit',
  },
]

/** `--help` or `--version` was asked for: print `text` on stdout and exit 0. */
export class HelpRequest {
  constructor(readonly text: string) {}
}

type Raw = string | string[] | boolean

/** The commander program for qmqpd: options only, no action; used for parsing and for --help. */
export function qmqpdCommand(): Command {
  const program = new Command('qmqpd')
    .description(
      'QMQP server in the manner of GreenArrow Engine: tcprules access control, GreenArrow semantics, durable backends',
    )
    .version('0.1.0')
    .allowExcessArguments(false)
    .exitOverride()
  for (const spec of OPTIONS) {
    const option = new Option(
      spec.flags,
      `${spec.description} (default: ${spec.defaultText}; env ${spec.env})`,
    )
    if (spec.kind === 'list')
      option.argParser((value: string, previous: string[] | undefined) => [...(previous ?? []), value])
    if (spec.choices) option.choices(spec.choices)
    program.addOption(option)
  }
  return program
}

/**
 * Parses argv only (no environment, no file). Throws HelpRequest for --help/--version and
 * QmqpdConfigError for a usage error.
 */
export function parseArgv(argv: string[]): Record<string, Raw> {
  const program = qmqpdCommand()
  let out = ''
  let err = ''
  program.configureOutput({ writeOut: s => void (out += s), writeErr: s => void (err += s) })
  try {
    program.parse(argv, { from: 'user' })
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.exitCode === 0) throw new HelpRequest(out)
      throw new QmqpdConfigError('usage', (err || e.message).replace(/^error: /, '').trim())
    }
    /* c8 ignore next 2 */
    throw e
  }
  return program.opts<Record<string, Raw>>()
}

/** Where the config file is, from `--config` or QMQPD_CONFIG; null when there is none. */
export function configFilePath(argv: string[], env: Record<string, string | undefined>): string | null {
  const flag = parseArgv(argv)['config']
  if (typeof flag === 'string') return flag
  return env['QMQPD_CONFIG'] || null
}

interface Source {
  value: Raw | number | unknown
  /** How to name the source in an error: `--max-recipients`, `QMQPD_MAX_RECIPIENTS`, `config file key maxRecipients`. */
  name: string
  from: 'flag' | 'env' | 'file'
}

/**
 * Builds the typed Config from the command line, the environment and the config file's text
 * (null when none). Pure: tests call it with plain values. Throws HelpRequest for --help and
 * QmqpdConfigError (permanent, exit 100) naming the key for anything invalid.
 */
export function loadConfig(
  argv: string[],
  env: Record<string, string | undefined>,
  fileText: string | null,
  facts: { hostname?: string } = {},
): Config {
  const flags = parseArgv(argv)
  const file = parseFile(fileText)
  const pick = (key: string): Source | undefined => {
    const spec = OPTIONS.find(o => o.key === key)!
    const flagName = spec.flags.split(' ')[0]!
    if (flags[key] !== undefined) return { value: flags[key], name: flagName, from: 'flag' }
    const fromEnv = env[spec.env]
    if (fromEnv !== undefined && fromEnv !== '') return { value: fromEnv, name: spec.env, from: 'env' }
    if (file[key] !== undefined) return { value: file[key], name: `config file key ${key}`, from: 'file' }
    return undefined
  }
  const str = (key: string): string | null => {
    const s = pick(key)
    if (!s) return null
    if (typeof s.value !== 'string') throw new QmqpdConfigError(s.name, 'must be a string')
    return s.value
  }
  const bool = (key: string): boolean => {
    const s = pick(key)
    if (!s) return false
    if (typeof s.value === 'boolean') return s.value
    if (typeof s.value === 'string') {
      if (/^(1|true|yes|on)$/i.test(s.value)) return true
      if (/^(0|false|no|off)$/i.test(s.value)) return false
    }
    throw new QmqpdConfigError(s.name, 'must be true or false (1/0, yes/no, on/off)')
  }
  const list = (key: string, split: RegExp): string[] | null => {
    const s = pick(key)
    if (!s) return null
    const items =
      s.from === 'flag'
        ? (s.value as string[]).flatMap(v => (key === 'listen' || key === 'backend' ? [v] : v.split(split)))
        : typeof s.value === 'string'
          ? s.value.split(split)
          : s.value
    if (!Array.isArray(items) || items.some(v => typeof v !== 'string'))
      throw new QmqpdConfigError(s.name, 'must be a list of strings')
    return (items as string[]).map(v => v.trim()).filter(v => v !== '')
  }
  const int = (key: string, min: number): number | null => {
    const s = pick(key)
    if (!s) return null
    const text = String(s.value)
    if ((typeof s.value !== 'string' && typeof s.value !== 'number') || !/^\d+$/.test(text))
      throw new QmqpdConfigError(s.name, `must be a whole number, not ${JSON.stringify(s.value)}`)
    const n = Number(text)
    if (!Number.isSafeInteger(n) || n < min) throw new QmqpdConfigError(s.name, `must be at least ${min}`)
    return n
  }
  const duration = (key: string): number | null => {
    const s = pick(key)
    if (!s) return null
    const ms =
      typeof s.value === 'number' || typeof s.value === 'string' ? parseDuration(String(s.value)) : null
    if (ms === null)
      throw new QmqpdConfigError(
        s.name,
        `must be a duration like 30s, 500ms, 5m or 1h, not ${JSON.stringify(s.value)}`,
      )
    return ms
  }
  const choice = <T extends string>(key: string, fallback: T): T => {
    const s = pick(key)
    if (!s) return fallback
    const spec = OPTIONS.find(o => o.key === key)!
    if (typeof s.value !== 'string' || !spec.choices!.includes(s.value))
      throw new QmqpdConfigError(s.name, `must be one of ${spec.choices!.join(', ')}`)
    return s.value as T
  }
  const reply = (key: string, fallback: string, allowDrop: boolean): LimitReply => {
    const s = pick(key)
    const text = s ? s.value : fallback
    if (typeof text !== 'string') throw new QmqpdConfigError(s!.name, 'must be a string')
    const parsed = parseLimitReply(text)
    if (parsed === undefined || (parsed === null && !allowDrop))
      throw new QmqpdConfigError(
        s!.name,
        allowDrop ? 'must be Z<text>, D<text> or drop' : 'must be Z<text> or D<text>',
      )
    return parsed
  }

  const rulesCdb = str('rules')
  const rulesSource = str('rulesSource')
  if (rulesCdb !== null && rulesSource !== null)
    throw new QmqpdConfigError('--rules', 'give either --rules or --rules-source, not both')

  const listenTexts = list('listen', /[\s,]+/)
  const listen =
    listenTexts === null
      ? [{ host: '::', port: 628 }]
      : listenTexts.map(t => parseListen(t, pick('listen')!.name))
  if (listenTexts !== null && listen.length === 0)
    throw new QmqpdConfigError(pick('listen')!.name, 'names no address')

  const dataDir = str('dataDir') ?? '.'
  const backends = list('backend', /\s+/) ?? [`sqlite:${path.join(dataDir, 'qmqpd.sqlite')}`]
  for (const b of backends)
    if (!/^[a-z][a-z0-9+.-]*:/i.test(b))
      throw new QmqpdConfigError(pick('backend')!.name, `not a backend URL: ${b}`)

  const unknownPolicy = (key: string, fallbackText: string): UnknownPolicy => ({
    action: choice<'accept' | 'Z' | 'D'>(key, 'accept'),
    text: str(`${key}Text`) ?? fallbackText,
  })

  return {
    listen,
    listenDefault: listenTexts === null,
    stdio: bool('stdio'),
    user: str('user'),
    rules:
      rulesCdb !== null
        ? { kind: 'cdb', path: rulesCdb }
        : rulesSource !== null
          ? { kind: 'source', path: rulesSource }
          : null,
    rulesDialect: bool('rulesIpv6') ? 'ipv6' : 'ipv4',
    localHost: str('localHost'),
    backends,
    dataDir,
    backendTimeoutMs: duration('backendTimeout') ?? 60_000,
    compat: choice('compat', 'qmail'),
    maxMessageBytes: int('maxMessageBytes', 1),
    maxRecipients: int('maxRecipients', 1),
    idleTimeoutMs: duration('idleTimeout'),
    totalTimeoutMs: duration('totalTimeout') ?? 3_600_000,
    replies: {
      size: reply('sizeReply', DEFAULT_REPLIES.size, false)!,
      recipients: reply('recipientsReply', DEFAULT_REPLIES.recipients, false)!,
      idleTimeout: reply('idleTimeoutReply', DEFAULT_REPLIES.idleTimeout, true),
      totalTimeout: reply('totalTimeoutReply', DEFAULT_REPLIES.totalTimeout, true),
    },
    shutdownGraceMs: duration('shutdownGrace') ?? 10_000,
    log: { format: choice('logFormat', 'json'), level: choice('logLevel', 'info'), file: str('logFile') },
    greenarrow: {
      receivedFormat: choice('receivedFormat', 'greenarrow'),
      me: str('me') ?? facts.hostname ?? os.hostname(),
      processXVirtualMta: bool('processXVirtualMta'),
      mailclassDefault: str('mailclassDefault'),
      mailClasses: list('mailClasses', /[\s,]+/),
      virtualMtas: list('virtualMtas', /[\s,]+/),
      unknownMailclass: unknownPolicy('unknownMailclass', 'unknown mail class (#5.3.5)'),
      unknownVirtualMta: unknownPolicy('unknownVirtualMta', 'unknown VirtualMTA (#5.3.5)'),
      hideReceivedHonour: choice('hideReceivedHonour', 'on') === 'on',
    },
    configFile: typeof flags['config'] === 'string' ? flags['config'] : env['QMQPD_CONFIG'] || null,
    testing: {
      api: str('api') === null ? null : parseListen(str('api')!, pick('api')!.name),
      apiToken: str('apiToken'),
      faultsFile: str('faults'),
      namespaceFrom: str('namespaceFrom'),
      retention: {
        maxMessages: int('retainMessages', 1),
        maxAgeMs: duration('retainAge'),
        maxBytes: int('retainBytes', 1),
      },
    },
  }
}

function parseFile(text: string | null): Record<string, unknown> {
  if (text === null) return {}
  let data: unknown
  try {
    data = JSON.parse(text)
  } catch (err) {
    throw new QmqpdConfigError('config file', `not valid JSON: ${(err as Error).message}`)
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data))
    throw new QmqpdConfigError('config file', 'must hold a JSON object')
  for (const key of Object.keys(data)) {
    if (key === 'config' || !OPTIONS.some(o => o.key === key))
      throw new QmqpdConfigError(`config file key ${key}`, 'is not an option of qmqpd')
  }
  return data as Record<string, unknown>
}

/** `30s`, `500ms`, `5m`, `1h`; a bare number is seconds. Null when not a duration. */
export function parseDuration(text: string): number | null {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim())
  if (!m) return null
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[(m[2] ?? 's') as 'ms' | 's' | 'm' | 'h']
  return Math.round(Number(m[1]) * unit)
}

/** `Z<text>` / `D<text>` → a verdict, `drop` → null, anything else → undefined. */
export function parseLimitReply(text: string): LimitReply | undefined {
  if (text === 'drop') return null
  const code = text[0]
  if (code === 'Z' || code === 'D') return { code, text: text.slice(1) }
  return undefined
}

/** `127.0.0.1:628`, `[::1]:628`, `:628` or `628` (the last two: every address, IPv4 and IPv6). */
export function parseListen(text: string, key = '--listen'): ListenAddress {
  let host: string
  let portText: string
  const bracketed = /^\[([^\]]+)\]:(\d+)$/.exec(text)
  if (bracketed) [host, portText] = [bracketed[1]!, bracketed[2]!]
  else if (/^\d+$/.test(text)) [host, portText] = ['::', text]
  else {
    const colon = text.lastIndexOf(':')
    host = text.slice(0, colon)
    portText = text.slice(colon + 1)
    if (colon < 0 || host.includes(':') || !/^\d+$/.test(portText))
      throw new QmqpdConfigError(key, `not host:port (IPv6 in brackets): ${text}`)
    if (host === '') host = '::'
  }
  const port = Number(portText)
  if (port > 65535) throw new QmqpdConfigError(key, `port out of range: ${text}`)
  return { host, port }
}

/** `host:port` for messages, IPv6 in brackets. */
export function formatAddress(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`
}

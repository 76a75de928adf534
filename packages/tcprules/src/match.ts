import type { Dialect } from './parse.js'
import { remoteIpText } from './remote-ip.js'

/** What the matcher needs from a rules database: the first value stored under a key. */
export interface RulesLookup {
  get(key: Buffer): Buffer | undefined
}

/** The client as tcpserver knows it. Host and info are absent when unknown. */
export interface Connection {
  /** The remote address (TCPREMOTEIP). */
  ip: string | Buffer
  /** The remote host name (TCPREMOTEHOST), when known. */
  host?: Buffer | string | undefined
  /** The remote ident information (TCPREMOTEINFO), when known. */
  info?: Buffer | string | undefined
}

/** The outcome of a lookup. `none`: no key matched, which tcpserver treats as allow. */
export interface MatchResult {
  decision: 'allow' | 'deny' | 'none'
  /** The key that matched (`''` for the catch-all rule), or null. */
  key: Buffer | null
  /** The rule's variables in order (names decoded as latin1); a name may repeat, the last wins. */
  env: Array<[name: string, value: Buffer]>
}

export interface MatchOptions {
  /** `ipv6`: IP prefixes also end at `:`, as in ucspi-tcp-ipv6. Default `ipv4`. */
  dialect?: Dialect
  /**
   * Write `ip` as tcpserver would (IPv4-mapped to IPv4, IPv6 in ip6_fmt form). Default true;
   * tcprulescheck takes TCPREMOTEIP as given, so it passes false.
   */
  normalizeIp?: boolean
}

/** Which step of tcpserver's lookup order a key belongs to. */
export type LookupStep =
  'info@ip' | 'info@=host' | 'ip' | '=host' | 'ip-prefix' | '=.suffix' | '=' | 'catch-all'

const EMPTY = Buffer.alloc(0)
const AT = Buffer.from('@')
const AT_EQUALS = Buffer.from('@=')
const EQUALS = Buffer.from('=')

/** Bytes of an optional field, cut at a NUL as tcpserver's C strings are. */
function cString(value: Buffer | string | undefined): Buffer | undefined {
  if (value === undefined) return undefined
  const buf = typeof value === 'string' ? Buffer.from(value, 'latin1') : value
  const nul = buf.indexOf(0)
  return nul < 0 ? buf : buf.subarray(0, nul)
}

/**
 * Offers the keys of `rules.c` in order to `probe` until it returns true: info@ip, info@=host,
 * ip, =host, the IP's prefixes ending at a dot (or, for ipv6, a colon) from the longest, the
 * host's =.suffixes from the longest, =, and the empty key. Steps needing a host or info are
 * skipped when it is absent (an empty host is present). The key passed may be a view on a
 * scratch buffer: copy it to keep it. Returns whether a probe returned true.
 */
export function walkKeys(
  ip: Buffer,
  host: Buffer | undefined,
  info: Buffer | undefined,
  dialect: Dialect,
  probe: (key: Buffer, step: LookupStep) => boolean,
): boolean {
  if (info !== undefined) {
    if (probe(Buffer.concat([info, AT, ip]), 'info@ip')) return true
    if (host !== undefined && probe(Buffer.concat([info, AT_EQUALS, host]), 'info@=host')) return true
  }
  if (probe(ip, 'ip')) return true
  // "=" + host, reused below: the key for the suffix at host[p] is this buffer from p on, with
  // its byte p (host[p - 1]) turned into "=" for the time of the probe.
  const hostKey = host === undefined ? undefined : Buffer.concat([EQUALS, host])
  if (hostKey !== undefined && probe(hostKey, '=host')) return true
  // rules.c also tries the whole address here when it ends in a dot; that key just missed.
  for (let n = ip.length; n > 0; n--) {
    const c = ip[n - 1]
    if (c === 0x2e || (c === 0x3a && dialect === 'ipv6')) {
      if (probe(ip.subarray(0, n), 'ip-prefix')) return true
    }
  }
  if (hostKey !== undefined) {
    for (let p = 1; p < hostKey.length; p++) {
      if (hostKey[p] !== 0x2e) continue
      const saved = hostKey[p - 1]!
      hostKey[p - 1] = 0x3d
      const hit = probe(hostKey.subarray(p - 1), '=.suffix')
      hostKey[p - 1] = saved
      if (hit) return true
    }
    if (probe(EQUALS, '=')) return true
  }
  return probe(EMPTY, 'catch-all')
}

/** The raw outcome of a lookup, as rules.c hands it to its callback. */
export interface RuleHit {
  key: Buffer
  data: Buffer
  step: LookupStep
}

/** tcpserver's lookup without interpretation: the first key found and its stored value. */
export function lookupRule(
  db: RulesLookup,
  ip: Buffer,
  host: Buffer | undefined,
  info: Buffer | undefined,
  dialect: Dialect = 'ipv4',
): RuleHit | null {
  let hit: RuleHit | null = null
  walkKeys(ip, host, info, dialect, (key, step) => {
    const data = db.get(key)
    if (data === undefined) return false
    hit = { key: Buffer.from(key), data, step }
    return true
  })
  return hit
}

/**
 * Reads a rule value as tcpserver does: NUL-terminated entries, `D` denies, `+NAME=VALUE` sets a
 * variable (an entry without `=` is ignored, as tcpserver ignores it). Entries after `D` are not
 * returned: tcprulescheck stops there and tcpserver runs nothing.
 */
export function decodeRuleData(data: Buffer): { deny: boolean; env: Array<[string, Buffer]> } {
  const env: Array<[string, Buffer]> = []
  let pos = 0
  for (let nul = data.indexOf(0, pos); nul >= 0; nul = data.indexOf(0, pos)) {
    const first = data[pos]
    if (first === 0x44) return { deny: true, env }
    if (first === 0x2b) {
      const eq = data.indexOf(0x3d, pos + 1)
      if (eq >= 0 && eq < nul) env.push([data.toString('latin1', pos + 1, eq), data.subarray(eq + 1, nul)])
    }
    pos = nul + 1
  }
  return { deny: false, env }
}

/**
 * Decides a connection as tcpserver does with `-x rules.cdb`.
 *
 * @example
 * const db = CdbReader.fromBuffer(compileRulesToBuffer('1.2.3.4:allow,GREENARROW_SIMPLEMH=""\n:deny\n'))
 * matchRules(db, { ip: '1.2.3.4' })
 * // { decision: 'allow', key: <Buffer 31 2e 32 2e 33 2e 34>, env: [['GREENARROW_SIMPLEMH', <Buffer >]] }
 */
export function matchRules(db: RulesLookup, conn: Connection, options: MatchOptions = {}): MatchResult {
  const dialect = options.dialect ?? 'ipv4'
  const ipText = typeof conn.ip === 'string' ? conn.ip : conn.ip.toString('latin1')
  const ip = cString(options.normalizeIp === false ? ipText : remoteIpText(ipText))!
  const hit = lookupRule(db, ip, cString(conn.host), cString(conn.info), dialect)
  if (hit === null) return { decision: 'none', key: null, env: [] }
  const { deny, env } = decodeRuleData(hit.data)
  return { decision: deny ? 'deny' : 'allow', key: hit.key, env }
}

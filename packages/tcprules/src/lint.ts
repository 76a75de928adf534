import { RulesSyntaxError } from './errors.js'
import { parseRules, type Dialect, type Rule } from './parse.js'
import { isRangeAddress } from './range.js'

/** One remark about a rules file. `error`: tcprules refuses the file. */
export interface LintFinding {
  line: number
  severity: 'error' | 'warning'
  code:
    | 'syntax'
    | 'crlf'
    | 'duplicate'
    | 'shadowed'
    | 'unreachable'
    | 'no-catch-all-deny'
    | 'odd-quote'
    | 'range-mangled'
    | 'ignored-line'
    | 'variables-after-deny'
    | 'repeated-variable'
    | 'odd-name'
    | 'nul-byte'
  message: string
}

const CR = Buffer.from('\r')
const latin = (b: Buffer) => JSON.stringify(b.toString('latin1'))
const IPV4_PART = /^(0|[1-9]\d{0,2})$/

/** Whether a key can be the whole or a dotted prefix of an IPv4 address tcpserver writes. */
function ipv4KeyShape(key: string): 'address' | 'prefix' | null {
  const parts = key.split('.')
  const prefix = key.endsWith('.')
  if (prefix) parts.pop()
  if (parts.length === 0 || parts.length > (prefix ? 3 : 4) || (!prefix && parts.length !== 4)) return null
  if (!parts.every(p => IPV4_PART.test(p) && Number(p) <= 255)) return null
  return prefix ? 'prefix' : 'address'
}

/** Why a key can never be looked up by tcpserver, or null when it can. */
function unreachableWhy(key: Buffer, dialect: Dialect): string | null {
  const text = key.toString('latin1')
  if (text === '' || text === '=') return null
  const at = text.indexOf('@')
  const subject = at >= 0 ? text.slice(at + 1) : text
  if (subject.startsWith('=')) {
    if (/[\s]/.test(subject)) return 'a host name with blanks never comes from DNS'
    return null
  }
  if (/^\s|\s$/.test(subject)) return 'blanks around the address become part of the key'
  if (ipv4KeyShape(subject)) return null
  if (dialect === 'ipv6' && /^[0-9a-f:.]+$/.test(subject) && subject.includes(':')) {
    if (/[A-F]/.test(subject)) return 'tcpserver writes IPv6 addresses in lower case'
    return null
  }
  if (/^[\d.]+$/.test(subject) && !subject.endsWith('.'))
    return 'neither a whole address nor a prefix ending in a dot'
  return 'not an address, prefix, =host or info@ form tcpserver looks up'
}

/**
 * Remarks tcprules keeps to itself: lines it refuses (all of them, not just the first) or skips,
 * rules that can never match (a key written before, blanks in keys, shapes tcpserver never looks
 * up), no catch-all deny, CRLF, and values it stores other than they look (`X=abca` stores `bc`).
 */
export function lintRules(text: Buffer, options: { dialect?: Dialect } = {}): LintFinding[] {
  const dialect = options.dialect ?? 'ipv4'
  const findings: LintFinding[] = []
  const rules: Rule[] = []
  // Each line alone, so that one bad line does not hide the next.
  let pos = 0
  let line = 0
  while (pos < text.length) {
    line++
    const nl = text.indexOf(0x0a, pos)
    const end = nl < 0 ? text.length : nl + 1
    const raw = text.subarray(pos, end)
    pos = end
    const body = raw[raw.length - 1] === 0x0a ? raw.subarray(0, -1) : raw
    if (body[body.length - 1] === 0x0d && body[0] !== 0x23) {
      findings.push({
        line,
        severity: body.length > 1 ? 'error' : 'warning',
        code: 'crlf',
        message: 'line ends in CR (a CRLF file): tcprules refuses such rule lines; convert with dos2unix',
      })
    }
    if (body.indexOf(0) >= 0)
      findings.push({ line, severity: 'warning', code: 'nul-byte', message: 'line holds a NUL byte' })
    try {
      const parsed = parseRules(raw, { dialect })
      for (const r of parsed.rules) rules.push({ ...r, line })
      for (const ig of parsed.ignored) {
        if (ig.reason === 'no-colon' && !ig.text.equals(CR))
          findings.push({
            line,
            severity: 'warning',
            code: 'ignored-line',
            message: `no colon: tcprules skips ${latin(ig.text)} without a word`,
          })
      }
    } catch (err) {
      if (!(err instanceof RulesSyntaxError)) throw err
      findings.push({ line, severity: 'error', code: 'syntax', message: `${err.reason}: ${latin(err.text)}` })
    }
  }

  const firstLine = new Map<string, number>()
  const addresses = new Set<string>()
  let catchAllDeny = false
  for (const rule of rules) {
    const keys = rule.keys.map(k => k.toString('latin1'))
    if (rule.address.length === 0 && rule.decision === 'deny' && !firstLine.has('')) catchAllDeny = true
    if (keys.length === 0) {
      findings.push({
        line: rule.line,
        severity: 'warning',
        code: 'range-mangled',
        message: `range ${latin(rule.address)} writes no key at all (bottom above top)`,
      })
    } else {
      const earlier = keys.map(k => firstLine.get(k)).filter((l): l is number => l !== undefined)
      if (earlier.length === keys.length) {
        const same = addresses.has(rule.address.toString('latin1'))
        findings.push({
          line: rule.line,
          severity: 'warning',
          code: same ? 'duplicate' : 'shadowed',
          message: same
            ? `${latin(rule.address)} was already written at line ${Math.min(...earlier)}: the first rule wins, this one never matches`
            : `every key of ${latin(rule.address)} was already written (line ${Math.min(...earlier)}): this rule never matches`,
        })
      } else if (earlier.length > 0) {
        findings.push({
          line: rule.line,
          severity: 'warning',
          code: 'shadowed',
          message: `${earlier.length} of the ${keys.length} keys of ${latin(rule.address)} were already written (line ${Math.min(...earlier)}): those never match here`,
        })
      }
    }
    for (const k of keys) if (!firstLine.has(k)) firstLine.set(k, rule.line)
    addresses.add(rule.address.toString('latin1'))
    const why = rule.keys.length > 0 ? unreachableWhy(rule.keys[0]!, dialect) : null
    if (why)
      findings.push({
        line: rule.line,
        severity: 'warning',
        code: 'unreachable',
        message: `${latin(rule.address)}: ${why}`,
      })
    if (isRangeAddress(rule.address)) {
      const bounds = /(\d*)-(\d*)/.exec(rule.address.toString('latin1'))
      if (
        bounds &&
        (Number(bounds[2]) > 255 || bounds[1] === '' || /^0\d/.test(bounds[1]!) || /^0\d/.test(bounds[2]!))
      ) {
        findings.push({
          line: rule.line,
          severity: 'warning',
          code: 'range-mangled',
          message: `range ${latin(rule.address)}: tcprules caps the top at 255, reads an empty bottom as 0 and drops leading zeros`,
        })
      }
    }
    if (rule.decision === 'deny' && rule.variables.length > 0) {
      findings.push({
        line: rule.line,
        severity: 'warning',
        code: 'variables-after-deny',
        message: 'variables after deny are stored but never set',
      })
    }
    const names = new Set<string>()
    for (const v of rule.variables) {
      const name = v.name.toString('latin1')
      const q = rule.text.toString('latin1')
      if (names.has(name))
        findings.push({
          line: rule.line,
          severity: 'warning',
          code: 'repeated-variable',
          message: `${name} is set twice in one rule: tcpserver keeps the last`,
        })
      names.add(name)
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name))
        findings.push({
          line: rule.line,
          severity: 'warning',
          code: 'odd-name',
          message: `variable name ${JSON.stringify(name)} is not a usual environment name`,
        })
      const quote = q[q.indexOf(`${name}=`) + name.length + 1]
      if (quote !== undefined && /[A-Za-z0-9]/.test(quote)) {
        findings.push({
          line: rule.line,
          severity: 'warning',
          code: 'odd-quote',
          message: `${name}=${quote}…: the first byte after = is the quote, so ${name} is set to ${latin(v.value)}; write ${name}="…"`,
        })
      }
    }
  }
  if (!catchAllDeny)
    findings.push({
      line: 0,
      severity: 'warning',
      code: 'no-catch-all-deny',
      message: 'no ":deny" catch-all: clients no rule matches are allowed',
    })
  return findings.sort((a, b) => a.line - b.line)
}

import type { Dialect } from './parse.js'
import {
  decodeRuleData,
  walkKeys,
  type Connection,
  type LookupStep,
  type MatchResult,
  type RulesLookup,
} from './match.js'
import { remoteIpText } from './remote-ip.js'

/** One key tried, in tcpserver's order. */
export interface ExplainStep {
  key: Buffer
  step: LookupStep
  found: boolean
}

export interface Explanation extends MatchResult {
  /** The address as looked up (tcpserver's form). */
  ip: string
  steps: ExplainStep[]
  /** The rule's raw value: `D\0`, `+NAME=VALUE\0`… */
  data: Buffer | null
}

const STEP_TEXT: Record<LookupStep, string> = {
  'info@ip': 'remote info at the address',
  'info@=host': 'remote info at the host name',
  ip: 'the exact address',
  '=host': 'the exact host name',
  'ip-prefix': 'an address prefix',
  '=.suffix': 'a host name suffix',
  '=': 'any host name',
  'catch-all': 'the catch-all rule',
}

/** matchRules with its working: every key tried until one is found. */
export function explainMatch(
  db: RulesLookup,
  conn: Connection,
  options: { dialect?: Dialect; normalizeIp?: boolean } = {},
): Explanation {
  const dialect = options.dialect ?? 'ipv4'
  const given = typeof conn.ip === 'string' ? conn.ip : conn.ip.toString('latin1')
  const ip = options.normalizeIp === false ? given : remoteIpText(given)
  const opt = (v: Buffer | string | undefined) =>
    v === undefined ? undefined : typeof v === 'string' ? Buffer.from(v, 'latin1') : v
  const steps: ExplainStep[] = []
  let data: Buffer | null = null
  walkKeys(Buffer.from(ip, 'latin1'), opt(conn.host), opt(conn.info), dialect, (key, step) => {
    const d = db.get(key)
    steps.push({ key: Buffer.from(key), step, found: d !== undefined })
    if (d === undefined) return false
    data = d
    return true
  })
  const last = steps[steps.length - 1]
  if (data === null || !last?.found) return { ip, steps, data: null, decision: 'none', key: null, env: [] }
  const { deny, env } = decodeRuleData(data)
  return { ip, steps, data, decision: deny ? 'deny' : 'allow', key: last.key, env }
}

/** The explanation as lines of text. */
export function explanationText(e: Explanation): string {
  const out: string[] = []
  for (const s of e.steps)
    out.push(
      `${s.found ? 'found' : 'no rule'}  ${JSON.stringify(s.key.toString('latin1'))}  (${STEP_TEXT[s.step]})`,
    )
  if (e.decision === 'none')
    out.push(`no rule matches ${e.ip}: tcpserver allows the connection with no variables`)
  else {
    out.push(
      `${e.decision} ${e.ip} by rule ${JSON.stringify(e.key!.toString('latin1'))} (${STEP_TEXT[e.steps[e.steps.length - 1]!.step]})`,
    )
    for (const [k, v] of e.env) out.push(`  ${k}=${v.toString('latin1')}`)
  }
  return `${out.join('\n')}\n`
}

/** The explanation as plain JSON (bytes as latin1 strings). */
export function explanationJson(e: Explanation): unknown {
  return {
    ip: e.ip,
    decision: e.decision,
    key: e.key?.toString('latin1') ?? null,
    env: e.env.map(([k, v]) => [k, v.toString('latin1')]),
    steps: e.steps.map(s => ({ key: s.key.toString('latin1'), step: s.step, found: s.found })),
  }
}

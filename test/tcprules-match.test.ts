/**
 * Our matcher (decision, key, variables) against what Debian's tcprulescheck prints for the
 * same database, on generated rule sets and clients. The one allowed difference: for a live
 * connection our matcher reads an IPv4-mapped address as the IPv4 address, tcprulescheck does not.
 */
import { writeFileSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { CdbReader } from '@qmqpkit/cdb'
import {
  compileRulesToBuffer,
  matchRules,
  RulesSyntaxError,
  type Dialect,
  type MatchResult,
} from '../packages/tcprules/src/index.js'
import { generateRulesFile, makeRng, pick, seedFromEnv, type Lookup } from './lib/rules-gen.js'
import { batchCheck, missingTools, reference, scratchDir, type CheckJob } from './lib/tcprules-tools.js'

const seed = seedFromEnv(4242)

/** tcprulescheck's output as a MatchResult. */
function parseCheck(out: string): MatchResult {
  const lines = out.split('\n').slice(0, -1)
  const head = lines[0]!
  const last = lines[lines.length - 1]!
  const env = lines
    .slice(1, -1)
    .map(l => l.slice('set environment variable '.length))
    .map(
      s =>
        [s.slice(0, s.indexOf('=')), Buffer.from(s.slice(s.indexOf('=') + 1), 'latin1')] as [string, Buffer],
    )
  if (head === 'default:') return { decision: 'none', key: null, env }
  return {
    decision: last === 'deny connection' ? 'deny' : 'allow',
    key: Buffer.from(head.slice(5, -1), 'latin1'),
    env,
  }
}

function run(t: Test, dialect: Dialect, sets: number, tool: string) {
  const dir = scratchDir(t)
  const rng = makeRng(seed + (dialect === 'ipv6' ? 1 : 0))
  const jobs: CheckJob[] = []
  const ask: Array<{ set: number; lookup: Lookup; ours: MatchResult; mapped?: MatchResult }> = []
  let made = 0
  while (made < sets) {
    const g = generateRulesFile(rng, {
      dialect,
      invalidRate: 0,
      lookups: 20,
      lines: 5 + Math.floor(rng() * 60),
    })
    let cdb: Buffer
    try {
      cdb = compileRulesToBuffer(g.text, { dialect })
    } catch (err) {
      if (err instanceof RulesSyntaxError) continue
      throw err
    }
    writeFileSync(join(dir, `${made}.cdb`), cdb)
    const db = CdbReader.fromBuffer(cdb)
    const lookups = [...g.lookups]
    if (dialect === 'ipv6')
      lookups.push({ ip: `::ffff:${pick(rng, ['127.0.0.1', '10.0.0.1', '192.0.2.1'])}` })
    for (const lookup of lookups) {
      const env: Record<string, string> = { TCPREMOTEIP: lookup.ip }
      if (lookup.host !== undefined) env.TCPREMOTEHOST = lookup.host
      if (lookup.info !== undefined) env.TCPREMOTEINFO = lookup.info
      jobs.push({ cdb: `${made}.cdb`, env })
      const conn = { ip: lookup.ip, host: lookup.host, info: lookup.info }
      const mapped = lookup.ip.startsWith('::ffff:')
      ask.push({
        set: made,
        lookup,
        ours: matchRules(db, conn, { dialect, normalizeIp: !mapped }),
        ...(mapped ? { mapped: matchRules(db, conn, { dialect }) } : {}),
      })
      if (mapped) {
        // What the server does: the IPv4 form, looked up as such.
        const v4 = matchRules(db, { ...conn, ip: lookup.ip.slice(7) }, { dialect })
        if (JSON.stringify(v4) !== JSON.stringify(ask[ask.length - 1]!.mapped))
          throw new Error(`mapped lookup ${lookup.ip} is not its IPv4 form`)
      }
    }
    made++
  }
  batchCheck(tool, dir, jobs)
  const problems: string[] = []
  const decisions = new Map<string, number>()
  for (const [n, a] of ask.entries()) {
    const expected = parseCheck(readFileSync(join(dir, `check-${n}.out`), 'latin1'))
    decisions.set(expected.decision, (decisions.get(expected.decision) ?? 0) + 1)
    if (JSON.stringify(a.ours) !== JSON.stringify(expected))
      problems.push(
        `seed ${seed} set ${a.set} ${JSON.stringify(a.lookup)}: ${JSON.stringify({ expected, ours: a.ours })}`,
      )
  }
  t.same(
    problems.slice(0, 5),
    [],
    `${ask.length} lookups over ${sets} rule sets (${problems.length} problems)`,
  )
  t.ok(
    (decisions.get('allow') ?? 0) > 0 && (decisions.get('deny') ?? 0) > 0 && (decisions.get('none') ?? 0) > 0,
    `decisions seen: ${JSON.stringify([...decisions])}`,
  )
}

t.test(
  'matchRules agrees with tcprulescheck (ucspi-tcp)',
  { skip: missingTools('tcprulescheck') ?? false },
  t => {
    run(t, 'ipv4', 120, reference.tcprulescheck!)
    t.end()
  },
)

t.test(
  'matchRules agrees with tcprulescheck (ucspi-tcp-ipv6)',
  { skip: missingTools('tcprulescheck6') ?? false },
  t => {
    run(t, 'ipv6', 40, reference.tcprulescheck6!)
    t.end()
  },
)

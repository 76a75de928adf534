/**
 * Our compiler and matcher, in-process, against Debian's tcprules and tcprulescheck (ucspi-tcp)
 * and ucspi-tcp-ipv6's, on seeded generated rules files. TCPRULES_SEED replays a run,
 * TCPRULES_FILES changes the number of IPv4 files (a fifth as many IPv6 files are made).
 */
import { readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { CdbReader } from '@qmqpkit/cdb'
import {
  checkOutput,
  compileRulesToBuffer,
  lookupRule,
  RulesSyntaxError,
  type Dialect,
} from '../packages/tcprules/src/index.js'
import { generateRulesFile, makeRng, seedFromEnv, type GeneratedFile, type Lookup } from './lib/rules-gen.js'
import {
  batchCheck,
  batchCompile,
  missingTools,
  reference,
  runTool,
  scratchDir,
  type CheckJob,
} from './lib/tcprules-tools.js'

const seed = seedFromEnv(20240501)
const FILES_V4 = Number(process.env.TCPRULES_FILES ?? 2000)
const FILES_V6 = Math.round(FILES_V4 / 5)
const LOOKUPS_PER_FILE = 3

interface Outcome {
  status: number
  stderr: Buffer
  cdb?: Buffer
}

/** What our library says tcprules would do with `text`. */
export function ours(text: Buffer, dialect: Dialect): Outcome {
  try {
    return { status: 0, stderr: Buffer.alloc(0), cdb: compileRulesToBuffer(text, { dialect }) }
  } catch (err) {
    if (!(err instanceof RulesSyntaxError)) throw err
    const nul = err.text.indexOf(0)
    const shown = nul < 0 ? err.text : err.text.subarray(0, nul)
    return {
      status: 100,
      stderr: Buffer.concat([
        Buffer.from('tcprules: fatal: unable to parse this line: '),
        shown,
        Buffer.from('\n'),
      ]),
    }
  }
}

function lookupEnv(l: Lookup): Record<string, string> {
  const env: Record<string, string> = { TCPREMOTEIP: l.ip }
  if (l.host !== undefined) env.TCPREMOTEHOST = l.host
  if (l.info !== undefined) env.TCPREMOTEINFO = l.info
  return env
}

function describe(n: number, text: Buffer): string {
  const shown = text.length > 400 ? `${text.subarray(0, 400).toString('latin1')}…` : text.toString('latin1')
  return `seed ${seed} case ${n}: ${JSON.stringify(shown)}`
}

const opt = (s: string | undefined) => (s === undefined ? undefined : Buffer.from(s))

function differential(t: Test, dialect: Dialect, files: number, tool: string, check: string) {
  const dir = scratchDir(t)
  const rng = makeRng(seed + (dialect === 'ipv6' ? 1 : 0))
  const generated: GeneratedFile[] = []
  for (let n = 0; n < files; n++) {
    const file = generateRulesFile(rng, { dialect })
    generated.push(file)
    writeFileSync(join(dir, `${n}.rules`), file.text)
  }
  batchCompile(tool, dir, files)

  const problems: string[] = []
  const jobs: CheckJob[] = []
  const expected: Array<{ n: number; lookup: Lookup; output: Buffer }> = []
  let compiled = 0
  let refused = 0
  for (const [n, file] of generated.entries()) {
    const status = Number(readFileSync(join(dir, `${n}.rc`), 'latin1'))
    const stderr = readFileSync(join(dir, `${n}.err`))
    const got = ours(file.text, dialect)
    if (status !== got.status || !stderr.equals(got.stderr)) {
      problems.push(
        `${describe(n, file.text)}\n  reference: ${status} ${JSON.stringify(stderr.toString('latin1'))}\n  ours: ${got.status} ${JSON.stringify(got.stderr.toString('latin1'))}`,
      )
      continue
    }
    if (got.status !== 0) {
      refused++
      continue
    }
    compiled++
    const refCdb = readFileSync(join(dir, `${n}.cdb`))
    if (!refCdb.equals(got.cdb!)) {
      problems.push(`${describe(n, file.text)}\n  CDB differs (${refCdb.length} vs ${got.cdb!.length} bytes)`)
      continue
    }
    const db = CdbReader.fromBuffer(got.cdb!)
    for (const lookup of file.lookups.slice(0, LOOKUPS_PER_FILE)) {
      jobs.push({ cdb: `${n}.cdb`, env: lookupEnv(lookup) })
      const hit = lookupRule(db, Buffer.from(lookup.ip), opt(lookup.host), opt(lookup.info), dialect)
      expected.push({ n, lookup, output: checkOutput(hit) })
    }
  }
  batchCheck(check, dir, jobs)
  for (const [j, e] of expected.entries()) {
    const out = readFileSync(join(dir, `check-${j}.out`))
    const rc = readFileSync(join(dir, `check-${j}.rc`), 'latin1').trim()
    if (rc !== '0' || !out.equals(e.output)) {
      problems.push(
        `${describe(e.n, generated[e.n]!.text)}\n  lookup ${JSON.stringify(e.lookup)}\n  reference (exit ${rc}): ${JSON.stringify(out.toString('latin1'))}\n  ours: ${JSON.stringify(e.output.toString('latin1'))}`,
      )
    }
  }
  t.same(problems.slice(0, 5), [], `${dialect}: ${files} files, seed ${seed} (${problems.length} problems)`)
  // The generator must exercise both outcomes and real lookups, or the comparison proves little.
  t.ok(compiled > files / 3 && refused > files / 20, `${compiled} compiled, ${refused} refused`)
  const kinds = new Set(
    expected.map(e =>
      e.output.toString('latin1').replace(/^(rule|default).*\n(?:.*\n)*(.*) connection\n$/, '$1 $2'),
    ),
  )
  t.ok(
    expected.length > files && kinds.size >= 3,
    `${expected.length} lookups, kinds of answer: ${[...kinds].join(' | ')}`,
  )
}

t.test(
  'tcprules and tcprulescheck (ucspi-tcp) agree with our library',
  { skip: missingTools('tcprules', 'tcprulescheck') ?? false },
  t => {
    differential(t, 'ipv4', FILES_V4, reference.tcprules!, reference.tcprulescheck!)
    t.end()
  },
)

t.test(
  'tcprules and tcprulescheck (ucspi-tcp-ipv6) agree with our library',
  { skip: missingTools('tcprules6', 'tcprulescheck6') ?? false },
  t => {
    differential(t, 'ipv6', FILES_V6, reference.tcprules6!, reference.tcprulescheck6!)
    t.end()
  },
)

t.test(
  'where ucspi-tcp-ipv6 never finishes, ours ends as ucspi-tcp does',
  { skip: missingTools('tcprules', 'tcprules6') ?? false },
  t => {
    const dir = scratchDir(t)
    const cases = [
      '1.2.3.4:allow\nthis line has no colon\n:deny\n',
      '1.2.3.4:allow\n   \t\n',
      '1.2.3.4:allow\n\r\n5.6.7.8:deny\n',
      '1.2.3.4:permit\n',
      '::1:permit\n',
      '10.0.0.1:allow,A="x"\n10.0.0.2:ALLOW\n',
    ]
    for (const text of cases) {
      const input = Buffer.from(text)
      const v6 = runTool(reference.tcprules6!, ['r6.cdb', 'r6.tmp'], { input, cwd: dir, timeoutMs: 1000 })
      t.ok(v6.timedOut, `ucspi-tcp-ipv6 still loops on ${JSON.stringify(text)}`)
      rmSync(join(dir, 'r4.cdb'), { force: true })
      const v4 = runTool(reference.tcprules!, ['r4.cdb', 'r4.tmp'], { input, cwd: dir })
      const got = ours(input, 'ipv6')
      t.same(
        [got.status, got.stderr.toString('latin1')],
        [v4.status, v4.stderr.toString('latin1')],
        JSON.stringify(text),
      )
      if (v4.status === 0)
        t.ok(
          existsSync(join(dir, 'r4.cdb')) && readFileSync(join(dir, 'r4.cdb')).equals(got.cdb!),
          'same CDB',
        )
    }
    t.end()
  },
)

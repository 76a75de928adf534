/**
 * Our tcprules, tcprules6, tcprulescheck and tcprulescheck6 commands end to end (built bins,
 * separate processes) against Debian's: database bytes, file modes, exit codes, stderr, temp
 * files left behind, checker output. TCPRULES_SEED replays a run.
 */
import {
  chmodSync,
  existsSync,
  mkdirSync,
  readFileSync,
  statSync,
  writeFileSync,
  copyFileSync,
} from 'node:fs'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { generateRulesFile, makeRng, seedFromEnv, type Lookup } from './lib/rules-gen.js'
import {
  batchCheck,
  batchCompile,
  missingTools,
  ourBin,
  reference,
  repoRoot,
  runOurs,
  runTool,
  scratchDir,
  type CheckJob,
} from './lib/tcprules-tools.js'

const seed = seedFromEnv(777)

interface Side {
  dir: string
  tool: string
}

function compareBatches(t: Test, ref: Side, ours: Side, texts: Buffer[], umask: string) {
  for (const side of [ref, ours]) {
    for (const [n, text] of texts.entries()) writeFileSync(join(side.dir, `${n}.rules`), text)
    batchCompile(side.tool, side.dir, texts.length, umask)
  }
  const problems: string[] = []
  let compiled = 0
  for (const [n, text] of texts.entries()) {
    const where = `seed ${seed} case ${n}: ${JSON.stringify(text.subarray(0, 300).toString('latin1'))}`
    const read = (side: Side, ext: string) => readFileSync(join(side.dir, `${n}.${ext}`))
    const rc = [read(ref, 'rc').toString().trim(), read(ours, 'rc').toString().trim()]
    if (rc[0] !== rc[1]) problems.push(`${where}: exit ${rc[0]} vs ${rc[1]}`)
    if (!read(ref, 'err').equals(read(ours, 'err')))
      problems.push(
        `${where}: stderr ${JSON.stringify([read(ref, 'err').toString('latin1'), read(ours, 'err').toString('latin1')])}`,
      )
    const exists = [existsSync(join(ref.dir, `${n}.cdb`)), existsSync(join(ours.dir, `${n}.cdb`))]
    const tmps = [existsSync(join(ref.dir, `${n}.tmp`)), existsSync(join(ours.dir, `${n}.tmp`))]
    if (exists[0] !== exists[1] || tmps[0] !== tmps[1])
      problems.push(`${where}: files ${JSON.stringify({ exists, tmps })}`)
    if (exists[0] && exists[1]) {
      compiled++
      if (!read(ref, 'cdb').equals(read(ours, 'cdb'))) problems.push(`${where}: CDB bytes differ`)
      const modes = [statSync(join(ref.dir, `${n}.cdb`)).mode, statSync(join(ours.dir, `${n}.cdb`)).mode]
      if (modes[0] !== modes[1]) problems.push(`${where}: mode ${modes.map(m => m.toString(8))}`)
    }
  }
  t.same(problems.slice(0, 5), [], `${texts.length} files, umask ${umask} (${problems.length} problems)`)
  t.ok(compiled > texts.length / 3, `${compiled} compiled`)
}

function lookupEnv(l: Lookup): Record<string, string> {
  const env: Record<string, string> = { TCPREMOTEIP: l.ip }
  if (l.host !== undefined) env.TCPREMOTEHOST = l.host
  if (l.info !== undefined) env.TCPREMOTEINFO = l.info
  return env
}

function compareChecks(t: Test, ref: Side, ours: Side, jobs: CheckJob[]) {
  batchCheck(ref.tool, ref.dir, jobs)
  batchCheck(ours.tool, ours.dir, jobs)
  const problems: string[] = []
  for (const [n, job] of jobs.entries()) {
    const a = readFileSync(join(ref.dir, `check-${n}.out`))
    const b = readFileSync(join(ours.dir, `check-${n}.out`))
    const rc = [
      readFileSync(join(ref.dir, `check-${n}.rc`), 'latin1'),
      readFileSync(join(ours.dir, `check-${n}.rc`), 'latin1'),
    ]
    if (!a.equals(b) || rc[0] !== rc[1])
      problems.push(
        `seed ${seed} ${JSON.stringify(job)}: ${JSON.stringify([a.toString('latin1'), b.toString('latin1'), rc])}`,
      )
  }
  t.same(problems.slice(0, 5), [], `${jobs.length} lookups (${problems.length} problems)`)
}

function generatedRun(
  t: Test,
  dialect: 'ipv4' | 'ipv6',
  files: number,
  tools: [string, string, string, string],
) {
  const rng = makeRng(seed + (dialect === 'ipv6' ? 1 : 0))
  const base = scratchDir(t)
  const ref = { dir: join(base, 'ref'), tool: tools[0] }
  const ours = { dir: join(base, 'ours'), tool: tools[1] }
  mkdirSync(ref.dir)
  mkdirSync(ours.dir)
  const generated = Array.from({ length: files }, () =>
    generateRulesFile(rng, { dialect, lines: 1 + Math.floor(rng() * 60) }),
  )
  compareBatches(
    t,
    ref,
    ours,
    generated.map(g => g.text),
    dialect === 'ipv4' ? '022' : '027',
  )
  const jobs: CheckJob[] = []
  for (const [n, g] of generated.entries()) {
    if (!existsSync(join(ref.dir, `${n}.cdb`)) || jobs.length >= (dialect === 'ipv4' ? 24 : 12)) continue
    for (const l of g.lookups.slice(0, 2)) jobs.push({ cdb: `${n}.cdb`, env: lookupEnv(l) })
  }
  compareChecks(t, { dir: ref.dir, tool: tools[2] }, { dir: ours.dir, tool: tools[3] }, jobs)
}

t.test(
  'generated files through tcprules and tcprulescheck',
  { skip: missingTools('tcprules', 'tcprulescheck') ?? false },
  t => {
    generatedRun(t, 'ipv4', 120, [
      reference.tcprules!,
      ourBin('tcprules'),
      reference.tcprulescheck!,
      ourBin('tcprulescheck'),
    ])
    t.end()
  },
)

t.test(
  'generated files through tcprules6 and tcprulescheck6',
  { skip: missingTools('tcprules6', 'tcprulescheck6') ?? false },
  t => {
    generatedRun(t, 'ipv6', 30, [
      reference.tcprules6!,
      ourBin('tcprules6'),
      reference.tcprulescheck6!,
      ourBin('tcprulescheck6'),
    ])
    t.end()
  },
)

t.test(
  'failures: same exit codes, same messages, the database untouched',
  { skip: missingTools('tcprules', 'tcprulescheck') ?? false },
  t => {
    const base = scratchDir(t)
    const good = Buffer.from('1.2.3.4:allow\n')
    const cases: Array<{
      name: string
      args: string[]
      input?: Buffer
      prepare?: (dir: string) => void
      check?: boolean
    }> = [
      { name: 'no arguments', args: [] },
      { name: 'one argument', args: ['r.cdb'] },
      { name: 'tmp in a missing directory', args: ['r.cdb', 'nodir/r.tmp'], input: good },
      {
        name: 'target is a directory',
        args: ['isdir', 'r.tmp'],
        input: good,
        prepare: d => mkdirSync(join(d, 'isdir')),
      },
      {
        name: 'bad line keeps the old database',
        args: ['r.cdb', 'r.tmp'],
        input: Buffer.from('1:allow\n2:x\n'),
        prepare: d => writeFileSync(join(d, 'r.cdb'), 'old'),
      },
      {
        name: 'existing tmp keeps its mode',
        args: ['r.cdb', 'r.tmp'],
        input: good,
        prepare: d => (writeFileSync(join(d, 'r.tmp'), 'x'), chmodSync(join(d, 'r.tmp'), 0o600)),
      },
      {
        name: 'NUL in a bad line ends the message',
        args: ['r.cdb', 'r.tmp'],
        input: Buffer.from('1.2\0.3:allow x\n'),
      },
      { name: 'checker: no argument', args: [], check: true },
      { name: 'checker: missing database', args: ['nothere.cdb'], check: true },
      {
        name: 'checker: empty database',
        args: ['empty.cdb'],
        check: true,
        prepare: d => writeFileSync(join(d, 'empty.cdb'), ''),
      },
      {
        name: 'checker: truncated database',
        args: ['short.cdb'],
        check: true,
        prepare: d => writeFileSync(join(d, 'short.cdb'), Buffer.alloc(100, 1)),
      },
    ]
    for (const [n, c] of cases.entries()) {
      const results = (['ref', 'ours'] as const).map(side => {
        const dir = join(base, `${side}-${n}`)
        mkdirSync(dir)
        c.prepare?.(dir)
        const name = c.check ? 'tcprulescheck' : 'tcprules'
        const r =
          side === 'ref'
            ? runTool(reference[name]!, c.args, { input: c.input, cwd: dir, env: { TCPREMOTEIP: '1.2.3.4' } })
            : runOurs(name, c.args, { input: c.input, cwd: dir, env: { TCPREMOTEIP: '1.2.3.4' } })
        const file = (f: string) =>
          existsSync(join(dir, f))
            ? [statSync(join(dir, f)).mode.toString(8), readFileSync(join(dir, f)).toString('latin1')]
            : null
        return {
          status: r.status,
          stderr: r.stderr.toString('latin1'),
          stdout: r.stdout.toString('latin1'),
          cdb: file('r.cdb'),
          tmp: existsSync(join(dir, 'r.tmp')),
        }
      })
      t.same(results[1], results[0], c.name)
    }
    t.end()
  },
)

t.test("GreenArrow's activation command from node_modules/.bin", t => {
  const dir = scratchDir(t)
  const fixtures = join(repoRoot, 'fixtures', 'tcprules')
  copyFileSync(join(fixtures, '10-greenarrow-qmqp.rules'), join(dir, 'qmqp.tcp'))
  const bin = join(repoRoot, 'node_modules', '.bin', 'tcprules')
  const r = runTool('/bin/sh', ['-c', `${bin} qmqp.tcp.cdb qmqp.tcp.cdb.tmp < qmqp.tcp`], {
    cwd: dir,
    env: { PATH: `${join(process.execPath, '..')}:/usr/bin:/bin` },
  })
  t.same([r.status, r.stderr.toString()], [0, ''])
  t.same(readFileSync(join(dir, 'qmqp.tcp.cdb')), readFileSync(join(fixtures, '10-greenarrow-qmqp.cdb')))
  t.notOk(existsSync(join(dir, 'qmqp.tcp.cdb.tmp')), 'the temp file was renamed')
  t.end()
})

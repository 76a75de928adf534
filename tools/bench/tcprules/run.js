#!/usr/bin/env node
/**
 * tcprules benchmark: compile generated rules files of 10k, 100k and 1M lines with Debian's
 * tcprules and with ours (the built command, a separate process each, rounds interleaved);
 * wall time, peak RSS (from the kernel's rusage of the child) and the ratios. Then matcher
 * lookups per second on a 100k-rule database. Prints figures; asserts nothing.
 *
 *   npx tsc -b packages/tcprules && npm run bench -- tcprules
 *   (BENCH_LINES=10000,100000 BENCH_ROUNDS=3 BENCH_DIR=/dev/shm to change the run)
 */
import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync, statSync, writeFileSync, openSync, closeSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, dirname } from 'node:path'
import { fileURLToPath } from 'node:url'
import { performance } from 'node:perf_hooks'
import { CdbReader } from '@qmqpkit/cdb'
import { compileRulesToBuffer, matchRules } from '@qmqpkit/tcprules'

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..')
const ours = join(root, 'packages', 'tcprules', 'bin', 'tcprules')
const reference = process.env.TCPRULES_REFERENCE ?? '/usr/bin/tcprules'
const sizes = (process.env.BENCH_LINES ?? '10000,100000,1000000').split(',').map(Number)
const rounds = Number(process.env.BENCH_ROUNDS ?? 3)

/** A qmqp.tcp-like file: exact addresses, prefixes, ranges, hosts, variables, a catch-all. */
function rulesText(lines) {
  const out = []
  let seed = 12345
  const rnd = n => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0
    return (seed >>> 8) % n
  }
  for (let i = 0; i < lines - 1; i++) {
    const ip = `${10 + (i >>> 24)}.${(i >>> 16) & 255}.${(i >>> 8) & 255}.${i & 255}`
    switch (rnd(10)) {
      case 0:
        out.push(`${ip.slice(0, ip.lastIndexOf('.') + 1)}:deny`)
        break
      case 1:
        out.push(`=host${i}.example.com:allow,GREENARROW_MAILCLASS="class${i % 7}"`)
        break
      case 2:
        out.push(`# client ${i}`)
        break
      default:
        out.push(`${ip}:allow,RELAYCLIENT="",GREENARROW_SIMPLEMH=""`)
    }
  }
  out.push(':deny')
  return Buffer.from(`${out.join('\n')}\n`)
}

/** Runs a command under /usr/bin/time for its peak RSS; stdin from a file. */
function timed(file, args, input) {
  const fd = openSync(input, 'r')
  const t0 = performance.now()
  const r = spawnSync('/usr/bin/time', ['-f', '%M %U %S', file, ...args], { stdio: [fd, 'ignore', 'pipe'] })
  const ms = performance.now() - t0
  closeSync(fd)
  if (r.status !== 0) throw new Error(`${file} failed: ${r.stderr.toString()}`)
  const lines = r.stderr.toString().trim().split('\n')
  const [rss, user, sys] = lines[lines.length - 1].split(' ').map(Number)
  return { ms, rssKb: rss, cpuMs: (user + sys) * 1000 }
}

const median = xs => [...xs].sort((a, b) => a - b)[xs.length >> 1]

const dir = mkdtempSync(join(process.env.BENCH_DIR ?? tmpdir(), 'tcprules-bench-'))
try {
  console.log(`tcprules compile: ${reference} vs ${ours} (median of ${rounds}, rounds interleaved)`)
  for (const lines of sizes) {
    const input = join(dir, 'rules')
    writeFileSync(input, rulesText(lines))
    const ref = []
    const sub = []
    for (let i = 0; i < rounds; i++) {
      ref.push(timed(reference, [join(dir, 'ref.cdb'), join(dir, 'ref.tmp')], input))
      sub.push(timed(process.execPath, [ours, join(dir, 'our.cdb'), join(dir, 'our.tmp')], input))
    }
    const same = readFileSync(join(dir, 'ref.cdb')).equals(readFileSync(join(dir, 'our.cdb')))
    const cdbBytes = statSync(join(dir, 'our.cdb')).size
    const r = median(ref.map(x => x.ms))
    const s = median(sub.map(x => x.ms))
    const rc = median(ref.map(x => x.cpuMs))
    const sc = median(sub.map(x => x.cpuMs))
    const rr = Math.max(...ref.map(x => x.rssKb)) * 1024
    const sr = Math.max(...sub.map(x => x.rssKb)) * 1024
    const mb = b => `${(b / 1048576).toFixed(1)} MiB`
    console.log(`  ${String(lines).padStart(8)} lines, cdb ${mb(cdbBytes)}, identical: ${same}`)
    console.log(
      `    debian tcprules  ${r.toFixed(0).padStart(7)} ms wall ${rc.toFixed(0).padStart(6)} ms cpu   peak RSS ${mb(rr)}`,
    )
    console.log(
      `    ours             ${s.toFixed(0).padStart(7)} ms wall ${sc.toFixed(0).padStart(6)} ms cpu   peak RSS ${mb(sr)}`,
    )
    console.log(
      `    ratio ours/debian: wall ${(s / r).toFixed(2)}, cpu ${rc > 0 ? (sc / rc).toFixed(2) : 'n/a (reference under 10 ms)'}   our RSS / cdb size ${(sr / cdbBytes).toFixed(2)}`,
    )
  }

  const ruleCount = 100_000
  const db = CdbReader.fromBuffer(compileRulesToBuffer(rulesText(ruleCount)))
  const clients = []
  for (let i = 0; i < 4096; i++) {
    const n = (i * 7919) % (ruleCount * 2)
    const ip = `${10 + (n >>> 24)}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`
    clients.push(i % 4 === 0 ? { ip, host: `h${i}.mail.example.net` } : { ip })
  }
  let decisions = 0
  for (let r = 0; r < 3; r++) {
    const count = 500_000
    const t0 = performance.now()
    for (let i = 0; i < count; i++) if (matchRules(db, clients[i & 4095]).decision === 'allow') decisions++
    const ms = performance.now() - t0
    console.log(
      `matcher, ${ruleCount} rules (whole file in memory): ${Math.round(count / (ms / 1000)).toLocaleString('en')} lookups/s (round ${r + 1})`,
    )
  }
  if (decisions === 0) console.log('no lookup was allowed: the workload is wrong')
} finally {
  rmSync(dir, { recursive: true, force: true })
}

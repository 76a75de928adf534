#!/usr/bin/env node
// cdb benchmark: build 1M records and look up 1M random keys. Prints our figures beside
// tinycdb's `cdb -c` (the reference, run in the same process's time frame) and the ratio.
// Options: --records N (default 1000000), --rounds N (default 3).
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, dirname } from 'node:path'
import { fileURLToPath } from 'node:url'
import { CdbReader, CdbWriter, DumpParser } from '../../../packages/cdb/dist/index.js'

const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`)
  return i > 0 ? Number(process.argv[i + 1]) : dflt
}
const records = arg('records', 1_000_000)
const rounds = arg('rounds', 3)
const root = join(dirname(fileURLToPath(import.meta.url)), '../../..')
const dir = mkdtempSync(join(tmpdir(), 'qmqpkit-bench-cdb-'))
const median = xs => [...xs].sort((a, b) => a - b)[xs.length >> 1]

// Input: rules-like keys and short values, as cdbmake's dump format.
const parts = []
for (let i = 0; i < records; i++) {
  const key = `${10 + (i >> 24)}.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`
  const val = i % 3 === 0 ? 'D\0' : `+GREENARROW_MAILCLASS=c${i % 97}\0`
  parts.push(`+${key.length},${Buffer.byteLength(val)}:${key}->${val}\n`)
}
parts.push('\n')
const input = Buffer.from(parts.join(''))
writeFileSync(join(dir, 'in'), input)
console.log(
  `cdb build: ${records} records, ${(input.length / 1e6).toFixed(1)} MB of cdbmake input, median of ${rounds}`,
)

const time = fn => {
  const t0 = performance.now()
  fn()
  return performance.now() - t0
}
const tiny = [],
  lib = [],
  cmd = []
for (let r = 0; r < rounds; r++) {
  // Interleaved so drift hits every contender alike.
  tiny.push(
    time(() => {
      const p = spawnSync('cdb', ['-c', '-t', join(dir, 'tiny.tmp'), join(dir, 'tiny.cdb'), join(dir, 'in')])
      if (p.status !== 0) throw new Error(`tinycdb failed: ${p.stderr}`)
    }),
  )
  lib.push(
    time(() => {
      const w = CdbWriter.create(join(dir, 'lib.cdb'))
      const p = new DumpParser(w)
      p.push(input)
      p.end()
      // finish() is async only in signature: the work is synchronous.
      void w.finish()
    }),
  )
  cmd.push(
    time(() => {
      const p = spawnSync('/bin/sh', [
        '-c',
        `exec "$0" "$1" "$2" "$3" < "$4"`,
        process.execPath,
        join(root, 'packages/cdb/bin/cdbmake'),
        join(dir, 'cmd.cdb'),
        join(dir, 'cmd.tmp'),
        join(dir, 'in'),
      ])
      if (p.status !== 0) throw new Error(`our cdbmake failed: ${p.stderr}`)
    }),
  )
}
const same = readFileSync(join(dir, 'tiny.cdb')).equals(readFileSync(join(dir, 'cmd.cdb')))
const t = median(tiny),
  l = median(lib),
  c = median(cmd)
console.log(`  tinycdb cdb -c (reference)        ${t.toFixed(0).padStart(7)} ms`)
console.log(
  `  our cdbmake command               ${c.toFixed(0).padStart(7)} ms   ratio ${(c / t).toFixed(2)}x the reference (target <= 1.5)`,
)
console.log(
  `  our library (DumpParser+writer)   ${l.toFixed(0).padStart(7)} ms   ratio ${(l / t).toFixed(2)}x`,
)
console.log(`  files byte-identical: ${same}   size ${statSync(join(dir, 'cmd.cdb')).size} bytes`)

// Lookups: 1M random keys (hits and misses), whole-file buffer and positional reads.
const keys = []
let seed = 12345
const rnd = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32
for (let i = 0; i < 1_000_000; i++) {
  const n = Math.floor(rnd() * records * 1.1)
  keys.push(Buffer.from(`${10 + (n >> 24)}.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`))
}
for (const wholeFile of [true, false]) {
  const db = CdbReader.open(join(dir, 'cmd.cdb'), { wholeFile })
  const n = wholeFile ? keys.length : 200_000
  let found = 0
  const ms = time(() => {
    for (let i = 0; i < n; i++) if (db.get(keys[i]) !== undefined) found++
  })
  db.close()
  console.log(
    `  lookups (${wholeFile ? 'whole file in memory' : 'positional reads  '}) ${Math.round(n / (ms / 1000))
      .toLocaleString('en')
      .padStart(11)} /s   (${n} lookups, ${found} found; target >= 1,000,000/s in memory)`,
  )
}
rmSync(dir, { recursive: true, force: true })

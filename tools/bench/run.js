#!/usr/bin/env node
// Runs the benchmarks: `npm run bench` runs them all, `npm run bench -- cdb tcprules` some.
// Each benchmark is tools/bench/<name>/run.js, imports the built packages, prints figures and
// ratios against a reference run in the same process, and never asserts.
import { spawnSync } from 'node:child_process'
import { existsSync, readdirSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const here = dirname(fileURLToPath(import.meta.url))
const wanted = process.argv.slice(2).filter(a => !a.startsWith('-'))
const flags = process.argv.slice(2).filter(a => a.startsWith('-'))
const names = readdirSync(here, { withFileTypes: true })
  .filter(d => d.isDirectory() && existsSync(join(here, d.name, 'run.js')))
  .map(d => d.name)
  .filter(n => wanted.length === 0 || wanted.includes(n))
let status = 0
for (const name of names) {
  console.log(`\n=== bench ${name}`)
  const r = spawnSync(process.execPath, ['--expose-gc', join(here, name, 'run.js'), ...flags], {
    stdio: 'inherit',
  })
  if (r.status !== 0) status = 1
}
process.exitCode = status

#!/usr/bin/env node
// Runs the qmqpd backend benchmark: bundles bench.ts (and the Postfix helper it shares with the
// tests) with esbuild, leaving packages external so the built @qmqpkit packages are what runs.
// Usage: node tools/bench/server/run.js [--quick] [--runs N] [--duration-ms N] [--only a,b]
import { spawn } from 'node:child_process'
import { mkdirSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'

const here = dirname(fileURLToPath(import.meta.url))
const root = resolve(here, '../../..')
// Inside the repository, so the bundle's bare imports resolve from its node_modules.
const out = join(root, 'node_modules', '.cache', 'qmqpkit-bench-server')
mkdirSync(out, { recursive: true })
await build({
  entryPoints: [join(here, 'bench.ts'), join(here, 'sink.ts')],
  outdir: out,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  packages: 'external',
  logLevel: 'warning',
})
const child = spawn(process.execPath, ['--expose-gc', join(out, 'bench.js'), ...process.argv.slice(2)], {
  stdio: 'inherit',
  env: { ...process.env, QMQPKIT_ROOT: root, QMQPKIT_BENCH_SINK: join(out, 'sink.js') },
})
child.on('exit', (code, signal) => {
  process.exitCode = code ?? (signal ? 1 : 0)
})

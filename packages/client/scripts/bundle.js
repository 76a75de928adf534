// Builds one self-contained file per command under dist/bundle/, so that a command starts by
// reading one file instead of resolving dozens of modules (PHP runs qmail-inject once per
// message). The per-message commands are CommonJS: Node starts a CommonJS main script
// measurably faster than an ES module one (no module loader to set up). qmqpkit-client (run
// once, at install) stays an ES module. Input: the tsc output in dist/. Each bundle exports run().
import { build } from 'esbuild'
import { rmSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))
const common = {
  absWorkingDir: root,
  outdir: 'dist/bundle',
  bundle: true,
  platform: 'node',
  target: 'node20',
  minifyWhitespace: true,
  minifySyntax: true,
  legalComments: 'none',
  logLevel: 'warning',
}

rmSync(new URL('../dist/bundle', import.meta.url), { recursive: true, force: true })

await build({
  ...common,
  entryPoints: [
    { in: 'dist/cli/inject-entry.js', out: 'qmail-inject' },
    { in: 'dist/cli/sendmail.js', out: 'sendmail' },
    { in: 'dist/cli/mailsubj.js', out: 'mailsubj' },
    { in: 'dist/cli/qmail-qmqpc.js', out: 'qmail-qmqpc' },
  ],
  format: 'cjs',
  outExtension: { '.js': '.cjs' },
})

await build({
  ...common,
  entryPoints: [{ in: 'dist/cli/qmqpkit-client.js', out: 'qmqpkit-client' }],
  format: 'esm',
  // commander is CommonJS: give its require() calls of node: modules a real require.
  banner: {
    js: "import { createRequire as __qmqpkitRequire } from 'node:module'; const require = __qmqpkitRequire(import.meta.url);",
  },
})

// Builds one self-contained ES module per command under dist/bundle/, so that a command
// starts by reading one file instead of resolving dozens of modules (PHP runs qmail-inject
// once per message). Input: the tsc output in dist/. Each bundle exports run().
import { build } from 'esbuild'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))
const entries = {
  'qmail-inject': 'dist/cli/inject-entry.js',
  sendmail: 'dist/cli/sendmail.js',
  mailsubj: 'dist/cli/mailsubj.js',
  'qmail-qmqpc': 'dist/cli/qmail-qmqpc.js',
  'qmqpkit-client': 'dist/cli/qmqpkit-client.js',
}

await build({
  absWorkingDir: root,
  entryPoints: Object.entries(entries).map(([out, input]) => ({ in: input, out })),
  outdir: 'dist/bundle',
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  minifyWhitespace: true,
  minifySyntax: true,
  legalComments: 'none',
  logLevel: 'warning',
  // commander is CommonJS: give its require() calls of node: modules a real require.
  banner: {
    js: "import { createRequire as __qmqpkitRequire } from 'node:module'; const require = __qmqpkitRequire(import.meta.url);",
  },
})

import { existsSync, mkdirSync, renameSync, writeFileSync, chmodSync } from 'node:fs'
import { hostname } from 'node:os'
import { basename, dirname, join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { formatServer, parseServerLine } from './control.js'
import { ClientUsageError } from './errors.js'

/** The commands a client home's `bin/` holds, as GreenArrow's QMQP Sending Service has them. */
export const CLIENT_COMMANDS = ['qmail-inject', 'sendmail', 'mailsubj', 'qmail-qmqpc'] as const

/** Options of {@link setupHome}; every default is stated here. */
export interface SetupOptions {
  /** The home to lay out. */
  home: string
  /** Value for a new `control/me`. Default: the host name. */
  me?: string
  /** Servers for a new `control/qmqpservers` (validated). Default: none, only an explanatory comment. */
  servers?: string[]
  /** Directory of the command bundles the `bin/` scripts load. Default: this installation's. */
  bundleDir?: string
}

/** What {@link setupHome} did, path by path. */
export interface SetupReport {
  written: string[]
  kept: string[]
}

const SERVERS_EXAMPLE = `# QMQP servers, one per line, tried in order until one accepts the connection.
# Port 628 unless given: 192.0.2.10   192.0.2.11:628   [2001:db8::25]:628   engine.example.com
`

/**
 * Lays out a client home: `bin/` with the four commands (scripts that load this installation's
 * bundles, rewritten on every run), `control/me` (the host name) and `control/qmqpservers`
 * (the given servers, or a comment that explains the format). Existing control files are never
 * touched, so running it again is harmless.
 */
export function setupHome(options: SetupOptions): SetupReport {
  const servers = (options.servers ?? []).map(s => {
    const parsed = parseServerLine(s.trim())
    if (parsed === undefined) throw new ClientUsageError(`not a QMQP server: ${s}`)
    return formatServer(parsed)
  })
  const bundleDir = options.bundleDir ?? defaultBundleDir()
  const report: SetupReport = { written: [], kept: [] }
  const binDir = join(options.home, 'bin')
  const controlDir = join(options.home, 'control')
  mkdirSync(binDir, { recursive: true, mode: 0o755 })
  mkdirSync(controlDir, { recursive: true, mode: 0o755 })
  for (const command of CLIENT_COMMANDS) {
    const path = join(binDir, command)
    writeAtomically(path, commandScript(join(bundleDir, `${command}.cjs`)), 0o755)
    report.written.push(path)
  }
  const control: Array<[string, string]> = [
    ['me', `${options.me ?? hostname()}\n`],
    ['qmqpservers', servers.length > 0 ? servers.map(s => `${s}\n`).join('') : SERVERS_EXAMPLE],
  ]
  for (const [name, text] of control) {
    const path = join(controlDir, name)
    if (existsSync(path)) {
      report.kept.push(path)
    } else {
      writeAtomically(path, text, 0o644)
      report.written.push(path)
    }
  }
  return report
}

/**
 * A command script for `bin/`. Read as CommonJS (the usual case: no package.json above it
 * says otherwise) it `require()`s the bundle, the fastest start Node offers; read as an ES
 * module it falls back to `import()`. It finds its home from its own location.
 */
export function commandScript(bundlePath: string): string {
  const path = JSON.stringify(bundlePath)
  const url = JSON.stringify(pathToFileURL(bundlePath).href)
  return `#!/usr/bin/env node
const fail = err => {
  process.stderr.write(\`\${process.argv[1]}: fatal: unable to load ${bundlePath}: \${err.message}\\n\`)
  process.exitCode = 111
}
if (typeof require === 'function') {
  let command
  try {
    command = require(${path})
  } catch (err) {
    fail(err)
  }
  if (command) command.run()
} else import(${url}).then(m => m.run(), fail)
`
}

/** The bundles next to this module when it is itself a bundle, else `dist/bundle/`. */
function defaultBundleDir(): string {
  // In the CommonJS bundles import.meta is empty; __filename is the bundle there.
  const here = dirname(typeof __filename === 'string' ? __filename : fileURLToPath(import.meta.url))
  return basename(here) === 'bundle' ? here : join(here, 'bundle')
}

function writeAtomically(path: string, text: string, mode: number): void {
  const tmp = `${path}.tmp${process.pid}`
  writeFileSync(tmp, text, { mode })
  chmodSync(tmp, mode)
  renameSync(tmp, path)
}

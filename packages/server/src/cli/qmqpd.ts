import { readFileSync } from 'node:fs'
import type { EventEmitter } from 'node:events'
import type { Readable, Writable } from 'node:stream'
import { envFromObject, exitCodeFor, rawEnv } from '@qmqpkit/classic'
import { accessControlFor, loggedAccessEvents } from '../access.js'
import { startTestServer, type TestServer } from '../api/serve.js'
import type { Backend } from '../backend.js'
import { backendFactories, createBackend } from '../backends/registry.js'
import { configFilePath, formatAddress, HelpRequest, loadConfig, type Config } from '../config.js'
import { Qmqpd } from '../daemon.js'
import { QmqpdBindError, QmqpdFileError } from '../errors.js'
import { QmqpdLog } from '../log.js'
import { dropPrivileges } from '../privileges.js'

/** The streams, environment and signal source `main` works with; tests pass their own. */
export interface QmqpdIo {
  stdin: Readable
  stdout: Writable
  stderr: Writable
  env: Record<string, string | undefined>
  /** The environment as raw bytes in its order (`--stdio` records it); default: from `env`. */
  rawEnv?: Map<string, Buffer>
  /** Where SIGTERM, SIGINT and SIGHUP come from; default `process`. */
  signals?: EventEmitter
  /** Log here instead of fd 2 or --log-file (tests). */
  logStream?: Writable
  /** Told the bound addresses once qmqpd is serving (tests). */
  onReady?(addresses: Array<{ host: string; port: number }>): void
}

const fatal = (io: QmqpdIo, text: string) => io.stderr.write(`qmqpd: fatal: ${text}\n`)

/** The backends section of --help. */
function backendsHelp(): string {
  const lines = backendFactories().map(f => `  ${`${f.scheme}:`.padEnd(10)} ${f.description}`)
  return `\nBackends (--backend SCHEME:...):\n${lines.join('\n')}\n`
}

/** Reads the config file named by --config / QMQPD_CONFIG. */
function readConfigFile(argv: string[], env: QmqpdIo['env']): string | null {
  const file = configFilePath(argv, env)
  if (file === null) return null
  try {
    return readFileSync(file, 'utf8')
  } catch (err) {
    throw new QmqpdFileError(file, err, `unable to read ${file}: ${(err as Error).message}`)
  }
}

async function openBackends(config: Config, log: QmqpdLog, into: Backend[]): Promise<void> {
  for (const spec of config.backends) into.push(await createBackend(spec, { log }))
}

/**
 * qmqpd: serve QMQP until SIGTERM/SIGINT (exit 0), or one request with --stdio. Exit 100 for a
 * usage or configuration error, 111 when a socket cannot be bound or a file cannot be read.
 */
export async function main(argv: string[], io: QmqpdIo): Promise<number> {
  let config: Config
  try {
    config = loadConfig(argv, io.env, readConfigFile(argv, io.env))
  } catch (err) {
    if (err instanceof HelpRequest) {
      io.stdout.write(err.text.startsWith('Usage') ? `${err.text}${backendsHelp()}` : err.text)
      return 0
    }
    fatal(io, err instanceof Error ? err.message : String(err))
    return exitCodeFor(err)
  }

  // Batched: lines go out together rather than a write each (two lines per message under load).
  // --stdio serves one request: one write per line is fine there.
  const log = new QmqpdLog(config.log, io.logStream, { batched: !config.stdio })
  const backends: Backend[] = []
  let daemon: Qmqpd | undefined
  let testing: TestServer | null = null
  try {
    const access = accessControlFor(config.rules, config.rulesDialect, loggedAccessEvents(log))
    // The inspection API, fault rules and namespaces, when asked for (README-testing.md).
    testing = config.stdio ? null : await startTestServer(config)
    daemon = new Qmqpd({ config, log, access, backends, ...(testing ? { hooks: testing.inspection } : {}) })

    if (config.stdio) {
      await openBackends(config, log, backends)
      const env = [...(io.rawEnv ?? envFromObject(io.env)).entries()]
      const code = await daemon.serveStdio(io.stdin, io.stdout, env)
      await daemon.close(0)
      log.flush()
      return code
    }

    const bound = await daemon.listen()
    if (config.user !== null) {
      const ids = dropPrivileges(config.user)
      log.info({ event: 'user', user: config.user, ...ids }, `running as ${config.user}`)
    }
    await openBackends(config, log, backends)
    // Announced only now: until the backends are open every message would get a Z, and
    // scripts (and tests) take this line to mean "ready".
    for (const b of bound) io.stdout.write(`qmqpd: listening on ${formatAddress(b.host, b.port)}\n`)
    if (testing) {
      await testing.attach(backends)
      if (testing.url) io.stdout.write(`qmqpd: api on ${testing.url}\n`)
    }
    log.info(
      {
        event: 'start',
        listen: bound.map(b => formatAddress(b.host, b.port)),
        access: access.description,
        backends: backends.map(b => b.name),
      },
      'qmqpd serving',
    )
    io.onReady?.(bound)

    const signals = io.signals ?? process
    const d = daemon
    await new Promise<void>(resolve => {
      const onHup = () => d.reopen()
      const onStop = (signal: string) => {
        signals.off('SIGHUP', onHup)
        signals.off('SIGTERM', onTerm)
        signals.off('SIGINT', onInt)
        log.info({ event: 'stop', signal, graceMs: config.shutdownGraceMs }, 'stopping')
        resolve()
      }
      const onTerm = () => onStop('SIGTERM')
      const onInt = () => onStop('SIGINT')
      signals.on('SIGHUP', onHup)
      signals.on('SIGTERM', onTerm)
      signals.on('SIGINT', onInt)
    })
    await daemon.close()
    await testing?.close()
    log.info({ event: 'exit' }, 'qmqpd stopped')
    log.flush()
    return 0
  } catch (err) {
    const text = err instanceof Error ? err.message : String(err)
    fatal(io, text)
    log.error({ event: 'fatal', code: (err as { code?: string }).code, err: text }, 'fatal')
    log.flush()
    await testing?.close().catch(() => undefined)
    if (daemon) await daemon.close(0).catch(() => undefined)
    else for (const b of backends) await b.close().catch(() => undefined)
    return err instanceof QmqpdBindError ? 111 : exitCodeFor(err)
  }
}

/** The `qmqpd` command. */
export async function run(): Promise<void> {
  const code = await main(process.argv.slice(2), {
    stdin: process.stdin,
    stdout: process.stdout,
    stderr: process.stderr,
    env: process.env,
    rawEnv: rawEnv(),
  })
  process.exitCode = code
  // --stdio under tcpserver: fd 0 and 1 are the connection; nothing else may keep us alive.
  if (process.argv.includes('--stdio') || /^(1|true|yes|on)$/i.test(process.env['QMQPD_STDIO'] ?? ''))
    process.exit(code)
}

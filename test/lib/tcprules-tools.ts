/** Finding and running the reference tools (Debian ucspi-tcp, ucspi-tcp-ipv6) and our commands. */
import { spawnSync, type SpawnSyncReturns } from 'node:child_process'
import { accessSync, constants, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..')
export const ourBin = (name: string): string => join(repoRoot, 'packages', 'tcprules', 'bin', name)

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK)
    return true
  } catch {
    return false
  }
}

export const ipv6Dir = process.env.UCSPI_TCP_IPV6_DIR ?? '/opt/ucspi-tcp-ipv6/usr/bin'

/** Paths of the reference programs; a missing one is undefined. */
export const reference = {
  tcprules: executable('/usr/bin/tcprules') ? '/usr/bin/tcprules' : undefined,
  tcprulescheck: executable('/usr/bin/tcprulescheck') ? '/usr/bin/tcprulescheck' : undefined,
  tcpserver: executable('/usr/bin/tcpserver') ? '/usr/bin/tcpserver' : undefined,
  tcprules6: executable(join(ipv6Dir, 'tcprules')) ? join(ipv6Dir, 'tcprules') : undefined,
  tcprulescheck6: executable(join(ipv6Dir, 'tcprulescheck')) ? join(ipv6Dir, 'tcprulescheck') : undefined,
}

/**
 * Why a test must skip, or undefined when every tool it needs is there. In CI a missing tool is
 * an error, never a skip: the caller throws.
 */
export function missingTools(...names: Array<keyof typeof reference>): string | undefined {
  const missing = names.filter(n => reference[n] === undefined)
  if (missing.length === 0) return undefined
  const why = `reference tools missing: ${missing.join(', ')} (install Debian ucspi-tcp; unpack ucspi-tcp-ipv6 into ${ipv6Dir})`
  if (process.env.CI) throw new Error(why)
  return why
}

export interface RunResult {
  status: number | null
  stdout: Buffer
  stderr: Buffer
  timedOut: boolean
}

/** Runs a program with stdin bytes and an exact environment. */
export function runTool(
  file: string,
  args: string[],
  options: {
    input?: Buffer | undefined
    env?: Record<string, string>
    cwd?: string
    timeoutMs?: number
  } = {},
): RunResult {
  // Through env -i: the test runner adds its own variables (a Node loader among them) to every
  // child it sees spawned; the programs compared must see only the environment given here.
  const vars = Object.entries(options.env ?? {}).map(([k, v]) => `${k}=${v}`)
  const r: SpawnSyncReturns<Buffer> = spawnSync('/usr/bin/env', ['-i', ...vars, file, ...args], {
    input: options.input ?? Buffer.alloc(0),
    cwd: options.cwd,
    timeout: options.timeoutMs ?? 20_000,
    killSignal: 'SIGKILL',
    maxBuffer: 64 << 20,
  })
  const code = (r.error as { code?: string } | undefined)?.code
  const timedOut = code === 'ETIMEDOUT'
  // EPIPE: the program exited (a bad line) before reading all its input; its status stands.
  if (r.error && !timedOut && code !== 'EPIPE') throw r.error
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, timedOut }
}

/** Runs one of our bins with the Node that runs the tests. */
export function runOurs(
  name: string,
  args: string[],
  options: Parameters<typeof runTool>[2] = {},
): RunResult {
  return runTool(process.execPath, [ourBin(name), ...args], options)
}

/**
 * A scratch directory on tmpfs when the machine has one: tcprules fsyncs every database it
 * writes, and on a disk that costs ten times the rest of the run. Removed at teardown.
 */
export function scratchDir(t: { teardown(fn: () => void): void }): string {
  let base = tmpdir()
  try {
    accessSync('/dev/shm', constants.W_OK)
    base = '/dev/shm'
  } catch {
    /* no tmpfs: the default temporary directory */
  }
  const dir = mkdtempSync(join(base, 'qmqpkit-tcprules-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

/** PATH for batch shells: the system's programs and the Node that runs the tests (for our bins). */
const shellPath = `${dirname(process.execPath)}:/usr/bin:/bin`

export const shellQuote = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`

/**
 * Runs `tool N.cdb N.tmp < N.rules` for N = 0..count-1 inside `dir` from one shell, so the test
 * process forks once instead of once per file. Leaves N.rc (exit status) and N.err (stderr).
 */
export function batchCompile(tool: string, dir: string, count: number, umask = '022'): void {
  const run = shellQuote(tool)
  const script = `umask ${umask}; i=0; while [ $i -lt ${count} ]; do ${run} $i.cdb $i.tmp < $i.rules 2> $i.err; echo $? > $i.rc; i=$((i+1)); done`
  const r = runTool('/bin/sh', ['-c', script], {
    cwd: dir,
    env: { PATH: shellPath },
    timeoutMs: 600_000,
  })
  if (r.status !== 0) throw new Error(`batch compile failed: ${r.stderr.toString()}`)
}

export interface CheckJob {
  cdb: string
  env: Record<string, string>
}

/** Runs `env -i VARS tool CDB` for each job from one shell; job N's stdout goes to check-N.out, its status to check-N.rc. */
export function batchCheck(tool: string, dir: string, jobs: CheckJob[]): void {
  const lines = jobs.map((job, n) => {
    const vars = Object.entries(job.env).map(([k, v]) => `${k}=${shellQuote(v)}`)
    return `env -i ${vars.join(' ')} ${shellQuote(tool)} ${shellQuote(job.cdb)} > check-${n}.out 2>&1; echo $? > check-${n}.rc`
  })
  const r = runTool('/bin/sh', ['-s'], {
    input: Buffer.from(lines.join('\n') + '\n'),
    cwd: dir,
    env: { PATH: shellPath },
    timeoutMs: 600_000,
  })
  if (r.status !== 0) throw new Error(`batch check failed: ${r.stderr.toString()}`)
}

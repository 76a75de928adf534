import { spawnSync, type SpawnSyncOptions } from 'node:child_process'
import { accessSync, constants } from 'node:fs'
import { delimiter, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Readable, Writable } from 'node:stream'

/** The repository root. */
export const repoRoot = fileURLToPath(new URL('../../', import.meta.url))

/**
 * Full path of a system executable on PATH, or undefined. Folders of node_modules are passed
 * over: npm puts our own drop-ins (tcprules, cdbmake …) there, and a reference tool must
 * never be one of ours.
 */
export function onPath(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir === '' || dir.includes('node_modules')) continue
    const p = join(dir, name)
    try {
      accessSync(p, constants.X_OK)
      return p
    } catch {
      /* next */
    }
  }
  return undefined
}

/**
 * A reference tool the test needs. In CI (CI set) a missing tool is an error: `.ci/run` must
 * install it. Elsewhere the caller gets a skip reason.
 */
export function referenceTool(name: string, hint: string): { path?: string; skip: string | false } {
  const path = onPath(name)
  if (path) return { path, skip: false }
  if (process.env.CI) throw new Error(`${name} not found: .ci/run must install ${hint}`)
  return { skip: `install ${hint}` }
}

/** The path of one of our built commands (run it with process.execPath). */
export function ourBin(pkg: string, name: string): string {
  return join(repoRoot, 'packages', pkg, 'bin', name)
}

export interface RunResult {
  status: number | null
  stdout: Buffer
  stderr: Buffer
}

/** The environment for child processes: the test's own plus `extra`. */
export function childEnv(extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  return { ...process.env, ...extra }
}

/** Runs a program synchronously with the given stdin bytes. */
export function run(
  cmd: string,
  args: string[],
  input?: Buffer | string,
  options: SpawnSyncOptions = {},
): RunResult {
  const r = spawnSync(cmd, args, { input: input ?? '', maxBuffer: 1 << 30, env: childEnv(), ...options })
  if (r.error) throw r.error
  return { status: r.status, stdout: r.stdout as Buffer, stderr: r.stderr as Buffer }
}

/** In-memory standard streams for calling a command's `main()` in-process. */
export function memoryIo(input: Buffer | string = '') {
  const out: Buffer[] = []
  const err: Buffer[] = []
  const sink = (into: Buffer[]) =>
    new Writable({
      write(chunk: Buffer, _enc, done) {
        into.push(Buffer.from(chunk))
        done()
      },
    })
  return {
    io: { stdin: Readable.from([Buffer.from(input)]), stdout: sink(out), stderr: sink(err) },
    stdout: () => Buffer.concat(out),
    stderr: () => Buffer.concat(err),
  }
}

import { spawn } from 'node:child_process'
import type { CommandIo } from '@qmqpkit/classic'

/**
 * Runs a program of the client home as `execv` would have (sendmail's `-bp` and `-bs`), with
 * the command's standard streams, and resolves with its exit code; undefined when it could
 * not be started.
 */
export function runProgram(
  path: string,
  args: string[],
  env: Map<string, Buffer>,
  io: CommandIo,
): Promise<number | undefined> {
  const own = io.stdin === process.stdin && io.stdout === process.stdout && io.stderr === process.stderr
  const childEnv: Record<string, string> = {}
  for (const [k, v] of env) childEnv[k] = v.toString('latin1')
  return new Promise(resolve => {
    const child = spawn(path, args, { env: childEnv, stdio: own ? 'inherit' : 'pipe' })
    child.once('error', () => resolve(undefined))
    if (!own) {
      // A program that does not read its input (qmail-qread) closes the pipe: not an error.
      child.stdin!.on('error', () => undefined)
      io.stdin.pipe(child.stdin!)
      child.stdout!.pipe(io.stdout, { end: false })
      child.stderr!.pipe(io.stderr, { end: false })
    }
    child.once('close', (code, signal) => resolve(code ?? (signal ? 111 : 0)))
  })
}

import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { repoRoot } from './tools.js'

/** The built command bundles the client's bin scripts load. */
export const clientBundleDir = join(repoRoot, 'packages/client/dist/bundle')

/** Fails clearly when `npm run build` (tsc -b, then the bundles) has not run. */
export function requireClientBuild(): void {
  if (!existsSync(join(clientBundleDir, 'qmail-inject.cjs'))) {
    throw new Error('packages/client/dist/bundle is missing: run `npm run build` (tsc -b, then build:assets)')
  }
}

export interface CommandResult {
  status: number | null
  stdout: string
  stderr: string
}

/**
 * Runs a program without blocking the event loop (the QMQP server of the test runs in this
 * process), with `input` on stdin and exactly the environment given (plus PATH).
 */
export function runCommand(
  cmd: string,
  args: string[],
  options: { input?: string | Buffer; env?: Record<string, string>; cwd?: string } = {},
): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...options.env },
      cwd: options.cwd,
      stdio: ['pipe', 'pipe', 'pipe'],
    })
    const out: Buffer[] = []
    const err: Buffer[] = []
    child.stdout.on('data', (c: Buffer) => out.push(c))
    child.stderr.on('data', (c: Buffer) => err.push(c))
    child.stdin.on('error', () => undefined)
    child.once('error', reject)
    child.once('close', status =>
      resolve({
        status,
        stdout: Buffer.concat(out).toString('latin1'),
        stderr: Buffer.concat(err).toString('latin1'),
      }),
    )
    child.stdin.end(options.input ?? '')
  })
}

/** `qmqpkit-client setup` into `home` with these servers, through the committed bin shim. */
export async function setupClientHome(
  home: string,
  servers: string[],
  me = 'client.example.com',
): Promise<void> {
  const args = ['setup', '--home', home, '--me', me, ...servers.flatMap(s => ['--server', s])]
  const r = await runCommand(process.execPath, [
    join(repoRoot, 'packages/client/bin/qmqpkit-client'),
    ...args,
  ])
  if (r.status !== 0) throw new Error(`qmqpkit-client setup failed (${r.status}): ${r.stderr}`)
}

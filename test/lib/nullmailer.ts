import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { closeSync, existsSync, openSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

/**
 * nullmailer's QMQP protocol module (Debian's nullmailer conflicts with Postfix, so `.ci/run`
 * unpacks it into /opt/nullmailer; NULLMAILER_QMQP names another copy). In CI a missing module
 * fails the run; elsewhere tests skip with `nullmailerMissing`.
 */
export const nullmailerQmqp = process.env.NULLMAILER_QMQP ?? '/opt/nullmailer/usr/lib/nullmailer/qmqp'
export const nullmailerMissing = !existsSync(nullmailerQmqp)
if (nullmailerMissing && process.env.CI)
  throw new Error(`${nullmailerQmqp} not found: CI must unpack Debian nullmailer into /opt/nullmailer`)

/**
 * Runs the module as nullmailer-send does: options on stdin, the queued mail (sender line,
 * recipient lines, blank line, message) on fd 3. `dir` holds the queued file. Resolves to the
 * exit code and everything it printed.
 */
export async function runNullmailer(
  dir: string,
  port: number,
  queued: Buffer | string,
): Promise<{ code: number; out: string }> {
  const file = join(dir, 'mail')
  writeFileSync(file, queued)
  const fd = openSync(file, 'r')
  try {
    const child = spawn(nullmailerQmqp, [], { stdio: ['pipe', 'pipe', 'pipe', fd] })
    let out = ''
    child.stdout!.on('data', d => (out += d))
    child.stderr!.on('data', d => (out += d))
    child.stdin!.end(`host=127.0.0.1\nport=${port}\n`)
    const [code] = (await once(child, 'close')) as [number]
    return { code, out }
  } finally {
    closeSync(fd)
  }
}

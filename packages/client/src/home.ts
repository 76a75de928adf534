import { existsSync, realpathSync } from 'node:fs'
import { basename, dirname, join } from 'node:path'

/** Where GreenArrow's QMQP Sending Service lives, and where ours goes by default. */
export const DEFAULT_CLIENT_HOME = '/var/hvmail-client'

/**
 * The client home of a command: `QMQPKIT_CLIENT_HOME` when set and not empty, else the home
 * the command is installed in (a script in `HOME/bin/` next to `HOME/control/`, found through
 * symbolic links such as `/usr/sbin/sendmail`), else `/var/hvmail-client`.
 */
export function clientHome(env: Map<string, Buffer>, scriptPath?: string): string {
  const fromEnv = env.get('QMQPKIT_CLIENT_HOME')
  if (fromEnv !== undefined && fromEnv.length > 0) return fromEnv.toString()
  return (scriptPath !== undefined && homeOfScript(scriptPath)) || DEFAULT_CLIENT_HOME
}

/** The home a script is installed in, or undefined when it does not sit in `HOME/bin/`. */
export function homeOfScript(scriptPath: string): string | undefined {
  let real: string
  try {
    real = realpathSync(scriptPath)
  } catch {
    return undefined
  }
  const binDir = dirname(real)
  if (basename(binDir) !== 'bin') return undefined
  const home = dirname(binDir)
  return existsSync(join(home, 'control')) ? home : undefined
}

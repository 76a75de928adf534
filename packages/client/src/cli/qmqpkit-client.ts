import type { Writable } from 'node:stream'
import { Command, CommanderError } from 'commander'
import { exitCodeFor } from '@qmqpkit/classic'
import { DEFAULT_CLIENT_HOME } from '../home.js'
import { setupHome, type SetupOptions } from '../setup.js'

/**
 * `qmqpkit-client setup [--home DIR] [--me NAME] [--server HOST[:PORT]]…`: lays out a client
 * home. Exit 0 done, 100 usage, 111 when a file cannot be written.
 */
export async function main(argv: string[], io: { stdout: Writable; stderr: Writable }): Promise<number> {
  const program = new Command('qmqpkit-client')
    .description('QMQP Sending Service: set up a client home')
    .exitOverride()
    .configureOutput({
      writeOut: text => io.stdout.write(text),
      writeErr: text => io.stderr.write(text),
    })
  program
    .command('setup')
    .description('lay out bin/ and control/ of a client home; existing control files are kept')
    .option('--home <dir>', 'client home', DEFAULT_CLIENT_HOME)
    .option('--me <name>', 'host name for a new control/me (default: this host name)')
    .option('--server <server>', 'server for a new control/qmqpservers (repeatable)', collect, [] as string[])
    .action((opts: { home: string; me?: string; server: string[] }) => {
      const options: SetupOptions = { home: opts.home, servers: opts.server }
      if (opts.me !== undefined) options.me = opts.me
      const report = setupHome(options)
      for (const path of report.written) io.stdout.write(`wrote ${path}\n`)
      for (const path of report.kept) io.stdout.write(`kept ${path}\n`)
    })
  try {
    await program.parseAsync(argv, { from: 'user' })
    return 0
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : 100
    io.stderr.write(`qmqpkit-client: fatal: ${err instanceof Error ? err.message : String(err)}\n`)
    return exitCodeFor(err)
  }
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value]
}

/** Entry point of the `qmqpkit-client` command. */
export async function run(): Promise<void> {
  process.exitCode = await main(process.argv.slice(2), process)
}

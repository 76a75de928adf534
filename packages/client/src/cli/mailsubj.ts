import { PassThrough, type Readable } from 'node:stream'
import { rawArgv, rawEnv, type CommandIo } from '@qmqpkit/classic'
import { mailsubjHeader } from '../mailsubj-message.js'
import { injectMain, lazyProcessIo, type InjectMain } from './inject-entry.js'

/**
 * qmail's `mailsubj SUBJECT RCPT…`: `Subject:` and `To:` lines (as dash's echo writes them),
 * an empty line, then the standard input, into qmail-inject without arguments; its exit code
 * is mailsubj's. Without a subject the script stops at `shift` with exit 2 and sends nothing.
 */
export async function main(
  argv: Buffer[],
  env: Map<string, Buffer>,
  io: CommandIo,
  options: { inject?: InjectMain } = {},
): Promise<number> {
  if (argv.length < 2) {
    io.stderr.write(
      `${(argv[0] ?? Buffer.from('mailsubj')).toString('latin1')}: 4: shift: can't shift that many\n`,
    )
    return 2
  }
  const stdin = withPrefix(mailsubjHeader(argv[1]!, argv.slice(2)), io.stdin)
  return (options.inject ?? injectMain)([Buffer.from('qmail-inject')], env, {
    stdin,
    get stdout() {
      return io.stdout
    },
    get stderr() {
      return io.stderr
    },
  })
}

/** A stream of `prefix` followed by everything `rest` gives. */
function withPrefix(prefix: Buffer, rest: Readable): Readable {
  const out = new PassThrough()
  out.write(prefix)
  rest.once('error', err => out.destroy(err))
  rest.pipe(out)
  return out
}

/** Entry point of the `mailsubj` command. */
export async function run(): Promise<void> {
  process.exitCode = await main(rawArgv(), rawEnv(), lazyProcessIo())
}

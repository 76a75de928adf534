import { join } from 'node:path'
import { programName, rawArgv, rawEnv, type CommandIo } from '@qmqpkit/classic'
import { clientHome } from '../home.js'
import { runProgram } from '../run-program.js'
import { planSendmail } from '../sendmail-args.js'
import { injectMain, lazyProcessIo, type InjectMain } from './inject-entry.js'

/**
 * qmail's `sendmail` wrapper: translates the options into a qmail-inject command line, exactly
 * as `sendmail.c` does, and runs qmail-inject in this process. `argv[0]` names the program
 * (`mailq` lists the queue, `newaliases` is refused). Returns the exit code.
 */
export async function main(
  argv: Buffer[],
  env: Map<string, Buffer>,
  io: CommandIo,
  options: { home?: string; inject?: InjectMain } = {},
): Promise<number> {
  const plan = planSendmail(argv.slice(1), env, programName(argv[0] ?? 'sendmail'))
  if (plan.action === 'exit') {
    io.stderr.write(plan.stderr)
    return plan.exitCode
  }
  if (plan.action === 'inject') {
    return (options.inject ?? injectMain)([Buffer.from('qmail-inject'), ...plan.args], plan.env, io)
  }
  const home = options.home ?? clientHome(env, process.argv[1])
  const program = plan.action === 'mailq' ? 'qmail-qread' : 'qmail-smtpd'
  const code = await runProgram(join(home, 'bin', program), [], plan.action === 'smtpd' ? plan.env : env, io)
  if (code !== undefined) return code
  io.stderr.write(`sendmail: fatal: unable to run ${program}\n`)
  return 111
}

/** Entry point of the `sendmail` command. */
export async function run(): Promise<void> {
  process.exitCode = await main(rawArgv(), rawEnv(), lazyProcessIo())
}

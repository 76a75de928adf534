import { processIo, rawArgv, rawEnv, type CommandIo } from '@qmqpkit/classic'
import { checkCommand } from './check-command.js'

/**
 * `tcprulescheck rules.cdb`: Debian's ucspi-tcp tcprulescheck.
 * `argv` holds the arguments after the command name, `env` the raw environment.
 */
export async function main(argv: Buffer[], env: Map<string, Buffer>, io: CommandIo): Promise<number> {
  return checkCommand(argv, env, io, 'ipv4')
}

/** Entry point of the bin shim. */
export async function run(): Promise<void> {
  process.exitCode = await main(rawArgv().slice(1), rawEnv(), processIo())
}

import { processIo, rawArgv, rawEnv, type CommandIo } from '@qmqpkit/classic'
import { checkCommand } from './check-command.js'

/**
 * `tcprulescheck6 rules.cdb`: Debian's ucspi-tcp-ipv6 tcprulescheck, where IP prefixes also end at a colon.
 * `argv` holds the arguments after the command name, `env` the raw environment.
 */
export async function main(argv: Buffer[], env: Map<string, Buffer>, io: CommandIo): Promise<number> {
  return checkCommand(argv, env, io, 'ipv6')
}

/** Entry point of the bin shim. */
export async function run(): Promise<void> {
  process.exitCode = await main(rawArgv().slice(1), rawEnv(), processIo())
}

import { processIo, rawArgv, rawEnv, type CommandIo } from '@qmqpkit/classic'
import { compileCommand } from './compile-command.js'

/**
 * `tcprules6 rules.cdb rules.tmp < rules`: Debian's ucspi-tcp-ipv6 tcprules, which also takes IPv6 rules.
 * `argv` holds the arguments after the command name, `env` the raw environment.
 */
export async function main(argv: Buffer[], _env: Map<string, Buffer>, io: CommandIo): Promise<number> {
  return compileCommand(argv, io, 'ipv6')
}

/** Entry point of the bin shim. */
export async function run(): Promise<void> {
  process.exitCode = await main(rawArgv().slice(1), rawEnv(), processIo())
}

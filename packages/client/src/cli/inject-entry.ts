import { processIo, rawArgv, rawEnv, writeOut, type CommandIo } from '@qmqpkit/classic'
import { clientHome } from '../home.js'
import { sendPrepared } from '../send-prepared.js'
import { main } from './qmail-inject.js'

/** qmail-inject run in this process: argv (argv[0] first) and environment as raw bytes. */
export type InjectMain = (argv: Buffer[], env: Map<string, Buffer>, io: CommandIo) => Promise<number>

/**
 * qmail-inject as the installed commands run it: in the home they are installed in (or
 * QMQPKIT_CLIENT_HOME), sending over QMQP to that home's `control/qmqpservers`.
 */
export const injectMain: InjectMain = (argv, env, io) => {
  const home = clientHome(env, process.argv[1])
  return main(argv, env, {
    ...io,
    home,
    send: async prepared => {
      const result = await sendPrepared(prepared, env, { home })
      if (result.stderr !== undefined) await writeOut(io.stderr, result.stderr)
      return result.exitCode
    },
  })
}

/** Entry point of the `qmail-inject` command. */
export async function run(): Promise<void> {
  process.exitCode = await injectMain(rawArgv(), rawEnv(), processIo())
}

/**
 * qmail-inject: prepares a message as qmail's qmail-inject does, then prints it (-n), hands it to
 * the program named by QMAILQUEUE, or sends it over QMQP.
 */
import { statSync } from 'node:fs'
import { rawArgv, rawEnv, processIo, programName, writeOut, type CommandIo } from '@qmqpkit/classic'
import { clientHome } from '../home.js'
import { parseInjectArgs } from '../inject/args.js'
import { readInjectControl, readMftFile, type InjectControlValues } from '../inject/control-files.js'
import { InjectError, InjectHomeError, InjectQueueError, InjectQueueStartError } from '../inject/errors.js'
import { mailClassFromEnv } from '../inject/mail-class.js'
import { prepareMessage, rewriteDomains, senderFromArg, type PreparedMessage } from '../inject/prepare.js'
import { runQueueProgram } from '../inject/queue.js'

export interface QmailInjectIo extends CommandIo {
  /** Sends a prepared message (the QMQP client); resolves to the exit code. */
  send?: (prepared: PreparedMessage) => Promise<number>
  /** Client home holding control/ (default: QMQPKIT_CLIENT_HOME, else the home the command is installed in, else /var/hvmail-client). */
  home?: string
  /** Start time and process id (tests). */
  now?: Date
  pid?: number
  /** Reads the message instead of `stdin` (the command's own standard input, read directly). */
  readInput?: () => Promise<Buffer[]>
}

/** Runs qmail-inject; `argv` includes argv[0]. Resolves to the exit code (0, 100, 111). */
export async function main(argv: Buffer[], env: Map<string, Buffer>, io: QmailInjectIo): Promise<number> {
  const name = programName(argv[0] ?? 'qmail-inject')
  try {
    // qmail-inject's order: QMAILMFTFILE, its home, control files, then the options.
    const mftPath = env.get('QMAILMFTFILE')
    const mft = mftPath !== undefined ? await readMftFile(mftPath) : null
    const home = io.home ?? clientHome(env, argv[0]?.toString())
    await enterHome(home)
    const control: InjectControlValues = await readInjectControl(home)
    const { domains } = rewriteDomains(control, env)
    const parsed = parseInjectArgs(argv.slice(1), name)
    if (parsed.problem !== undefined) {
      // Options before the bad one were acted on first: a bad -f among them is reported instead.
      for (const value of parsed.flags.senders) senderFromArg(value, domains)
      await writeOut(io.stderr, parsed.problem)
      return 100
    }
    const prepared = await prepareMessage(io.readInput ?? io.stdin, {
      args: parsed.operands,
      flags: parsed.flags,
      env,
      control,
      now: io.now ?? new Date(),
      pid: io.pid ?? process.pid,
      mailClass: mailClassFromEnv(env),
      mft,
    })
    for (const w of prepared.warnings) await writeOut(io.stderr, w + '\n')
    if (parsed.flags.print) {
      await writeOut(io.stdout, Buffer.concat([prepared.returnPath, prepared.message]))
      return 0
    }
    const queue = env.get('QMAILQUEUE')
    if (queue !== undefined) {
      let reply: string
      try {
        reply = await runQueueProgram(queue, prepared, { cwd: home, stderr: io.stderr })
      } catch (err) {
        throw new InjectQueueStartError(err)
      }
      if (reply) throw new InjectQueueError(reply)
      return 0
    }
    if (io.send) return await io.send(prepared)
    return await sendWithClient(prepared, env, io, home)
  } catch (err) {
    if (err instanceof InjectError) {
      await writeOut(io.stderr, err.stderr)
      return err.temporary ? 111 : 100
    }
    const text = err instanceof Error ? err.message : String(err)
    await writeOut(io.stderr, `qmail-inject: fatal: ${text}\n`)
    return 111
  }
}

/** qmail-inject changes into its home first; failing that, it reports an internal bug (111). */
async function enterHome(home: string): Promise<void> {
  try {
    // Synchronous, as the control files are: no thread pool for a one-shot command.
    if (statSync(home).isDirectory()) return
  } catch {
    // reported below
  }
  throw new InjectHomeError(home)
}

async function sendWithClient(
  prepared: PreparedMessage,
  env: Map<string, Buffer>,
  io: CommandIo,
  home: string,
): Promise<number> {
  // The QMQP client is loaded only when a message is actually sent (not for -n).
  let mod: typeof import('../send-prepared.js')
  try {
    mod = await import('../send-prepared.js')
  } catch (err) {
    throw new InjectQueueStartError(err)
  }
  const result = await mod.sendPrepared(prepared, env, { home })
  if (result.stderr) await writeOut(io.stderr, result.stderr)
  return result.exitCode
}

/** Entry point of bin/qmail-inject. */
export async function run(): Promise<void> {
  process.exitCode = await main(rawArgv(), rawEnv(), processIo())
}

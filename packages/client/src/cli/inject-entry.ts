import { readSync } from 'node:fs'
import { rawArgv, rawEnv, writeOut, type CommandIo } from '@qmqpkit/classic'
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
    // Passed through as getters: a stream nobody uses is never created.
    get stdin() {
      return io.stdin
    },
    get stdout() {
      return io.stdout
    },
    get stderr() {
      return io.stderr
    },
    ...('readInput' in io ? { readInput: (io as ProcessIo).readInput } : {}),
    home,
    send: async prepared => {
      const result = await sendPrepared(prepared, env, { home })
      if (result.stderr !== undefined) await writeOut(io.stderr, result.stderr)
      return result.exitCode
    },
  })
}

/** The process's standard streams, and a direct reader of its standard input. */
export interface ProcessIo extends CommandIo {
  readInput(): Promise<Buffer[]>
}

/**
 * Reads file descriptor 0 to its end with read(2), as qmail-inject does: no stream object (for a
 * pipe, Node would build a socket) is made for a message read once. The chunks are the bytes read.
 */
export async function readStdinChunks(): Promise<Buffer[]> {
  const chunks: Buffer[] = []
  let buf = Buffer.allocUnsafe(64 * 1024)
  for (;;) {
    let n: number
    try {
      n = readSync(0, buf, 0, buf.length, null)
    } catch (err) {
      /* c8 ignore next 5 -- a non-blocking descriptor (not what a pipe or file from a caller is) */
      if ((err as { code?: unknown }).code === 'EAGAIN') {
        // The rest arrives by events.
        for await (const c of process.stdin) chunks.push(c as Buffer)
        return chunks
      }
      throw err
    }
    if (n === 0) return chunks
    // A short read is copied out, so that a slow writer's small pieces do not each hold 64 KiB.
    if (n < buf.length / 2) chunks.push(Buffer.from(buf.subarray(0, n)))
    else {
      chunks.push(buf.subarray(0, n))
      buf = Buffer.allocUnsafe(64 * 1024)
    }
  }
}

/**
 * The process's standard streams, each looked up when first used. Node creates process.stdout
 * on first access (a stream object, for a file a synchronous writer): qmail-inject sending a
 * message never writes to it, so it is never made.
 */
export function lazyProcessIo(): ProcessIo {
  return {
    readInput: readStdinChunks,
    get stdin() {
      return process.stdin
    },
    get stdout() {
      return process.stdout
    },
    get stderr() {
      return process.stderr
    },
  }
}

/** Entry point of the `qmail-inject` command. */
export async function run(): Promise<void> {
  process.exitCode = await injectMain(rawArgv(), rawEnv(), lazyProcessIo())
}

import { readSync } from 'node:fs'
import { rawEnv } from '@qmqpkit/classic'
import { parseQueueEnvelope } from '../envelope.js'
import { clientHome } from '../home.js'
import { send, type SendOptions } from '../library.js'
import { QUEUE_EXIT, queueExitFor } from '../queue-exit.js'

/** What qmail-qmqpc reads: the message (its fd 0) and the envelope (its fd 1), in that order. */
export interface QueueInput {
  readMessage(): Promise<Buffer>
  readEnvelope(): Promise<Buffer>
}

/**
 * qmail-qmqpc: the qmail-queue interface in front of QMQP. Reads the message, then the
 * envelope, sends one request to the servers of `control/qmqpservers` and returns the queue
 * exit code: 0 K, 31 D, 71 Z, 72/73 the last connect timed out/was refused, 74 the
 * conversation failed, 55 no usable server, 54 read error, 91 bad envelope. Prints nothing:
 * the program in front of it (qmail-inject) reports the code.
 */
export async function main(
  env: Map<string, Buffer>,
  input: QueueInput,
  options: Pick<SendOptions, 'home'> = {},
): Promise<number> {
  let message: Buffer
  let envelope: Buffer
  try {
    message = await input.readMessage()
    envelope = await input.readEnvelope()
  } catch {
    return QUEUE_EXIT.readError
  }
  let parsed: { sender: Buffer; recipients: Buffer[] }
  try {
    parsed = parseQueueEnvelope(envelope)
  } catch {
    return QUEUE_EXIT.badEnvelope
  }
  try {
    const home = options.home ?? clientHome(env, process.argv[1])
    await send(message, parsed, { home, env, allowNoRecipients: true })
    return QUEUE_EXIT.ok
  } catch (err) {
    return queueExitFor(err)
  }
}

/** Reads a descriptor to its end, waiting out EAGAIN on a non-blocking pipe. */
export function readDescriptor(fd: number): Buffer {
  const chunks: Buffer[] = []
  const sleeper = new Int32Array(new SharedArrayBuffer(4))
  for (;;) {
    const chunk = Buffer.allocUnsafe(65536)
    let n: number
    try {
      n = readSync(fd, chunk, 0, chunk.length, null)
    } catch (err) {
      if ((err as { code?: unknown }).code !== 'EAGAIN') throw err
      Atomics.wait(sleeper, 0, 0, 2)
      continue
    }
    if (n === 0) return Buffer.concat(chunks)
    chunks.push(chunk.subarray(0, n))
  }
}

/** Entry point of the `qmail-qmqpc` command. */
export async function run(): Promise<void> {
  process.exitCode = await main(rawEnv(), {
    readMessage: async () => readDescriptor(0),
    readEnvelope: async () => readDescriptor(1),
  })
}

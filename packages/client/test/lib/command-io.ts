import { PassThrough, Readable } from 'node:stream'
import type { CommandIo } from '@qmqpkit/classic'

/** Streams for a command's main(): stdin from bytes, stdout and stderr collected. */
export function commandIo(input: Buffer | string = '') {
  const stdout = new PassThrough()
  const stderr = new PassThrough()
  const out: Buffer[] = []
  const err: Buffer[] = []
  stdout.on('data', (c: Buffer) => out.push(c))
  stderr.on('data', (c: Buffer) => err.push(c))
  const io: CommandIo = { stdin: Readable.from([Buffer.from(input)]), stdout, stderr }
  return {
    io,
    stdout: () => Buffer.concat(out).toString('latin1'),
    stderr: () => Buffer.concat(err).toString('latin1'),
  }
}

/** An environment map from strings. */
export const envOf = (vars: Record<string, string>) =>
  new Map(Object.entries(vars).map(([k, v]) => [k, Buffer.from(v)]))

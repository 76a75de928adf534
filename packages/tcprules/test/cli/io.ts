import { PassThrough, Readable } from 'node:stream'

/** Streams for a command's main(), with what it printed. */
export function captureIo(input: Buffer | string = '') {
  const stdout = new PassThrough()
  const stderr = new PassThrough()
  const out: Buffer[] = []
  const err: Buffer[] = []
  stdout.on('data', c => out.push(c))
  stderr.on('data', c => err.push(c))
  return {
    io: { stdin: Readable.from([Buffer.from(input)]), stdout, stderr },
    out: () => Buffer.concat(out).toString('latin1'),
    err: () => Buffer.concat(err).toString('latin1'),
  }
}

export const args = (...xs: string[]) => xs.map(x => Buffer.from(x))

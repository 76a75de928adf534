import type { Readable, Writable } from 'node:stream'

/** The standard streams a command's `main()` works on, so tests can pass their own. */
export interface CommandIo {
  stdin: Readable
  stdout: Writable
  stderr: Writable
}

/** Reads a stream to its end into one Buffer (for small inputs: rules files, control files). */
export async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = []
  for await (const chunk of stream) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as string))
  return Buffer.concat(chunks)
}

/** Writes and resolves once the bytes were handed to the stream (callback of `write`). */
export function writeOut(stream: Writable, data: Buffer | string): Promise<void> {
  return new Promise((resolve, reject) => {
    stream.write(data, err => (err ? reject(err) : resolve()))
  })
}

/** The process's own streams. */
export function processIo(): CommandIo {
  return { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr }
}

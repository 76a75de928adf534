import { errorText, processIo, rawArgv, type CommandIo } from '@qmqpkit/classic'
import { readSync } from 'node:fs'
import { DumpFormatError, DumpParser } from '../dump-format.js'
import { CdbWriter } from '../writer.js'

/**
 * `cdbmake cdb cdb.tmp`: freecdb's cdbmake. Reads `+klen,dlen:key->data` records from stdin,
 * writes the temporary file, fsyncs and renames it. On error the temporary file is left as
 * freecdb leaves it and the database is untouched.
 */
export async function main(argv: Buffer[], io: CommandIo & { stdinFd?: number }): Promise<number> {
  const fatal = (text: string): number => {
    io.stderr.write(`cdbmake: fatal: ${text}\n`)
    return 111
  }
  if (argv.length !== 2) {
    io.stderr.write('usage: cdbmake cdb cdb.tmp\n\n')
    return 100
  }
  const cdbPath = argv[0]!.toString('latin1')
  const tmpPath = argv[1]!.toString('latin1')
  let writer: CdbWriter
  try {
    writer = CdbWriter.create(cdbPath, { tmpPath, removeTmpOnError: false })
  } catch (err) {
    return fatal(`unable to create ${tmpPath}: ${errorText(err)}`)
  }
  const parser = new DumpParser(writer)
  try {
    if (io.stdinFd === undefined || !readFd(io.stdinFd, parser)) {
      for await (const chunk of io.stdin) {
        parser.push(chunk as Buffer)
        if (parser.done) break
      }
    }
    parser.end()
  } catch (err) {
    writer.abort()
    if (err instanceof DumpFormatError) return fatal(`unable to read input: ${err.message}`)
    const code = (err as { code?: string }).code
    if (code === 'ENOMEM' || code === 'CDB_ERR_TOO_BIG')
      return fatal(`unable to create ${tmpPath}: out of memory`)
    if (code === 'EISDIR' || code === 'EIO' || code === 'EBADF')
      return fatal(`unable to read input: entry ${parser.entry}: ${errorText(err)}`)
    return fatal(`unable to create ${tmpPath}: ${errorText(err)}`)
  }
  try {
    await writer.finish()
  } catch (err) {
    const code = (err as { code?: string }).code
    if (code === 'CDB_ERR_TOO_BIG') return fatal(`unable to create ${tmpPath}: out of memory`)
    if ((err as { syscall?: string }).syscall === 'rename')
      return fatal(`unable to rename ${tmpPath} to ${cdbPath}: ${errorText(err)}`)
    return fatal(`unable to create ${tmpPath}: ${errorText(err)}`)
  }
  return 0
}

/**
 * Reads the input straight from a descriptor in 1 MiB pieces (the parser copies what it keeps,
 * so one buffer serves every read). Returns false, having read nothing, when the descriptor
 * cannot be read synchronously (a non-blocking pipe): the caller then uses the stream.
 */
function readFd(fd: number, parser: DumpParser): boolean {
  const buf = Buffer.allocUnsafe(1 << 20)
  let first = true
  for (;;) {
    let n: number
    try {
      n = readSync(fd, buf, 0, buf.length, null)
    } catch (err) {
      if (first && (err as { code?: string }).code === 'EAGAIN') return false
      throw err
    }
    first = false
    if (n === 0 || (parser.push(buf.subarray(0, n)), parser.done)) return true
  }
}

export async function run(): Promise<void> {
  process.exitCode = await main(rawArgv().slice(1), { ...processIo(), stdinFd: 0 })
}

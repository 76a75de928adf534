import { CdbWriter } from '@qmqpkit/cdb'
import { errorText, writeOut, type CommandIo } from '@qmqpkit/classic'
import { forEachRecord } from '../compile.js'
import { RulesSyntaxError } from '../errors.js'
import type { Dialect } from '../parse.js'
import { readInput } from '../read-input.js'

const FATAL = 'tcprules: fatal: '

/** The line as tcprules prints it: a C string, so it ends at the first NUL byte. */
function printable(text: Buffer): Buffer {
  const nul = text.indexOf(0)
  return nul < 0 ? text : text.subarray(0, nul)
}

async function die(io: CommandIo, code: number, ...parts: Array<string | Buffer>): Promise<number> {
  await writeOut(
    io.stderr,
    Buffer.concat([...parts.map(p => (typeof p === 'string' ? Buffer.from(p) : p)), Buffer.from('\n')]),
  )
  return code
}

/**
 * `tcprules rules.cdb rules.tmp < rules`, as ucspi-tcp's tcprules (or ucspi-tcp-ipv6's): create
 * the temporary file first, compile standard input into it, fsync, close, rename it over the
 * database. On any failure the database is untouched and the temporary file stays behind.
 * Exit 0, 100 (usage, a bad line) or 111 (a system call failed).
 */
export async function compileCommand(args: Buffer[], io: CommandIo, dialect: Dialect): Promise<number> {
  if (args.length < 2) return die(io, 100, 'tcprules: usage: tcprules rules.cdb rules.tmp')
  const target = args[0]!.toString()
  const tmp = args[1]!.toString()
  let writer: CdbWriter
  try {
    writer = CdbWriter.create(target, { tmpPath: tmp, removeTmpOnError: false })
  } catch (err) {
    return die(io, 111, FATAL, 'unable to create ', args[1]!, ': ', errorText(err))
  }
  let input: Buffer
  try {
    input = await readInput(io.stdin)
  } catch (err) {
    writer.abort()
    return die(io, 111, FATAL, 'unable to read input: ', errorText(err))
  }
  try {
    forEachRecord(
      input,
      { dialect },
      {
        add: (key, data) => writer.add(key, data),
        addRange: (text, start, end, data) => writer.addRange(text, start, end, data, 0, data.length),
      },
    )
  } catch (err) {
    writer.abort()
    if (err instanceof RulesSyntaxError)
      return die(io, 100, FATAL, 'unable to parse this line: ', printable(err.text))
    return die(io, 111, FATAL, 'unable to write to ', args[1]!, ': ', errorText(err))
  }
  try {
    await writer.finish()
  } catch (err) {
    if ((err as { syscall?: string }).syscall === 'rename') {
      return die(io, 111, FATAL, 'unable to move ', args[1]!, ' to ', args[0]!, ': ', errorText(err))
    }
    return die(io, 111, FATAL, 'unable to write to ', args[1]!, ': ', errorText(err))
  }
  return 0
}

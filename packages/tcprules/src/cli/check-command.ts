import { CdbFormatError, CdbReader } from '@qmqpkit/cdb'
import { errorText, writeOut, type CommandIo } from '@qmqpkit/classic'
import { checkOutput } from '../check-output.js'
import { lookupRule } from '../match.js'
import type { Dialect } from '../parse.js'

const FATAL = 'tcprulescheck: fatal: '

/** The texts tcprulescheck prints when the database cannot be read. */
function readErrorText(err: unknown, size: number | undefined): string {
  // djb's cdb reports a short or inconsistent file as EPROTO; an empty one fails mmap (EINVAL).
  if (err instanceof CdbFormatError) return size === 0 ? 'invalid argument' : 'protocol error'
  return errorText(err)
}

/**
 * `tcprulescheck rules.cdb`, as ucspi-tcp's (or ucspi-tcp-ipv6's): looks up TCPREMOTEIP
 * (default 0.0.0.0), TCPREMOTEHOST and TCPREMOTEINFO as given, byte for byte, and prints the
 * rule found. Exit 0, 100 (usage) or 111 (unreadable database).
 */
export async function checkCommand(
  args: Buffer[],
  env: Map<string, Buffer>,
  io: CommandIo,
  dialect: Dialect,
): Promise<number> {
  if (args.length < 1) {
    await writeOut(io.stderr, 'tcprulescheck: usage: tcprulescheck rules.cdb\n')
    return 100
  }
  const path = args[0]!
  let size: number | undefined
  let out: Buffer
  try {
    const db = CdbReader.open(path.toString(), { wholeFile: false })
    size = db.size
    try {
      const hit = lookupRule(
        db,
        env.get('TCPREMOTEIP') ?? Buffer.from('0.0.0.0'),
        env.get('TCPREMOTEHOST'),
        env.get('TCPREMOTEINFO'),
        dialect,
      )
      out = checkOutput(hit)
    } finally {
      db.close()
    }
  } catch (err) {
    if (err instanceof CdbFormatError && err.offset === 0 && err.truncated) size = err.offset
    await writeOut(
      io.stderr,
      Buffer.concat([
        Buffer.from(`${FATAL}unable to read `),
        path,
        Buffer.from(`: ${readErrorText(err, size)}\n`),
      ]),
    )
    return 111
  }
  await writeOut(io.stdout, out)
  return 0
}

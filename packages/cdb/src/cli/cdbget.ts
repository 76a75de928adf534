import { fstatSync } from 'node:fs'
import { processIo, rawArgv, type CommandIo } from '@qmqpkit/classic'
import { CdbReader } from '../reader.js'

/**
 * `cdbget key [skip] < db`: freecdb's cdbget. Prints the value of the first record with that
 * key (or the one after skipping `skip` matches) and exits 0; exits 100 silently when there
 * is none. Standard input must be the database file itself (it is read by position); anything
 * unreadable or inconsistent is a "protocol error", as freecdb reports it.
 */
export async function main(argv: Buffer[], io: CommandIo & { stdinFd?: number }): Promise<number> {
  const usage = (): number => {
    io.stderr.write('usage: cdbget key [skip]\n\n')
    return 100
  }
  if (argv.length < 1 || argv.length > 2 || argv[0]!.length === 0) return usage()
  let skip = 0
  if (argv.length === 2) {
    const s = argv[1]!
    if (s.length === 0 || !s.every(c => c >= 0x30 && c <= 0x39)) return usage()
    skip = Number(s.toString('latin1'))
  }
  let value: Buffer | undefined
  try {
    const fd = io.stdinFd ?? 0
    if (!fstatSync(fd).isFile()) throw new Error('not a file')
    const db = readerFromFd(fd)
    let n = 0
    for (const v of db.find(argv[0]!)) {
      if (n++ === skip) {
        value = v
        break
      }
    }
  } catch {
    io.stderr.write('cdbget: fatal: unable to read input: protocol error\n')
    return 111
  }
  if (value === undefined) return 100
  await new Promise<void>(resolve => io.stdout.write(value, () => resolve()))
  return 0
}

function readerFromFd(fd: number): CdbReader {
  return CdbReader.open(`/proc/self/fd/${fd}`)
}

export async function run(): Promise<void> {
  process.exitCode = await main(rawArgv().slice(1), processIo())
}

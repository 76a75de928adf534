import { errorText, processIo, rawArgv, type CommandIo } from '@qmqpkit/classic'
import type { Readable, Writable } from 'node:stream'

/** Pulls exact byte counts from a stream, for sequential reading of a cdb on stdin. */
class ByteReader {
  #it: AsyncIterator<Buffer>
  #buf: Buffer = Buffer.alloc(0)
  constructor(stream: Readable) {
    this.#it = (stream as AsyncIterable<Buffer>)[Symbol.asyncIterator]()
  }
  /** Up to `n` bytes; fewer only at end of input. */
  async take(n: number): Promise<Buffer> {
    while (this.#buf.length < n) {
      const r = await this.#it.next()
      if (r.done) break
      this.#buf = this.#buf.length ? Buffer.concat([this.#buf, r.value]) : r.value
    }
    const out = this.#buf.subarray(0, n)
    this.#buf = this.#buf.subarray(out.length)
    return out
  }
}

class Truncated extends Error {}

function write(out: Writable, data: Buffer | string): Promise<void> | void {
  if (!out.write(data)) return new Promise(resolve => out.once('drain', resolve))
}

/**
 * `cdbdump < db`: freecdb's cdbdump. Reads the database sequentially from stdin (a pipe
 * works) and prints every record as `+klen,dlen:key->data`, then an empty line.
 */
export async function main(argv: Buffer[], io: CommandIo): Promise<number> {
  if (argv.length !== 0) {
    io.stderr.write('usage: cdbdump\n\n')
    return 100
  }
  const input = new ByteReader(io.stdin)
  const exact = async (n: number): Promise<Buffer> => {
    const b = await input.take(n)
    if (b.length < n) throw new Truncated()
    return b
  }
  try {
    const header = await exact(2048)
    const eod = header.readUInt32LE(0)
    let pos = 2048
    while (pos < eod) {
      const head = await exact(8)
      const klen = head.readUInt32LE(0)
      const dlen = head.readUInt32LE(4)
      await write(io.stdout, `+${klen},${dlen}:`)
      await write(io.stdout, await exact(klen))
      await write(io.stdout, '->')
      // Data is copied in pieces so a large value never has to fit in memory.
      for (let left = dlen; left > 0;) {
        const piece = await exact(Math.min(left, 1 << 16))
        await write(io.stdout, piece)
        left -= piece.length
      }
      await write(io.stdout, '\n')
      pos += 8 + klen + dlen
    }
    await write(io.stdout, '\n')
  } catch (err) {
    const text = err instanceof Truncated ? 'truncated file' : errorText(err)
    io.stderr.write(`cdbdump: fatal: unable to read input: ${text}\n`)
    return 111
  }
  return 0
}

export async function run(): Promise<void> {
  process.exitCode = await main(rawArgv().slice(1), processIo())
}

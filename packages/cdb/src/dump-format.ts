import type { CdbWriter } from './writer.js'

/**
 * The cdbmake input / cdbdump output format: `+klen,dlen:key->data` LF per record, then one
 * more LF. Key and data may hold any byte. This parser is fed chunks and streams each record
 * into a CdbWriter without holding its data, failing with freecdb's texts.
 */
export class DumpFormatError extends Error {
  override name = 'DumpFormatError'
  readonly code = 'CDB_ERR_INPUT'
  readonly temporary = true // cdbmake exits 111 for bad input
  constructor(
    readonly entry: number,
    readonly reason: string,
  ) {
    super(`entry ${entry}: ${reason}`)
  }
}

/** A length that would pass the u32 range while it is read: djb's writer answers ENOMEM. */
export class DumpLengthOverflowError extends Error {
  override name = 'DumpLengthOverflowError'
  readonly code = 'ENOMEM'
  readonly temporary = true
}

type State = 'start' | 'klen' | 'dlen' | 'key' | 'arrow1' | 'arrow2' | 'data' | 'newline' | 'done'

export class DumpParser {
  #state: State = 'start'
  #entry = 1
  #klen = 0
  #dlen = 0
  #left = 0

  constructor(private readonly writer: CdbWriter) {}

  /** The entry being read (1-based), for messages. */
  get entry(): number {
    return this.#entry
  }

  get done(): boolean {
    return this.#state === 'done'
  }

  /** Feeds bytes; bytes after the final blank line are ignored, as cdbmake ignores them. */
  push(chunk: Buffer): void {
    let i = 0
    const n = chunk.length
    while (i < n && this.#state !== 'done') {
      switch (this.#state) {
        case 'start': {
          // Fast path: a whole record in this chunk is parsed and added in one step.
          const next = this.#whole(chunk, i)
          if (next > 0) {
            i = next
            this.#entry++
            break
          }
          const c = chunk[i++]!
          if (c === 0x0a) this.#state = 'done'
          else if (c === 0x2b) {
            this.#klen = 0
            this.#state = 'klen'
          } else throw new DumpFormatError(this.#entry, 'entry must start with +')
          break
        }
        case 'klen':
        case 'dlen': {
          const c = chunk[i++]!
          const isK = this.#state === 'klen'
          if (c === (isK ? 0x2c : 0x3a)) {
            if (isK) {
              this.#dlen = 0
              this.#state = 'dlen'
            } else {
              this.writer.begin(this.#klen, this.#dlen)
              this.#left = this.#klen
              this.#state = this.#left > 0 ? 'key' : 'arrow1'
            }
          } else if (c >= 0x30 && c <= 0x39) {
            const v = isK ? this.#klen : this.#dlen
            // djb's guard: a value over 429496720 before the next digit cannot fit in 32 bits.
            if (v > 429496720) throw new DumpLengthOverflowError('length too large')
            if (isK) this.#klen = v * 10 + (c - 0x30)
            else this.#dlen = v * 10 + (c - 0x30)
          } else throw new DumpFormatError(this.#entry, isK ? 'bad keylen format' : 'bad datalen format')
          break
        }
        case 'key':
        case 'data': {
          const take = Math.min(this.#left, n - i)
          this.writer.writeRange(chunk, i, i + take)
          i += take
          this.#left -= take
          if (this.#left === 0) {
            if (this.#state === 'key') this.#state = 'arrow1'
            else this.#state = 'newline'
          }
          break
        }
        case 'arrow1':
        case 'arrow2': {
          const c = chunk[i++]!
          if (c !== (this.#state === 'arrow1' ? 0x2d : 0x3e))
            throw new DumpFormatError(this.#entry, 'key must be followed by ->')
          if (this.#state === 'arrow1') this.#state = 'arrow2'
          else {
            this.#left = this.#dlen
            this.#state = this.#left > 0 ? 'data' : 'newline'
          }
          break
        }
        case 'newline': {
          if (chunk[i++] !== 0x0a) throw new DumpFormatError(this.#entry, 'newline expected')
          this.#entry++
          this.#state = 'start'
          break
        }
      }
    }
  }

  /**
   * Parses `+klen,dlen:key->data\n` at `i` when it lies whole in `chunk` and is well formed,
   * adds it and returns the position after it; otherwise returns 0 and adds nothing, so the
   * byte-by-byte states (which produce freecdb's messages) take over.
   */
  #whole(chunk: Buffer, i: number): number {
    const n = chunk.length
    if (chunk[i] !== 0x2b) return 0
    let p = i + 1
    let klen = 0
    let c = 0
    let digits = 0
    while (p < n && (c = chunk[p]!) >= 0x30 && c <= 0x39 && digits < 9) {
      klen = klen * 10 + (c - 0x30)
      p++
      digits++
    }
    if (p >= n || c !== 0x2c) return 0
    p++
    let dlen = 0
    digits = 0
    while (p < n && (c = chunk[p]!) >= 0x30 && c <= 0x39 && digits < 9) {
      dlen = dlen * 10 + (c - 0x30)
      p++
      digits++
    }
    if (p >= n || c !== 0x3a) return 0
    const keyStart = p + 1
    const dataStart = keyStart + klen + 2
    const end = dataStart + dlen
    if (
      end >= n ||
      chunk[keyStart + klen] !== 0x2d ||
      chunk[keyStart + klen + 1] !== 0x3e ||
      chunk[end] !== 0x0a
    )
      return 0
    this.writer.addRange(chunk, keyStart, keyStart + klen, chunk, dataStart, end)
    return end + 1
  }

  /** Call at end of input: anything but a completed database is an error. */
  end(): void {
    if (this.#state !== 'done') throw new DumpFormatError(this.#entry, 'unexpected end if input')
  }
}

/** One record in dump form. */
export function dumpRecord(key: Buffer, data: Buffer): Buffer {
  return Buffer.concat([
    Buffer.from(`+${key.length},${data.length}:`),
    key,
    Buffer.from('->'),
    data,
    Buffer.from('\n'),
  ])
}

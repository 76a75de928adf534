import { buildCdb } from '@qmqpkit/cdb'
import { encodeData, scanKeys, scanLines, type ParseOptions } from './parse.js'

const RECENT_VALUES = 16
const DENY_DATA = Buffer.from('D\0', 'latin1')
const EMPTY = Buffer.alloc(0)

/** Where compiled records go: whole keys, or (the usual case) a key that is a range of the input. */
export interface RecordSink {
  add(key: Buffer, data: Buffer): void
  /** A record whose key is `text[start, end)`; defaults to add() with a view. */
  addRange?(text: Buffer, start: number, end: number, data: Buffer): void
}

/**
 * Hands each record tcprules would write to `sink`, in file order: one per key (a range gives one
 * per number), the value `D\0` and/or `+NAME=VALUE\0` entries. Keys and values may be views into
 * `text`, and a value may be shared by consecutive lines with the same instructions. Throws
 * RulesSyntaxError at the first line tcprules refuses; earlier lines' records were handed over.
 */
export function forEachRecord(
  text: Buffer,
  options: ParseOptions,
  sink: RecordSink | ((key: Buffer, data: Buffer) => void),
): void {
  const add = typeof sink === 'function' ? sink : sink.add.bind(sink)
  const addRange = typeof sink === 'function' || !sink.addRange ? undefined : sink.addRange.bind(sink)
  // Large files repeat the same few instruction texts: each distinct one is encoded once and
  // found again among the recent ones (compared from the end, where such texts usually differ).
  const recent: Array<{ start: number; length: number; deny: boolean; data: Buffer }> = []
  let replace = 0
  scanLines(text, options.dialect ?? 'ipv4', (scan, buf) => {
    const length = scan.end - scan.instructions
    let data: Buffer | undefined
    if (length === 0) data = scan.deny ? DENY_DATA : EMPTY
    else {
      const at = scan.instructions
      for (let r = 0; r < recent.length; r++) {
        const e = recent[r]!
        if (e.length !== length || e.deny !== scan.deny) continue
        let i = length - 1
        while (i >= 0 && buf[at + i] === buf[e.start + i]) i--
        if (i < 0) {
          data = e.data
          break
        }
      }
      if (data === undefined) {
        data = encodeData(buf, scan)
        const entry = { start: at, length, deny: scan.deny, data }
        if (recent.length < RECENT_VALUES) recent.push(entry)
        else {
          recent[replace] = entry
          replace = (replace + 1) % RECENT_VALUES
        }
      }
    }
    if (scan.range) {
      for (const key of scanKeys(buf, scan)) add(key, data)
    } else if (addRange) {
      addRange(buf, scan.start, scan.colon, data)
    } else {
      add(buf.subarray(scan.start, scan.colon), data)
    }
  })
}

function toBuffer(text: Buffer | string): Buffer {
  return typeof text === 'string' ? Buffer.from(text) : text
}

/**
 * The records of a rules file, in the order tcprules writes them.
 *
 * @example
 * compileRules('10.0.0.1-2:deny\n').map(([k, v]) => [k.toString(), v.toString()])
 * // [['10.0.0.1', 'D\0'], ['10.0.0.2', 'D\0']]
 */
export function compileRules(
  text: Buffer | string,
  options: ParseOptions = {},
): Array<[key: Buffer, value: Buffer]> {
  const records: Array<[Buffer, Buffer]> = []
  forEachRecord(toBuffer(text), options, (key, data) => records.push([key, data]))
  return records
}

/**
 * A rules file compiled to a CDB in memory, byte for byte what Debian's tcprules writes.
 *
 * @example
 * const cdb = compileRulesToBuffer('1.2.3.4:allow\n') // 2079 bytes
 */
export function compileRulesToBuffer(text: Buffer | string, options: ParseOptions = {}): Buffer {
  return buildCdb(compileRules(text, options))
}

import { buildCdb } from '@qmqpkit/cdb'
import { encodeData, sameBytes, scanKeys, scanLines, type ParseOptions } from './parse.js'

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
  // Large files repeat the same instructions line after line: encode them once.
  let lastStart = -1
  let lastLength = -1
  let lastDeny = false
  let lastData: Buffer = Buffer.alloc(0)
  scanLines(text, options.dialect ?? 'ipv4', (scan, buf) => {
    const length = scan.end - scan.instructions
    let data: Buffer
    if (
      length === lastLength &&
      scan.deny === lastDeny &&
      sameBytes(buf, scan.instructions, lastStart, length)
    ) {
      data = lastData
    } else {
      data = encodeData(buf, scan)
      lastStart = scan.instructions
      lastLength = length
      lastDeny = scan.deny
      lastData = data
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

import { buildCdb } from '@qmqpkit/cdb'
import { encodeData, scanKeys, scanLines, type ParseOptions } from './parse.js'

/**
 * Hands each record tcprules would write to `add`, in file order: one per key (a range gives one
 * per number), the value `D\0` and/or `+NAME=VALUE\0` entries. Keys and values may be views into
 * `text`. Throws RulesSyntaxError at the first line tcprules refuses; records of earlier lines
 * have been handed over by then.
 */
export function forEachRecord(
  text: Buffer,
  options: ParseOptions,
  add: (key: Buffer, data: Buffer) => void,
): void {
  scanLines(text, options.dialect ?? 'ipv4', (scan, buf) => {
    const data = encodeData(buf, scan)
    for (const key of scanKeys(buf, scan)) add(key, data)
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

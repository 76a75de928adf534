/**
 * Splits a message into header fields and what follows them, as qmail's headerbody() does.
 */
import { fieldValid } from './header-fields.js'

export interface SplitMessage {
  /** Each field with its continuation lines and final LF; an mbox `From ` line becomes `MBOX-Line: From ...`. */
  fields: Buffer[]
  /**
   * Everything printed after the header: the empty line and the body, or (when a line that is no
   * field ended the header) an inserted LF, that line and the rest. Empty when the input ended
   * inside the header. A last line without LF gets one.
   */
  body: Buffer[]
}

const LF = Buffer.from('\n')
const MBOX = Buffer.from('MBOX-Line: ')
const FROM_ = Buffer.from('From ')

/**
 * Only LF ends a line; a line starting with a space or tab continues the field before it; an
 * empty line ends the header; so does any line that is not a field (it then starts the body).
 */
export function splitMessage(input: Buffer): SplitMessage {
  const fields: Buffer[] = []
  let field: Buffer[] | null = null
  let pos = 0
  const n = input.length
  const rest = (from: number): Buffer[] => {
    const tail = input.subarray(from)
    return tail.length && tail[tail.length - 1] !== 0x0a ? [tail, LF] : [tail]
  }
  while (pos < n) {
    const nl = input.indexOf(0x0a, pos)
    const end = nl < 0 ? n : nl + 1
    const line = nl < 0 ? Buffer.concat([input.subarray(pos, n), LF]) : input.subarray(pos, end)
    if (field) {
      if (line[0] === 0x20 || line[0] === 0x09) {
        field.push(line)
        pos = end
        continue
      }
      fields.push(field.length === 1 ? field[0]! : Buffer.concat(field))
    }
    if (line.length === 1) return { fields, body: rest(pos) }
    if (line.length >= 5 && line.subarray(0, 5).equals(FROM_)) field = [MBOX, line]
    else if (fieldValid(line)) field = [line]
    else return { fields, body: [LF, ...rest(pos)] }
    pos = end
  }
  if (field) fields.push(field.length === 1 ? field[0]! : Buffer.concat(field))
  return { fields, body: [] }
}

/**
 * What tcprulescheck prints for a lookup: `rule KEY:` and, per stored entry, `set environment
 * variable NAME=VALUE` (the entry as stored, `=` or not) until a `D` entry prints `deny
 * connection`; otherwise `allow connection`. No match prints `default:` and `allow connection`.
 */
export function checkOutput(hit: { key: Buffer; data: Buffer } | null): Buffer {
  if (hit === null) return Buffer.from('default:\nallow connection\n')
  const parts: Buffer[] = [Buffer.from('rule '), hit.key, Buffer.from(':\n')]
  const { data } = hit
  let pos = 0
  for (let nul = data.indexOf(0, pos); nul >= 0; nul = data.indexOf(0, pos)) {
    if (data[pos] === 0x44) {
      parts.push(Buffer.from('deny connection\n'))
      return Buffer.concat(parts)
    }
    if (data[pos] === 0x2b)
      parts.push(Buffer.from('set environment variable '), data.subarray(pos + 1, nul), Buffer.from('\n'))
    pos = nul + 1
  }
  parts.push(Buffer.from('allow connection\n'))
  return Buffer.concat(parts)
}

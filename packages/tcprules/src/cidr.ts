import { RulesUsageError } from './errors.js'

const CIDR = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/

/**
 * An IPv4 CIDR block as one tcprules address: `10.0.0.0/8` → `10.`, `10.1.2.0/24` → `10.1.2.`,
 * `10.0.0.0/22` → `10.0.0-3.` (a range of prefixes), `10.0.0.32/27` → `10.0.0.32-63`,
 * `1.2.3.4/32` → `1.2.3.4`, `0.0.0.0/0` → `0-255.`. Prefixes stay IP rules in tcpserver's
 * lookup order (unlike the empty key). Throws RulesUsageError for host bits set or bad syntax.
 */
export function cidrToAddress(block: string): string {
  const m = CIDR.exec(block)
  if (!m) throw new RulesUsageError(`${block}: not an IPv4 CIDR block`)
  const octets = m.slice(1, 5).map(Number)
  const bits = Number(m[5])
  if (octets.some(o => o > 255) || bits > 32) throw new RulesUsageError(`${block}: not an IPv4 CIDR block`)
  const value = octets.reduce((a, o) => a * 256 + o, 0)
  const size = 2 ** (32 - bits)
  if (value % size !== 0) throw new RulesUsageError(`${block}: host bits are set`)
  if (bits === 32) return octets.join('.')
  if (bits === 0) return '0-255.'
  const whole = Math.floor(bits / 8)
  const head = octets
    .slice(0, whole)
    .map(o => `${o}.`)
    .join('')
  if (bits % 8 === 0) return head
  const span = 2 ** (8 * (whole + 1) - bits)
  const first = octets[whole]!
  const range = `${first}-${first + span - 1}`
  return whole === 3 ? `${head}${range}` : `${head}${range}.`
}

/**
 * A rules text with CIDR addresses (`10.0.0.0/22:allow`, also after `info@`) rewritten as
 * tcprules addresses; every other byte, and so every line number, stays as it was.
 */
export function expandCidrRules(text: Buffer): Buffer {
  const out: Buffer[] = []
  let pos = 0
  while (pos < text.length) {
    const nl = text.indexOf(0x0a, pos)
    const end = nl < 0 ? text.length : nl + 1
    const line = text.subarray(pos, end)
    const colon = line.indexOf(0x3a)
    const at = line.lastIndexOf(0x40, colon)
    const start = at >= 0 && at < colon ? at + 1 : 0
    const address = colon > 0 ? line.toString('latin1', start, colon) : ''
    if (line[0] !== 0x23 && address.includes('/')) {
      out.push(line.subarray(0, start), Buffer.from(cidrToAddress(address), 'latin1'), line.subarray(colon))
    } else {
      out.push(line)
    }
    pos = end
  }
  return Buffer.concat(out)
}

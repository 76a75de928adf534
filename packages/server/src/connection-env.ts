import ipaddr from 'ipaddr.js'
import { formatIp6 } from '@qmqpkit/tcprules'

/** The facts about one connection from which tcpserver builds its environment. */
export interface EndpointFacts {
  /** Remote and local addresses as the socket reports them (IPv4-mapped forms allowed). */
  remoteAddress: string
  remotePort: number
  localAddress: string
  localPort: number
  /** TCPLOCALHOST (tcpserver -l), TCPREMOTEHOST, TCPREMOTEINFO when known. */
  localHost?: string | null
  remoteHost?: string | null
  remoteInfo?: string | null
}

/** Which tcpserver's environment to reproduce: ucspi-tcp (`ipv4`) or ucspi-tcp-ipv6 (`ipv6`). */
export type Dialect = 'ipv4' | 'ipv6'

/** The connection as tcpserver would describe it: normalised addresses, PROTO and the ordered environment. */
export interface ConnectionEnv {
  proto: 'TCP' | 'TCP6'
  remoteIp: string
  localIp: string
  env: Array<[name: string, value: Buffer]>
}

/** What qmqpd needs to know of one address, worked out once per distinct address text. */
interface KnownAddress {
  text: string
  ipv4: boolean
  loopback: boolean
  /** ucspi-tcp-ipv6's TCP6*IP text, made when first asked for. */
  v6?: string
  /** `text` and `v6` as environment values, made when first asked for. */
  textBytes?: Buffer
  v6Bytes?: Buffer
}

/** Addresses seen lately: clients connect again and again from a few addresses. */
const known = new Map<string, KnownAddress>()
const KNOWN_MAX = 1024

function knownAddress(address: string): KnownAddress {
  let k = known.get(address)
  if (k) return k
  const addr = ipaddr.process(stripZone(address))
  const ipv4 = addr.kind() === 'ipv4'
  k = {
    text: ipv4 ? addr.toString() : ip6Text(addr as ipaddr.IPv6),
    ipv4,
    loopback: addr.range() === 'loopback',
  }
  if (known.size >= KNOWN_MAX) known.clear()
  known.set(address, k)
  return k
}

/**
 * An address in the text tcpserver uses: IPv4 dotted quad for IPv4 and IPv4-mapped IPv6
 * peers (normalised once, at accept), ucspi-tcp-ipv6's `ip6_fmt` form for the rest.
 */
export function addressText(address: string): string {
  return knownAddress(address).text
}

/** True when the peer is IPv4 or IPv4-mapped IPv6. */
export function isIpv4(address: string): boolean {
  return knownAddress(address).ipv4
}

/** True for 127.0.0.0/8 and ::1 (IPv4-mapped loopback included). */
export function isLoopback(address: string): boolean {
  return knownAddress(address).loopback
}

/**
 * ucspi-tcp-ipv6's `ip6_fmt` text of an IPv6 address (the form rules keys are written in);
 * IPv4-mapped addresses as `::ffff:a.b.c.d`.
 */
export function ip6Text(address: string | ipaddr.IPv6): string {
  const addr = typeof address === 'string' ? ipaddr.IPv6.parse(stripZone(address)) : address
  if (addr.isIPv4MappedAddress()) return `::ffff:${addr.toIPv4Address().toString()}`
  return formatIp6(addr.parts)
}

/**
 * Environment values shared by every connection that has them (PROTO, the addresses, the local
 * port): the environment is read, never written to, so a connection need not have its own copy.
 */
const PROTO_BYTES = { TCP: Buffer.from('TCP'), TCP6: Buffer.from('TCP6') }
const portBytes = new Map<number, Buffer>()

function localPortBytes(port: number): Buffer {
  let b = portBytes.get(port)
  if (b) return b
  b = Buffer.from(String(port), 'latin1')
  if (portBytes.size >= KNOWN_MAX) portBytes.clear()
  portBytes.set(port, b)
  return b
}

function stripZone(address: string): string {
  const percent = address.indexOf('%')
  return percent < 0 ? address : address.slice(0, percent)
}

/**
 * The environment tcpserver sets before the rule's variables, in its order:
 * PROTO, TCPLOCALIP, TCPLOCALPORT, TCPLOCALHOST, TCPREMOTEIP, TCPREMOTEPORT, TCPREMOTEHOST,
 * TCPREMOTEINFO. The ucspi-tcp-ipv6 dialect puts each TCP6* twin right after its TCP* variable
 * (for IPv4 peers too, as `::ffff:a.b.c.d`), and PROTO is TCP6 for a native IPv6 peer.
 */
export function connectionEnv(facts: EndpointFacts, dialect: Dialect): ConnectionEnv {
  const remote = knownAddress(facts.remoteAddress)
  const local = knownAddress(facts.localAddress)
  const v6 = dialect === 'ipv6'
  const proto = v6 && !remote.ipv4 ? 'TCP6' : 'TCP'
  const env: Array<[string, Buffer]> = [['PROTO', PROTO_BYTES[proto]]]
  const put = (name: number, value: Buffer, v6Value: Buffer): void => {
    env.push([TCP_NAMES[name]!, value])
    if (v6) env.push([TCP6_NAMES[name]!, v6Value])
  }
  const localPort = localPortBytes(facts.localPort)
  const remotePort = Buffer.from(String(facts.remotePort), 'latin1')
  put(LOCALIP, addressBytes(local), v6 ? v6AddressBytes(local) : EMPTY)
  put(LOCALPORT, localPort, localPort)
  if (facts.localHost !== null && facts.localHost !== undefined) {
    const host = Buffer.from(facts.localHost, 'latin1')
    put(LOCALHOST, host, host)
  }
  put(REMOTEIP, addressBytes(remote), v6 ? v6AddressBytes(remote) : EMPTY)
  put(REMOTEPORT, remotePort, remotePort)
  if (facts.remoteHost !== null && facts.remoteHost !== undefined) {
    const host = Buffer.from(facts.remoteHost, 'latin1')
    put(REMOTEHOST, host, host)
  }
  if (facts.remoteInfo !== null && facts.remoteInfo !== undefined) {
    const info = Buffer.from(facts.remoteInfo, 'latin1')
    put(REMOTEINFO, info, info)
  }
  return { proto, remoteIp: remote.text, localIp: local.text, env }
}

const [LOCALIP, LOCALPORT, LOCALHOST, REMOTEIP, REMOTEPORT, REMOTEHOST, REMOTEINFO] = [0, 1, 2, 3, 4, 5, 6]
const SUFFIXES = ['LOCALIP', 'LOCALPORT', 'LOCALHOST', 'REMOTEIP', 'REMOTEPORT', 'REMOTEHOST', 'REMOTEINFO']
const TCP_NAMES = SUFFIXES.map(s => `TCP${s}`)
const TCP6_NAMES = SUFFIXES.map(s => `TCP6${s}`)
const EMPTY = Buffer.alloc(0)

const addressBytes = (k: KnownAddress): Buffer => (k.textBytes ??= Buffer.from(k.text, 'latin1'))
/** The IPv6 text of any address: IPv4 becomes `::ffff:a.b.c.d`, as ucspi-tcp-ipv6 sets TCP6*IP. */
const v6AddressBytes = (k: KnownAddress): Buffer =>
  (k.v6Bytes ??= Buffer.from((k.v6 ??= k.ipv4 ? `::ffff:${k.text}` : k.text), 'latin1'))

/**
 * Applies a rule's variables in order, as tcpserver does before it runs the program: a
 * variable already set is replaced (it moves to the end), so a later duplicate wins.
 */
export function applyRuleEnv(
  base: Array<[string, Buffer]>,
  ruleEnv: Array<[string, Buffer]>,
): Array<[string, Buffer]> {
  if (ruleEnv.length === 0) return base.slice()
  const env = [...base]
  for (const [name, value] of ruleEnv) {
    const at = env.findIndex(([n]) => n === name)
    if (at >= 0) env.splice(at, 1)
    env.push([name, value])
  }
  return env
}

/** Variables qmqpd --stdio records from its own environment (set by tcpserver and its rules). */
export const STDIO_RECORDED =
  /^(PROTO|TCP6?(LOCALIP|LOCALPORT|LOCALHOST|REMOTEIP|REMOTEPORT|REMOTEHOST|REMOTEINFO|INTERFACE)|RELAYCLIENT|GREENARROW_[A-Z0-9_]*)$/

import ipaddr from 'ipaddr.js'

/**
 * An IPv6 address as ucspi-tcp-ipv6's tcpserver writes it (its ip6_fmt): lowercase hex without
 * leading zeros, and the longest run of zero groups, even a single group, written `::` (the
 * first such run on a tie). `2001:db8:0:1:1:1:1:1` gives `2001:db8::1:1:1:1:1`, where RFC 5952
 * would keep the lone `0`.
 */
export function formatIp6(parts: readonly number[]): string {
  let bestStart = -1
  let bestLength = 0
  for (let i = 0; i < 8;) {
    if (parts[i] !== 0) {
      i++
      continue
    }
    let j = i
    while (j < 8 && parts[j] === 0) j++
    if (j - i > bestLength) {
      bestStart = i
      bestLength = j - i
    }
    i = j
  }
  const hex = (xs: readonly number[]) => xs.map(n => n.toString(16)).join(':')
  if (bestStart < 0) return hex(parts)
  return `${hex(parts.slice(0, bestStart))}::${hex(parts.slice(bestStart + bestLength))}`
}

/**
 * The TCPREMOTEIP text tcpserver would use for a peer address as a socket reports it: an
 * IPv4-mapped IPv6 address becomes the IPv4 address (ucspi-tcp-ipv6's tcpserver does this), any
 * other IPv6 address is written as ip6_fmt writes it, and anything else is kept as given.
 */
export function remoteIpText(ip: string): string {
  if (!ip.includes(':')) return ip
  let addr: ipaddr.IPv6
  try {
    addr = ipaddr.IPv6.parse(ip)
  } catch {
    return ip
  }
  if (addr.isIPv4MappedAddress()) return addr.toIPv4Address().toString()
  return formatIp6(addr.parts)
}

import { readFileSync } from 'node:fs'
import { isIPv4, isIPv6 } from 'node:net'
import { join } from 'node:path'
import { ClientConfigError } from './errors.js'

/** The QMQP port, fixed in qmail-qmqpc and the default everywhere else. */
export const QMQP_PORT = 628

/** One server from `control/qmqpservers`. */
export interface QmqpServer {
  host: string
  port: number
}

/**
 * Reads `HOME/control/qmqpservers`. A missing or unreadable file, or one without a usable
 * line, is ClientConfigError (qmail-qmqpc's exit 55, "qq unable to read configuration").
 */
export function readQmqpServers(home: string): QmqpServer[] {
  const path = join(home, 'control', 'qmqpservers')
  let data: Buffer | undefined
  try {
    data = readControlFile(path)
  } catch (err) {
    throw new ClientConfigError(`unable to read ${path}`, { cause: err })
  }
  if (data === undefined) throw new ClientConfigError(`${path} does not exist`)
  const servers = parseQmqpServers(data)
  if (servers.length === 0) throw new ClientConfigError(`no usable server in ${path}`)
  return servers
}

/**
 * The servers of a `qmqpservers` file, in order. Blank lines and lines starting with `#` are
 * skipped, trailing blanks stripped, and lines that name no server are skipped silently, as
 * qmail-qmqpc does.
 */
export function parseQmqpServers(data: Buffer | string): QmqpServer[] {
  const text = Buffer.isBuffer(data) ? data.toString('latin1') : data
  const servers: QmqpServer[] = []
  for (const raw of text.split('\n')) {
    const server = parseServerLine(raw.replace(/[ \t\r]+$/, ''))
    if (server !== undefined) servers.push(server)
  }
  return servers
}

/**
 * One `qmqpservers` line. What qmail-qmqpc reads correctly means the same here: a line that
 * starts with a dotted quad is that address on port 628, whatever follows it (qmail ignores
 * the rest). Lines qmail could not use are accepted as well: `a.b.c.d:port`, `[v6]`,
 * `[v6]:port`, a bare IPv6 address, `name` and `name:port`.
 */
export function parseServerLine(line: string): QmqpServer | undefined {
  if (line === '' || line.startsWith('#')) return undefined
  const quad = /^(\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3})(.*)$/.exec(line)
  if (quad && isIPv4(quad[1]!)) {
    const port = /^:(\d{1,5})$/.exec(quad[2]!)
    const withGivenPort = port && withPort(quad[1]!, port[1]!)
    if (withGivenPort) return withGivenPort
    // qmail-qmqpc stops at the address and connects to port 628, so "1.2.3.4:abc" or
    // "1.2.3.4 # office" mean 1.2.3.4, and so does a trailing word it cannot parse.
    return { host: quad[1]!, port: QMQP_PORT }
  }
  const bracket = /^\[([0-9A-Fa-f:.]+)\](?::(\d{1,5}))?$/.exec(line)
  if (bracket) {
    if (!isIPv6(bracket[1]!)) return undefined
    return bracket[2] === undefined
      ? { host: bracket[1]!, port: QMQP_PORT }
      : withPort(bracket[1]!, bracket[2])
  }
  if (mayBeIPv6(line) && isIPv6(line)) return { host: line, port: QMQP_PORT }
  const named =
    /^([A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*\.?)(?::(\d{1,5}))?$/.exec(
      line,
    )
  // A name whose last label is numeric is no host name (`999.0.0.1`, `1.2.3`).
  if (!named || /(^|\.)\d+\.?$/.test(named[1]!)) return undefined
  return named[2] === undefined ? { host: named[1]!, port: QMQP_PORT } : withPort(named[1]!, named[2])
}

/** `host:port`, with brackets around an IPv6 address. */
export function formatServer(server: QmqpServer): string {
  return mayBeIPv6(server.host) && isIPv6(server.host)
    ? `[${server.host}]:${server.port}`
    : `${server.host}:${server.port}`
}

/**
 * Every IPv6 address has a colon. Node's isIPv6() compiles a large regular expression on first
 * use (milliseconds, on every start of a one-shot command), so it is asked only when needed.
 */
function mayBeIPv6(s: string): boolean {
  return s.includes(':')
}

function withPort(host: string, port: string): QmqpServer | undefined {
  const n = Number(port)
  return n >= 1 && n <= 65535 ? { host, port: n } : undefined
}

function readControlFile(path: string): Buffer | undefined {
  try {
    return readFileSync(path)
  } catch (err) {
    if ((err as { code?: unknown }).code === 'ENOENT') return undefined
    throw err
  }
}

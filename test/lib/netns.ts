import { execFileSync, spawn } from 'node:child_process'

/**
 * Test hosts in a network namespace the test creates itself: a veth pair whose host end has
 * `hostIp4`/`hostIp6` and whose namespace end has every address of `clientIps4`/`clientIps6`.
 * A server listening on the host end sees connections from those (non-loopback) addresses.
 * `remove()` deletes the namespace and the pair; call it from t.teardown.
 */
export interface TestNetwork {
  name: string
  hostIp4: string
  hostIp6: string
  clientIps4: string[]
  clientIps6: string[]
  /** Runs `node -e script args…` inside the namespace; resolves with its stdout. */
  runNode(script: string, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }>
  remove(): void
}

let counter = 0

/** Why network namespaces cannot be used here, or null when they can (root and iproute2). */
export function netnsUnavailable(): string | null {
  if (process.getuid?.() !== 0) return 'network namespaces need root'
  try {
    execFileSync('ip', ['-V'], { stdio: 'ignore' })
  } catch {
    return 'iproute2 (ip) not installed'
  }
  return null
}

const ip = (...args: string[]) => execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] })

/** Creates the namespace, the veth pair and the addresses (IPv6 without duplicate detection, so usable at once). */
export function createTestNetwork(clients = 3): TestNetwork {
  const n = (process.pid % 200) + 20 + counter++
  const tag = `${process.pid % 100000}x${counter}`
  const name = `qk${tag}`
  const hostIf = `qh${tag}`.slice(0, 15)
  const nsIf = `qn${tag}`.slice(0, 15)
  const subnet4 = `10.${n % 250}.${(process.pid >> 8) % 250}`
  const subnet6 = `fd00:${(process.pid % 0xffff).toString(16)}:${counter.toString(16)}`
  const net: TestNetwork = {
    name,
    hostIp4: `${subnet4}.1`,
    hostIp6: `${subnet6}::1`,
    clientIps4: Array.from({ length: clients }, (_, i) => `${subnet4}.${i + 2}`),
    clientIps6: Array.from({ length: clients }, (_, i) => `${subnet6}::${(i + 2).toString(16)}`),
    runNode: (script, args) =>
      new Promise((resolve, reject) => {
        const child = spawn('ip', ['netns', 'exec', name, process.execPath, '-e', script, ...args])
        let stdout = ''
        let stderr = ''
        child.stdout.on('data', d => (stdout += d))
        child.stderr.on('data', d => (stderr += d))
        child.on('error', reject)
        child.on('close', code => resolve({ code, stdout, stderr }))
      }),
    remove: () => {
      try {
        ip('link', 'del', hostIf)
      } catch {
        // already gone with the namespace
      }
      try {
        ip('netns', 'del', name)
      } catch {
        // already removed
      }
    },
  }
  try {
    ip('netns', 'add', name)
    ip('link', 'add', hostIf, 'type', 'veth', 'peer', 'name', nsIf)
    ip('link', 'set', nsIf, 'netns', name)
    ip('addr', 'add', `${net.hostIp4}/24`, 'dev', hostIf)
    ip('-6', 'addr', 'add', `${net.hostIp6}/64`, 'dev', hostIf, 'nodad')
    ip('link', 'set', hostIf, 'up')
    const inNs = (...args: string[]) => ip('netns', 'exec', name, 'ip', ...args)
    inNs('link', 'set', 'lo', 'up')
    for (const a of net.clientIps4) inNs('addr', 'add', `${a}/24`, 'dev', nsIf)
    for (const a of net.clientIps6) inNs('-6', 'addr', 'add', `${a}/64`, 'dev', nsIf, 'nodad')
    inNs('link', 'set', nsIf, 'up')
  } catch (err) {
    net.remove()
    throw err
  }
  return net
}

/**
 * A script for `runNode`: connects from argv[1] (source address) to argv[2]:argv[3], writes the
 * base64 request argv[4], half-closes, and prints JSON `{ reply: base64 | null, error }`.
 */
export const SEND_RAW_SCRIPT = `
const net = require('node:net')
const [localAddress, host, port, request] = process.argv.slice(1)
const s = net.connect({ host, port: Number(port), localAddress, allowHalfOpen: true })
const chunks = []
let error = null
s.on('connect', () => s.end(Buffer.from(request, 'base64')))
s.on('data', d => chunks.push(d))
s.on('error', e => (error = e.code || String(e)))
s.on('close', () => {
  const reply = Buffer.concat(chunks)
  console.log(JSON.stringify({ reply: chunks.length ? reply.toString('base64') : null, error }))
})
`

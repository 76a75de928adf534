import { execFileSync, spawnSync } from 'node:child_process'
import { existsSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import t from 'tap'
import {
  envText,
  rawExchange,
  replyText,
  request,
  startDaemon,
  waitFor,
} from '../packages/server/test/lib/harness.js'
import { createTestNetwork, netnsUnavailable, SEND_RAW_SCRIPT } from './lib/netns.js'

// qmqpd's access decision and connection environment against the real ucspi-tcp: rules are
// compiled by Debian's tcprules, the expected outcome for each address is what Debian's
// tcprulescheck says, and connections come from several real source addresses.

const onPath = (cmd: string) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0
const ipv6Dir = process.env['UCSPI_TCP_IPV6_DIR'] ?? '/opt/ucspi-tcp-ipv6/usr/bin'
const missingTools = !onPath('tcprules') || !onPath('tcprulescheck')
if (missingTools && process.env['CI'])
  throw new Error('tcprules/tcprulescheck not found: CI must install ucspi-tcp')
const netnsProblem = netnsUnavailable()
if (netnsProblem && process.env['CI']) throw new Error(`network namespaces needed in CI: ${netnsProblem}`)
const missingV6 = !existsSync(path.join(ipv6Dir, 'tcprules'))
if (missingV6 && process.env['CI']) throw new Error(`ucspi-tcp-ipv6 not unpacked in ${ipv6Dir}`)

const seed = Number(process.env['QMQPKIT_SEED'] ?? 20261204)

/** A small seeded generator (mulberry32): CI repeats, QMQPKIT_SEED explores. */
function random(s: number) {
  return () => {
    s = (s + 0x6d2b79f5) | 0
    let x = Math.imul(s ^ (s >>> 15), 1 | s)
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296
  }
}

/** Rules for 127.0.0.2-9 (and the rest of 127.0.0.): exact, ranges, prefixes, variables, duplicates. */
function generateRules(rnd: () => number, round: number): string {
  const pick = <T>(xs: T[]) => xs[Math.floor(rnd() * xs.length)]!
  const lines: string[] = [`# generated, seed ${seed} round ${round}`]
  const vars = () => {
    const n = Math.floor(rnd() * 3)
    let s = ''
    for (let i = 0; i < n; i++)
      s += `,${pick(['RELAYCLIENT', 'GREENARROW_SIMPLEMH', 'WHO', 'TCPLOCALHOST', 'X'])}="${pick(['', 'a', 'r' + round, 'two words', 'x=y:z'])}"`
    return s
  }
  for (let i = 0; i < 8; i++) {
    const a = 2 + Math.floor(rnd() * 8)
    const form = rnd()
    const addr =
      form < 0.6 ? `127.0.0.${a}` : form < 0.85 ? `127.0.0.${a}-${a + Math.floor(rnd() * 3)}` : '127.0.0.'
    lines.push(`${addr}:${rnd() < 0.3 ? 'deny' : 'allow'}${vars()}`)
  }
  if (rnd() < 0.5) lines.push(rnd() < 0.5 ? ':deny' : `:allow,WHO="catch-all"`)
  return lines.join('\n') + '\n'
}

interface Expected {
  allow: boolean
  key: string | null
  vars: Array<[string, string]>
}

/** What tcprulescheck says for this address (binary path given), parsed. */
function check(bin: string, cdb: string, ip: string): Expected {
  const out = execFileSync(bin, [cdb], { env: { TCPREMOTEIP: ip } }).toString('latin1')
  const key = /^rule (.*):$/m.exec(out)?.[1] ?? null
  const vars = [...out.matchAll(/^set environment variable ([^=\n]*)=(.*)$/gm)].map(
    m => [m[1]!, m[2]!] as [string, string],
  )
  return { allow: /allow connection/.test(out), key, vars }
}

/** tcpserver applies a rule's variables in order, the last of a name winning. */
function applyVars(base: Array<[string, string]>, vars: Array<[string, string]>): Array<[string, string]> {
  const env = [...base]
  for (const [n, v] of vars) {
    const at = env.findIndex(([x]) => x === n)
    if (at >= 0) env.splice(at, 1)
    env.push([n, v])
  }
  return env
}

t.test(
  'generated rules over loopback aliases: allow, deny, environment; a replaced CDB applies to the next connection',
  { skip: missingTools && 'install Debian ucspi-tcp' },
  async t => {
    const dir = t.testdir()
    const cdb = path.join(dir, 'qmqp.tcp.cdb')
    const compile = (text: string) => execFileSync('tcprules', [cdb, `${cdb}.tmp`], { input: text })
    const rnd = random(seed)
    compile(generateRules(rnd, 0))
    const { memory, port, lines } = await startDaemon(t, ['--rules', cdb])
    for (let round = 0; round < 4; round++) {
      if (round > 0) compile(generateRules(rnd, round)) // tcprules writes tmp and renames over the old CDB
      const rulesText = execFileSync('cdb', ['-d', cdb]).toString('latin1')
      for (let a = 2; a <= 9; a++) {
        const ip = `127.0.0.${a}`
        const label = `seed ${seed} round ${round} ${ip}\n${rulesText}`
        const want = check('tcprulescheck', cdb, ip)
        const before = await memory.count()
        const r = await rawExchange(
          port,
          request(`Subject: ${round} ${a}\n\nx\n`, 'from@example.com', ['to@example.com']),
          { localAddress: ip },
        )
        if (!want.allow) {
          t.equal(r.reply, null, `denied, closed without a byte: ${label}`)
          t.equal(await memory.count(), before, 'nothing stored')
          continue
        }
        t.match(replyText(r), /^Kok \d+ qp \d+$/, label)
        const m = (await memory.list({ order: 'desc', limit: 1 })).messages[0]!
        t.equal(m.connection.ruleKey, want.key, `rule key: ${label}`)
        t.equal(m.connection.decision, want.key === null ? 'none' : 'allow')
        const base: Array<[string, string]> = [
          ['PROTO', 'TCP'],
          ['TCPLOCALIP', '127.0.0.1'],
          ['TCPLOCALPORT', String(port)],
          ['TCPREMOTEIP', ip],
          ['TCPREMOTEPORT', String(m.connection.remotePort)],
        ]
        t.same(envText(m.connection.env), applyVars(base, want.vars), `environment: ${label}`)
      }
    }
    const denies = await waitFor(() =>
      lines.filter(l => l['event'] === 'connection' && l['verdict'] === 'deny'),
    )
    t.ok(denies.length > 0, 'denied connections are logged')
  },
)

t.test(
  'rules source: recompiled on change; a broken version keeps the previous rules and names its line',
  async t => {
    const dir = t.testdir({ 'qmqp.tcp': '127.0.0.2:allow,V="one"\n127.0.0.3:deny\n' })
    const file = path.join(dir, 'qmqp.tcp')
    const { memory, port, lines } = await startDaemon(t, ['--rules-source', file])
    const go = (ip: string) =>
      rawExchange(port, request('x', 'a@example.com', ['b@example.com']), { localAddress: ip })
    t.match(replyText(await go('127.0.0.2')), /^K/)
    t.equal((await go('127.0.0.3')).reply, null)
    writeFileSync(file, '127.0.0.2:deny\n127.0.0.3:allow,V="two"\n')
    t.equal((await go('127.0.0.2')).reply, null, 'new rules in force at the next connection')
    t.match(replyText(await go('127.0.0.3')), /^K/)
    writeFileSync(file, '127.0.0.2:allow\n127.0.0.3:allow,V=unquoted\n')
    t.equal((await go('127.0.0.2')).reply, null, 'the broken version is not used')
    const error = lines.find(l => l['event'] === 'rules-error')
    t.match(error, { line: 2, path: file })
    const envs = (await memory.list()).messages.map(m => envText(m.connection.env).at(-1))
    t.same(envs, [
      ['V', 'one'],
      ['V', 'two'],
    ])
  },
)

t.test(
  'test hosts in a network namespace: IPv4 and IPv6 peers, both rule dialects',
  { skip: netnsProblem ?? (missingV6 && 'unpack ucspi-tcp-ipv6') ?? false },
  async t => {
    const net = createTestNetwork(3)
    t.teardown(() => net.remove())
    const v6 = (bin: string) => path.join(ipv6Dir, bin)
    const [c4a, c4b, c4c] = net.clientIps4 as [string, string, string]
    const [c6a, c6b, c6c] = net.clientIps6 as [string, string, string]
    const prefix4 = c4a.slice(0, c4a.lastIndexOf('.') + 1)
    const prefix6 = net.hostIp6.replace(/::1$/, '::')
    const send = async (from: string, host: string, port: number) => {
      const req = request('Subject: ns\n\nx\n', 'a@example.com', ['b@example.com']).toString('base64')
      const out = await net.runNode(SEND_RAW_SCRIPT, [from, host, String(port), req])
      const parsed = JSON.parse(out.stdout) as { reply: string | null; error: string | null }
      return parsed.reply === null
        ? null
        : replyText({ reply: Buffer.from(parsed.reply, 'base64'), error: null })
    }

    t.test('no rules: a non-loopback peer is refused', async t => {
      const { memory, port } = await startDaemon(t, ['--listen', `${net.hostIp4}:0`])
      t.equal(await send(c4a, net.hostIp4, port), null)
      t.equal(await memory.count(), 0)
    })

    t.test('ucspi-tcp-ipv6 dialect: PROTO=TCP6 and TCP6* for IPv6 peers, textual prefixes', async t => {
      const dir = t.testdir()
      const cdb = path.join(dir, 'qmqp.tcp.cdb')
      const rules = [
        `${c6a}:allow,WHO="v6 exact"`,
        `${c6b}:deny`,
        `${prefix6}:allow,WHO="v6 prefix"`,
        `${c4a}:allow,WHO="v4"`,
        `${prefix4}:deny`,
        '',
      ].join('\n')
      execFileSync(v6('tcprules'), [cdb, `${cdb}.tmp`], { input: rules })
      const { memory, port, bound } = await startDaemon(t, [
        '--listen',
        `[${net.hostIp6}]:0`,
        '--rules',
        cdb,
        '--rules-ipv6',
      ])
      t.equal(bound[0]!.host, net.hostIp6)
      const port4 = (await startDaemon(t, ['--listen', `${net.hostIp4}:0`, '--rules', cdb, '--rules-ipv6']))
        .port
      for (const ip of [c6a, c6b, c6c]) {
        const want = check(v6('tcprulescheck'), cdb, ip)
        const reply = await send(ip, net.hostIp6, port)
        if (!want.allow) {
          t.equal(reply, null, `${ip} denied`)
          continue
        }
        t.match(reply, /^Kok /, `${ip} allowed`)
        const m = (await memory.list({ order: 'desc', limit: 1 })).messages[0]!
        t.equal(m.connection.proto, 'TCP6')
        t.equal(m.connection.ruleKey, want.key)
        const rp = String(m.connection.remotePort)
        t.same(
          envText(m.connection.env),
          applyVars(
            [
              ['PROTO', 'TCP6'],
              ['TCPLOCALIP', net.hostIp6],
              ['TCP6LOCALIP', net.hostIp6],
              ['TCPLOCALPORT', String(port)],
              ['TCP6LOCALPORT', String(port)],
              ['TCPREMOTEIP', ip],
              ['TCP6REMOTEIP', ip],
              ['TCPREMOTEPORT', rp],
              ['TCP6REMOTEPORT', rp],
            ],
            want.vars,
          ),
          ip,
        )
      }
      for (const ip of [c4a, c4b]) {
        const want = check(v6('tcprulescheck'), cdb, ip)
        const reply = await send(ip, net.hostIp4, port4)
        t.equal(
          reply !== null,
          want.allow,
          `${ip}: ${want.allow ? 'allowed' : 'denied'} as tcprulescheck says`,
        )
      }
    })

    t.test('IPv4 dialect: non-loopback IPv4 peers by exact key and prefix', async t => {
      const dir = t.testdir({ 'qmqp.tcp': `${c4b}:allow,WHO="b"\n${prefix4}:allow,WHO="net"\n${c4c}:deny\n` })
      const { memory, port } = await startDaemon(t, [
        '--listen',
        `${net.hostIp4}:0`,
        '--rules-source',
        path.join(dir, 'qmqp.tcp'),
      ])
      t.match(await send(c4b, net.hostIp4, port), /^K/)
      t.match(await send(c4a, net.hostIp4, port), /^K/)
      t.equal(await send(c4c, net.hostIp4, port), null)
      const stored = (await memory.list()).messages
      t.same(
        stored.map(m => [m.connection.remoteIp, m.connection.ruleKey, envText(m.connection.env).at(-1)]),
        [
          [c4b, c4b, ['WHO', 'b']],
          [c4a, prefix4, ['WHO', 'net']],
        ],
      )
      t.same(envText(stored[0]!.connection.env).slice(0, 2), [
        ['PROTO', 'TCP'],
        ['TCPLOCALIP', net.hostIp4],
      ])
    })
  },
)

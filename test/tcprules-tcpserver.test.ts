/**
 * Debian's tcpserver itself runs with a database our tcprules wrote; for each loopback source
 * address our matcher predicts whether tcpserver lets the connection through and which rule
 * variables the program sees. A rename of a new database is seen by both at the next connection.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { renameSync, writeFileSync } from 'node:fs'
import net from 'node:net'
import { join } from 'node:path'
import t from 'tap'
import { compileRulesToBuffer, RulesSource, type MatchResult } from '../packages/tcprules/src/index.js'
import { missingTools, reference, scratchDir } from './lib/tcprules-tools.js'

const BASE = new Set([
  'PATH',
  'PROTO',
  'TCPLOCALIP',
  'TCPLOCALPORT',
  'TCPLOCALHOST',
  'TCPREMOTEIP',
  'TCPREMOTEPORT',
])

async function startTcpserver(cdb: string): Promise<{ port: number; child: ChildProcess }> {
  // -1 prints the bound port; -H, -R: no DNS and no ident, so only the IP decides; -l 0: no local name lookup.
  // env -i: the test runner adds its own variables to every child it sees spawned.
  const args = [
    '-i',
    'PATH=/usr/bin:/bin',
    reference.tcpserver!,
    '-1',
    '-H',
    '-R',
    '-l',
    '0',
    '-x',
    cdb,
    '127.0.0.1',
    '0',
    'printenv',
  ]
  const child = spawn('/usr/bin/env', args, {
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  let text = ''
  for await (const chunk of child.stdout!) {
    text += chunk
    if (text.includes('\n')) break
  }
  return { port: Number(text.trim()), child }
}

/** Connects from `localAddress`; resolves with every byte the server sent before closing. */
async function connectFrom(localAddress: string, port: number): Promise<Buffer> {
  const socket = net.connect({ host: '127.0.0.1', port, localAddress })
  const chunks: Buffer[] = []
  socket.on('data', c => chunks.push(c))
  await once(socket, 'close')
  return Buffer.concat(chunks)
}

function compare(source: string, got: Buffer, predicted: MatchResult): string[] {
  const problems: string[] = []
  const where = `${source} (predicted ${predicted.decision} ${predicted.key?.toString('latin1') ?? '-'})`
  if (predicted.decision === 'deny') {
    if (got.length !== 0) problems.push(`${where}: tcpserver ran the program`)
    return problems
  }
  if (got.length === 0) return [`${where}: tcpserver refused`]
  const seen = new Map<string, string>()
  for (const line of got.toString('latin1').split('\n').filter(Boolean))
    seen.set(line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1))
  const rule = new Map(predicted.env.map(([k, v]) => [k, v.toString('latin1')]))
  for (const [k, v] of rule)
    if (seen.get(k) !== v) problems.push(`${where}: ${k}=${seen.get(k)} instead of ${v}`)
  for (const k of seen.keys()) if (!BASE.has(k) && !rule.has(k)) problems.push(`${where}: unexpected ${k}`)
  if (seen.get('TCPREMOTEIP') !== source) problems.push(`${where}: TCPREMOTEIP ${seen.get('TCPREMOTEIP')}`)
  return problems
}

t.test(
  'tcpserver -x with our database does what our matcher predicts',
  { skip: missingTools('tcpserver') ?? false },
  async t => {
    const dir = scratchDir(t)
    const cdb = join(dir, 'qmqp.tcp.cdb')
    const install = (text: string) => {
      writeFileSync(join(dir, 'qmqp.tcp.cdb.tmp'), compileRulesToBuffer(text))
      renameSync(join(dir, 'qmqp.tcp.cdb.tmp'), cdb)
    }
    install(
      [
        '127.0.0.2:allow,RELAYCLIENT="",GREENARROW_SIMPLEMH=""',
        '127.0.0.3:deny',
        '127.0.0.4-5:allow,X="1",X="2",SPACE="a b  c"',
        '127.0.0.6:allow,TCPLOCALHOST="movie.edu",GREENARROW_MAILCLASS="transactional"',
        '127.0.0.7:deny,IGNORED="deny stops here"',
        '127.0.0.8:allow,FIRST="yes"',
        '127.0.0.8:deny',
        '127.0.1.:deny',
        '127.0.2.:allow,NET=|127.0.2/24|',
        '',
      ].join('\n'),
    )
    const { port, child } = await startTcpserver(cdb)
    t.teardown(() => child.kill())
    t.ok(port > 0, `tcpserver listens on ${port}`)
    const rules = new RulesSource({ cdbPath: cdb })
    const sources = [
      '127.0.0.2',
      '127.0.0.3',
      '127.0.0.4',
      '127.0.0.5',
      '127.0.0.6',
      '127.0.0.7',
      '127.0.0.8',
      '127.0.0.9',
      '127.0.1.1',
      '127.0.2.9',
    ]
    const problems: string[] = []
    const decisions: string[] = []
    for (const source of sources) {
      const predicted = rules.match({ ip: source })
      decisions.push(predicted.decision)
      problems.push(...compare(source, await connectFrom(source, port), predicted))
    }
    t.same(problems, [], 'first database')
    t.same(decisions, ['allow', 'deny', 'allow', 'allow', 'allow', 'deny', 'allow', 'none', 'deny', 'allow'])

    // tcprules-style replacement: the next connection of both sees the new rules.
    install('127.0.0.3:allow,NOW="allowed"\n:deny\n')
    const after: string[] = []
    for (const source of ['127.0.0.2', '127.0.0.3']) {
      const predicted = rules.match({ ip: source })
      after.push(predicted.decision)
      problems.push(...compare(source, await connectFrom(source, port), predicted))
    }
    t.same(problems, [], 'after the rename')
    t.same(after, ['deny', 'allow'])
  },
)

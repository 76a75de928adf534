/**
 * The shared fixtures, made with Debian's tools, reproduced byte for byte: databases, exit
 * codes and stderr (through our commands' main(), in-process), and every tcprulescheck lookup.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { PassThrough, Readable } from 'node:stream'
import t from 'tap'
import { envFromObject } from '@qmqpkit/classic'
import { main as tcprules } from '../packages/tcprules/src/cli/tcprules.js'
import { main as tcprules6 } from '../packages/tcprules/src/cli/tcprules6.js'
import { main as tcprulescheck } from '../packages/tcprules/src/cli/tcprulescheck.js'
import { main as tcprulescheck6 } from '../packages/tcprules/src/cli/tcprulescheck6.js'
import { repoRoot } from './lib/tcprules-tools.js'

const fixtures = join(repoRoot, 'fixtures', 'tcprules')

function io(input: Buffer = Buffer.alloc(0)) {
  const stdout = new PassThrough()
  const stderr = new PassThrough()
  const out: Buffer[] = []
  const err: Buffer[] = []
  stdout.on('data', c => out.push(c))
  stderr.on('data', c => err.push(c))
  return {
    io: { stdin: Readable.from([input]), stdout, stderr },
    out: () => Buffer.concat(out),
    err: () => Buffer.concat(err),
  }
}

/** The .check escaping: \\ \n \r \t and \xHH for bytes outside 0x20-0x7E. */
function escape(buf: Buffer): string {
  let s = ''
  for (const b of buf) {
    if (b === 0x5c) s += '\\\\'
    else if (b === 0x0a) s += '\\n'
    else if (b === 0x0d) s += '\\r'
    else if (b === 0x09) s += '\\t'
    else if (b < 0x20 || b > 0x7e) s += `\\x${b.toString(16).padStart(2, '0')}`
    else s += String.fromCharCode(b)
  }
  return s
}

const cases = readdirSync(fixtures)
  .filter(f => f.endsWith('.rules'))
  .map(f => f.slice(0, -'.rules'.length))

t.test('every fixture', async t => {
  t.ok(cases.length >= 20, `${cases.length} fixtures`)
  for (const name of cases) {
    const v6 = name.startsWith('11-')
    const dir = t.testdir()
    const input = readFileSync(join(fixtures, `${name}.rules`))
    const expected = readFileSync(join(fixtures, `${name}.expected`), 'latin1')
    const run = io(input)
    const status = await (v6 ? tcprules6 : tcprules)(
      [Buffer.from(join(dir, 'r.cdb')), Buffer.from(join(dir, 'r.tmp'))],
      new Map(),
      run.io,
    )
    t.equal(`exit: ${status}\n${run.err().toString('latin1')}`, expected, `${name}: exit and stderr`)
    const cdbFile = join(fixtures, `${name}.cdb`)
    if (existsSync(cdbFile))
      t.same(readFileSync(join(dir, 'r.cdb')), readFileSync(cdbFile), `${name}: database bytes`)
    else t.notOk(existsSync(join(dir, 'r.cdb')), `${name}: no database`)
    const v4File = join(fixtures, `${name}.v4.expected`)
    if (existsSync(v4File)) {
      const r4 = io(input)
      const s4 = await tcprules(
        [Buffer.from(join(dir, 'v4.cdb')), Buffer.from(join(dir, 'v4.tmp'))],
        new Map(),
        r4.io,
      )
      t.equal(
        `exit: ${s4}\n${r4.err().toString('latin1')}`,
        readFileSync(v4File, 'latin1'),
        `${name}: the IPv4 tool refuses it`,
      )
    }
    const checkFile = join(fixtures, `${name}.check`)
    if (!existsSync(checkFile)) continue
    for (const line of readFileSync(checkFile, 'latin1').split('\n').filter(Boolean)) {
      const [lookup, output] = line.split(' -> ') as [string, string]
      const [ip, host, info] = lookup.split(' ')
      const env: Record<string, string> = { TCPREMOTEIP: ip! }
      if (host !== undefined && host !== '-') env.TCPREMOTEHOST = host
      if (info !== undefined) env.TCPREMOTEINFO = info
      const c = io()
      const s = await (v6 ? tcprulescheck6 : tcprulescheck)([Buffer.from(cdbFile)], envFromObject(env), c.io)
      t.same([s, escape(c.out()), c.err().length], [0, output, 0], `${name}: ${lookup}`)
    }
  }
})

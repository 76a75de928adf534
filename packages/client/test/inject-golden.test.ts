// Golden cases for `qmail-inject -n`, one folder each under fixtures/inject/: every example of
// the reference description of qmail-inject plus one case per rule it states. Each folder has
// case.json (arguments, environment, control files, start time, pid, expected exit code and
// envelope), input (stdin), expected (stdout) and, when something is printed there, stderr.
import t, { type Test } from 'tap'
import { mkdirSync, readdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs'
import path from 'node:path'
import { Readable, Writable } from 'node:stream'
import { main } from '../src/cli/qmail-inject.js'
import { parseInjectArgs } from '../src/inject/args.js'
import { readInjectControl } from '../src/inject/control-files.js'
import { prepareMessage } from '../src/inject/prepare.js'

interface Case {
  note?: string
  args: string[]
  env: Record<string, string>
  control: Record<string, string | { dir: true }>
  now: string
  pid: number
  exit: number
  recipients?: string[]
  sender?: string
  mftFile?: string
}

const root = new URL('./fixtures/inject/', import.meta.url).pathname

class Sink extends Writable {
  chunks: Buffer[] = []
  override _write(chunk: Buffer, _enc: string, done: () => void) {
    this.chunks.push(chunk)
    done()
  }
  get bytes() {
    return Buffer.concat(this.chunks)
  }
}

function setUp(t: Test, dir: string, c: Case) {
  const home = t.testdir({ control: {} })
  for (const [name, value] of Object.entries(c.control)) {
    const file = path.join(home, 'control', name)
    if (typeof value === 'string') writeFileSync(file, value)
    else mkdirSync(file)
  }
  const env = new Map(Object.entries(c.env).map(([k, v]) => [k, Buffer.from(v)]))
  if (c.mftFile !== undefined) env.set('QMAILMFTFILE', Buffer.from(path.join(dir, c.mftFile)))
  return { home, env }
}

const cases = readdirSync(root).sort()
t.ok(cases.length >= 90, 'every reference example has a fixture')

for (const name of cases) {
  const dir = path.join(root, name)
  const c = JSON.parse(readFileSync(path.join(dir, 'case.json'), 'utf8')) as Case
  const input = readFileSync(path.join(dir, 'input'))
  const expected = readFileSync(path.join(dir, 'expected'))
  const stderrFile = path.join(dir, 'stderr')
  const expectedErr = existsSync(stderrFile) ? readFileSync(stderrFile) : Buffer.alloc(0)

  t.test(name, async t => {
    const { home, env } = setUp(t, dir, c)
    const stdout = new Sink()
    const stderr = new Sink()
    const argv = ['qmail-inject', ...c.args].map(a => Buffer.from(a))
    const code = await main(argv, env, {
      stdin: Readable.from([input]),
      stdout,
      stderr,
      home,
      now: new Date(c.now),
      pid: c.pid,
      send: async () => {
        throw new Error('a -n case must not send')
      },
    })
    t.equal(code, c.exit, 'exit code')
    t.equal(stdout.bytes.toString('latin1'), expected.toString('latin1'), 'stdout')
    t.equal(stderr.bytes.toString('latin1'), expectedErr.toString('latin1'), 'stderr')
    if (c.exit !== 0 || (c.recipients === undefined && c.sender === undefined)) return
    const parsed = parseInjectArgs(argv.slice(1), 'qmail-inject')
    const prepared = await prepareMessage(input, {
      args: parsed.operands,
      flags: parsed.flags,
      env,
      control: await readInjectControl(home),
      now: new Date(c.now),
      pid: c.pid,
    })
    if (c.recipients !== undefined)
      t.same(prepared.recipients.map(String), c.recipients, 'envelope recipients')
    if (c.sender !== undefined) t.equal(prepared.sender.toString(), c.sender, 'envelope sender')
    t.same(
      Buffer.concat([prepared.returnPath, prepared.message]),
      expected,
      'prepareMessage gives the same bytes',
    )
  })
}
